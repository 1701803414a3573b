"""Who holds an operation: the process identity the journal records as an operation's owner,
and whether that process still runs.

An operation is held by a **lease**: an owner and a time (``lease_until``) its owner renews
with every attempt. Another worker — a process of this machine or of another one sharing the
journal's database — takes the operation over once the lease has run out, whatever became of
its owner. That alone is safe everywhere; the process check below only shortens the wait when
the owner was a process of *this* machine that has ended (a crash, ``kill -9``).

An owner is ``host:pid:token``. The token is what makes the process check safe: the process's
start time and, on Linux, the boot it started in, so a recycled pid is not taken for the one
that held the operation, and a machine that happens to share our host name is never judged
(its owners are left to their lease). The check is portable:

- Linux: ``/proc/<pid>/stat`` (start time) and the kernel's boot id;
- other POSIX systems (macOS, BSD): ``os.kill(pid, 0)``, which only asks (no signal is sent);
  without a start time a recycled pid counts as alive, which only means waiting for the lease;
- Windows: ``OpenProcess`` and ``GetExitCodeProcess`` (kernel32, through ctypes), and the
  process's creation time as the token — never ``os.kill``, which on Windows terminates the
  process whatever the signal.

Where none of these answers, :func:`owner_alive` says ``None`` (unknown) and the lease decides.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Final

__all__ = ["current_owner", "owner_alive"]

_PROC: Final = Path("/proc")


def _boot_id() -> str:
    """A short tag of the running kernel's boot (Linux), so owners of another boot, or of
    another machine with our host name, are never judged; empty elsewhere."""
    try:
        text = (_PROC / "sys/kernel/random/boot_id").read_text("ascii")
    except (OSError, UnicodeDecodeError):
        return ""
    return text.strip().replace("-", "")[:8]


def _linux_start(pid: int) -> str | None:
    """The process start time from ``/proc`` (``None``: no such process, ``""``: unreadable)."""
    try:
        data = (_PROC / str(pid) / "stat").read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    try:
        return data.rsplit(b")", 1)[1].split()[19].decode("ascii")
    except (IndexError, UnicodeDecodeError):
        return ""


def _windows_start(pid: int) -> str | None:  # pragma: no cover - Windows only
    """The process creation time from kernel32 (``None``: no such process or it ended,
    ``""``: exists, not readable)."""
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    query_limited_information, still_active = 0x1000, 259
    handle = kernel32.OpenProcess(query_limited_information, False, pid)
    if not handle:
        access_denied = 5
        return "" if ctypes.get_last_error() == access_denied else None  # type: ignore[attr-defined]
    try:
        code = wintypes.DWORD()
        if kernel32.GetExitCodeProcess(handle, ctypes.byref(code)) and code.value != still_active:
            return None
        times = [wintypes.FILETIME() for _ in range(4)]
        if not kernel32.GetProcessTimes(handle, *(ctypes.byref(t) for t in times)):
            return ""
        return str((times[0].dwHighDateTime << 32) | times[0].dwLowDateTime)
    finally:
        kernel32.CloseHandle(handle)


def _posix_exists(pid: int) -> bool:
    """Whether ``pid`` exists (POSIX: signal 0 only asks; never called on Windows)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def _start_token(pid: int) -> str | None:
    """What identifies this run of process ``pid``: ``None`` when it does not run, ``""``
    when it runs but cannot be told apart from a recycled pid."""
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return _windows_start(pid)
    if sys.platform == "linux" and _PROC.is_dir():
        return _linux_start(pid)
    return "" if _posix_exists(pid) else None


_owner_cache: dict[int, str] = {}


def current_owner() -> str:
    """``host:pid:token`` of this process (recomputed after a fork)."""
    pid = os.getpid()
    owner = _owner_cache.get(pid)
    if owner is None:
        start = _start_token(pid) or ""
        boot = _boot_id()
        token = f"{boot}.{start}" if boot else start
        owner = _owner_cache[pid] = f"{socket.gethostname()}:{pid}:{token}"
    return owner


def owner_alive(owner: str) -> bool | None:
    """Whether the process named by ``owner`` still runs: ``False`` only when it certainly
    ended; ``None`` when it is not a process of this machine's current boot (or this platform
    cannot tell), so the owner's lease decides."""
    try:
        host, pid_text, token = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    boot, _, start = token.rpartition(".")
    if boot and boot != _boot_id():
        return None  # another boot, or another machine with our host name
    # No boot tag: an owner written by 0.3 or by a system without one; judged by its pid and
    # start time alone, as 0.3 did.
    if pid == os.getpid():
        return start == (_start_token(pid) or "") or None
    found = _start_token(pid)
    if found is None:
        return False
    return not start or not found or found == start
