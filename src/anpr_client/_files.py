"""Files that hold personal data or secrets: private to their owner from their creation.

One place for the rule the journal, the inbox, the simulator's PKI and the CLI follow: created
with mode 0600 by ``os.open`` (never world-readable, not even for an instant), then chmod-ed in
case a umask made it stricter or looser, in a directory created 0700. On Windows the mode only
sets the read-only flag; the file's ACL is inherited from its folder (see docs/platforms.md).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["create_private", "write_private_file"]

_PRIVATE = 0o600
_PRIVATE_DIR = 0o700


def _parent(path: Path) -> None:
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=_PRIVATE_DIR, exist_ok=True)


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 when it does not exist (an existing file is left
    as it is)."""
    _parent(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, _PRIVATE)


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (replacing its content) with mode 0600."""
    _parent(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _PRIVATE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, _PRIVATE)
