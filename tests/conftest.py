"""Suite-wide isolation: nothing a test does may touch the user's own files.

Clients built from settings journal to the user's data directory by default; point that
directory (and the rest of XDG) at a temporary one for the whole run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

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


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """An ephemeral PostgreSQL cluster for the whole run (:mod:`tests.postgres`): skipped with
    the reason when PostgreSQL is missing, a failure with ``ANPR_REQUIRE_COMPONENTS=1``."""
    from tests.postgres import start_cluster

    cluster = start_cluster()
    if isinstance(cluster, str):
        if os.environ.get("ANPR_REQUIRE_COMPONENTS") == "1":
            pytest.fail(f"required component missing (ANPR_REQUIRE_COMPONENTS=1): {cluster}")
        pytest.skip(cluster)
    try:
        yield cluster
    finally:
        cluster.stop()
