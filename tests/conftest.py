"""Suite-wide isolation: nothing a test does may touch the user's own files.

Clients built from settings journal to the user's data directory by default; point that
directory (and the rest of XDG) at a temporary one for the whole run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

_HOME = tempfile.mkdtemp(prefix="anpr-client-tests-")
for _var, _sub in (
    ("XDG_DATA_HOME", "data"),
    ("XDG_CACHE_HOME", "cache"),
    ("XDG_STATE_HOME", "state"),
):
    os.environ[_var] = os.path.join(_HOME, _sub)


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_dirs() -> Iterator[None]:
    yield
    shutil.rmtree(_HOME, ignore_errors=True)
