"""Fixtures of the wire corpus tests: a binding that reads answers (nothing is sent)."""

from __future__ import annotations

import pytest

from anpr_client.settings import ApplicationIdentity, Settings
from anpr_client.soap.binding import Binding


@pytest.fixture(scope="module")
def binding() -> Binding:
    """Reads answers with our bundle; unsigned, no transport used."""
    return Binding(
        Settings(
            codice_istat="058091", application=ApplicationIdentity("GESTIONALE", "1.0", "ACME")
        )
    )
