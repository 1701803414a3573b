"""Values opened per key on first use, closed when idle or past a bound (``_leases``)."""

from __future__ import annotations

import threading
import time

from anpr_client._leases import Leases


class Log:
    def __init__(self) -> None:
        self.opened: list[str] = []
        self.closed: list[str] = []
        self.now = 0.0

    def open(self, key: str) -> str:
        time.sleep(0.01)  # long enough for the other threads to arrive
        self.opened.append(key)
        return key

    def close(self, value: str) -> None:
        self.closed.append(value)


def test_a_key_is_opened_once_by_many_threads() -> None:
    log = Log()
    leases = Leases(log.open, log.close, max_open=4)
    got: list[str] = []

    def use() -> None:
        got.append(leases.acquire("a"))
        leases.release("a")

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert got == ["a"] * 8
    assert log.opened == ["a"]
    assert log.closed == []


def test_past_max_open_the_least_recently_used_idle_value_is_closed() -> None:
    log = Log()
    leases = Leases(log.open, log.close, max_open=2, clock=lambda: log.now)
    for key in ("a", "b"):
        leases.acquire(key)
        leases.release(key)
    leases.acquire("a")  # "a" in use, and now the most recently used
    leases.acquire("c")
    assert log.closed == ["b"]
    leases.acquire("d")  # a and c in use: the bound is passed, nothing is closed under them
    assert len(leases) == 3
    leases.release("d")
    assert log.closed == ["b", "d"]
    assert len(leases) == 2


def test_idle_values_are_closed_in_use_ones_are_kept() -> None:
    log = Log()
    leases = Leases(log.open, log.close, max_open=8, clock=lambda: log.now)
    leases.acquire("a")
    leases.release("a")
    leases.acquire("b")
    log.now += 60
    assert leases.release_idle(60) == 1
    assert log.closed == ["a"]
    leases.release("b")  # released now: idle from now on
    assert leases.release_idle(60) == 0
    leases.close()
    assert log.closed == ["a", "b"]
    assert len(leases) == 0
