"""A registry's keys on a token (issue 17 point 2): loaded once per Comune, released when idle.

The Comune key lives on SoftHSM2 (PKCS#11). The registry opens the token's session when the
Comune is first used and closes it when the Comune is released: the released frame can no
longer sign, and the Comune's next use logs in again.
"""

from __future__ import annotations

import pytest

from anpr_client import ComuneRegistry, HttpRequest, HttpResponse, MockTransport, Settings
from anpr_client.errors.exceptions import CredentialError
from anpr_client.settings import (
    KeySourceConfig,
    OperatorSettings,
    WorkstationSettings,
)
from anpr_client.simulator.pki import Pki, PkiFiles
from tests.credentials.conftest import FILE_PASSWORD, TOKEN_PIN, SoftHsm
from tests.security.support import OPERATOR_CF


def _nothing_is_sent(request: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
    raise AssertionError("nothing is sent")


def test_a_token_session_is_opened_once_and_closed_when_idle(
    softhsm: SoftHsm, pki: Pki, pki_files: PkiFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANPR_TEST_PIN", TOKEN_PIN)
    monkeypatch.setenv("ANPR_TEST_P12", FILE_PASSWORD)
    settings = Settings(
        codice_istat=pki.istat,
        journal_enabled=False,
        comune_key=softhsm.key(),
        workstation=WorkstationSettings(
            id=pki.workstation_id,
            key=KeySourceConfig(
                "pkcs12", path=pki_files.workstation_p12, password_env="ANPR_TEST_P12"
            ),
        ),
        operator=OperatorSettings(codice_fiscale=OPERATOR_CF),
    )
    now = [0.0]
    registry = ComuneRegistry(
        {pki.istat: settings},
        idle_timeout=60,
        sweep_interval=None,
        transport=MockTransport(_nothing_is_sent),
        clock=lambda: now[0],
    )
    with registry:
        with registry.use(pki.istat) as client:
            first = client.prepare("TestConn", {})
            assert first.signed
        with registry.use(pki.istat) as again:
            assert again is client  # the same client: the key was not loaded again
            again.prepare("TestConn", {})
        now[0] += 60
        assert registry.release_idle() == 1
        with pytest.raises(CredentialError, match="closed"):
            client.prepare("TestConn", {})  # its session was closed with the Comune
        with registry.use(pki.istat) as reopened:  # logs in again
            assert reopened is not client
            assert reopened.prepare("TestConn", {}).signed
