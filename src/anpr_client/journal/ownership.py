"""Who holds an operation: the process identity the journal records as an operation's owner.

An owner is ``host:pid:start`` (the process start time, so a recycled pid is not taken for the
one that held the operation). A live owner with a running lease is sending the operation now;
another process leaves it alone (two senders of one id would only get EN148 from ANPR).
"""

from __future__ import annotations

import os
import socket

__all__ = ["current_owner", "owner_alive"]


def _start_token(pid: int) -> str:
    """The process start time (Linux ``/proc``), so a recycled pid is not taken for ours."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return ""
    try:
        return data.rsplit(b")", 1)[1].split()[19].decode("ascii")
    except (IndexError, UnicodeDecodeError):
        return ""


_owner_cache: dict[int, str] = {}


def current_owner() -> str:
    """``host:pid:start`` of this process (recomputed after a fork)."""
    pid = os.getpid()
    owner = _owner_cache.get(pid)
    if owner is None:
        owner = _owner_cache[pid] = f"{socket.gethostname()}:{pid}:{_start_token(pid)}"
    return owner


def owner_alive(owner: str) -> bool | None:
    """Whether the process named by ``owner`` still runs; ``None`` if it is on another host."""
    try:
        host, pid_text, token = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    return not token or _start_token(pid) == token


# ----------------------------------------------------------------------------- records
