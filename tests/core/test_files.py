"""Private files (anpr_client._files): 0600 from creation, whatever the umask."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from anpr_client._files import create_private, write_private_file


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_files_are_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        empty = tmp_path / "new" / "journal.sqlite"
        create_private(empty)
        written = tmp_path / "other" / "key.pem"
        write_private_file(written, b"secret")
    finally:
        os.umask(previous)
    assert empty.stat().st_mode & 0o777 == 0o600
    assert empty.parent.stat().st_mode & 0o777 == 0o700 & ~umask
    assert written.read_bytes() == b"secret"
    assert written.stat().st_mode & 0o777 == 0o600


def test_an_existing_file_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"data")
    create_private(path)
    assert path.read_bytes() == b"data"
    write_private_file(path, b"new")
    assert path.read_bytes() == b"new"
