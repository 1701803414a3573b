"""Things opened per key on first use, shared while in use, closed when idle or past a bound.

What a service for many Comuni keeps per Comune (a client with its keys, a notification
receiver with its keys and inbox) is opened when the Comune is first needed, by one thread
while the others wait, handed to every caller until released, and closed when it has been
idle long enough or when more than ``max_open`` are open (the least recently used first).
One in use is never closed under its user. Thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Leases"]

T = TypeVar("T")


@dataclass
class _Held(Generic[T]):
    value: T
    users: int = 0
    last_used: float = 0.0


class Leases(Generic[T]):
    """Values opened with ``open(key)`` and closed with ``close(value)`` (module docstring).

    :param open: opens the value of a key (called outside the lock, once per opening).
    :param close: closes a value that is released (called outside the lock).
    :param max_open: how many may be open at once while not in use.
    :param clock: monotonic seconds (tests).
    """

    def __init__(
        self,
        open: Callable[[str], T],
        close: Callable[[T], None],
        *,
        max_open: int,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._open_value = open
        self._close_value = close
        self.max_open = max_open
        self._clock = clock
        self._lock = threading.Lock()
        self._opening: dict[str, threading.Lock] = {}
        self._held: OrderedDict[str, _Held[T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    def acquire(self, key: str) -> T:
        """The value of ``key``, opened if needed; :meth:`release` it when done."""
        held = self._take(key)
        if held is not None:
            return held.value
        with self._lock:
            opening = self._opening.setdefault(key, threading.Lock())
        with opening:  # one thread opens a key; the others wait for it
            held = self._take(key)
            if held is not None:
                return held.value
            value = self._open_value(key)
            with self._lock:
                self._held[key] = _Held(value, users=1, last_used=self._clock())
        self.trim()
        return value

    def _take(self, key: str) -> _Held[T] | None:
        with self._lock:
            held = self._held.get(key)
            if held is not None:
                held.users += 1
                self._held.move_to_end(key)
            return held

    def release(self, key: str) -> None:
        """One user of ``key`` is done with it; past ``max_open`` the idle ones are closed."""
        with self._lock:
            held = self._held[key]
            held.users -= 1
            held.last_used = self._clock()
        self.trim()

    def trim(self) -> int:
        """Close the least recently used values not in use past ``max_open``; how many."""
        with self._lock:
            excess = len(self._held) - self.max_open
            closing = []
            for key in list(self._held):  # least recently used first
                if excess <= 0:
                    break
                if self._held[key].users == 0:
                    closing.append(self._held.pop(key).value)
                    excess -= 1
        return self._close_all(closing)

    def release_idle(self, idle_timeout: float) -> int:
        """Close the values unused for ``idle_timeout`` seconds (and trim); how many."""
        now = self._clock()
        with self._lock:
            idle = [
                key
                for key, held in self._held.items()
                if held.users == 0 and now - held.last_used >= idle_timeout
            ]
            closing = [self._held.pop(key).value for key in idle]
        return self._close_all(closing) + self.trim()

    def close(self) -> None:
        """Close every value, in use or not."""
        with self._lock:
            closing = [held.value for held in self._held.values()]
            self._held.clear()
        self._close_all(closing)

    def _close_all(self, values: list[T]) -> int:
        for value in values:
            self._close_value(value)
        return len(values)
