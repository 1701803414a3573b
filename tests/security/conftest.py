"""Fixtures of the security tests (helpers live in :mod:`tests.security.support`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from anpr_client.security.trust import TrustStore
from anpr_client.simulator.pki import Pki, PkiFiles
from tests.security.support import shared_pki, trust_for

FILE_PASSWORD = "file-password"


@pytest.fixture(scope="session")
def pki() -> Pki:
    return shared_pki()


@pytest.fixture(scope="session")
def pki_files(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return pki.write(Path(tmp_path_factory.mktemp("pki")), password=FILE_PASSWORD)


@pytest.fixture(scope="session")
def trust(pki: Pki) -> TrustStore:
    return trust_for(pki)
