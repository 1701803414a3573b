"""What ANPR would refuse about a certificate is refused when the frame is built, naming the
setting and the rule: nothing is signed, journaled or sent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from anpr_client.client import Client
from anpr_client.credentials.certificates import (
    comune_of,
    refuse_unusable,
    validity_problem,
)
from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.security.frame import WsSecurity
from anpr_client.settings import KeySourceConfig, OperatorSettings, Settings, WorkstationSettings
from anpr_client.simulator.pki import Identity, Pki, issue_certificate, name
from tests.security.support import shared_pki

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return shared_pki()


def _pem(identity: Identity, directory: Path, stem: str) -> KeySourceConfig:
    key, cert = identity.write_pem(directory, stem)
    return KeySourceConfig("pem", pem_key=key, pem_cert=cert)


def _settings(pki: Pki, tmp_path: Path, comune: Identity) -> Settings:
    return Settings(
        codice_istat="058091",
        comune_key=_pem(comune, tmp_path, "comune"),
        workstation=WorkstationSettings(
            id="058091-PC-0001", key=_pem(pki.workstation, tmp_path, "workstation")
        ),
        operator=OperatorSettings(codice_fiscale="RSSMRA80A01H501U"),
        journal_enabled=False,
    )


def test_the_helpers_read_name_and_validity(pki: Pki) -> None:
    assert comune_of(pki.comune.certificate) == "058091"
    assert comune_of(pki.operator.certificate) is None  # a CNS card names a person
    assert validity_problem(pki.comune.certificate, NOW) is None
    later = pki.comune.certificate.not_valid_after_utc + dt.timedelta(seconds=1)
    assert (validity_problem(pki.comune.certificate, later) or "").startswith("expired on")
    earlier = pki.comune.certificate.not_valid_before_utc - dt.timedelta(seconds=1)
    assert (validity_problem(pki.comune.certificate, earlier) or "").startswith("is not valid")


@pytest.mark.parametrize(
    ("not_before", "not_after", "words"),
    [
        (NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=1), "expired on"),
        (NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=400), "is not valid before"),
    ],
    ids=["expired", "not-yet-valid"],
)
def test_a_certificate_outside_its_validity_is_refused_at_construction(
    pki: Pki, tmp_path: Path, not_before: dt.datetime, not_after: dt.datetime, words: str
) -> None:
    comune = issue_certificate(
        pki.ca, name("058091-CO-9999"), not_before=not_before, not_after=not_after
    )
    settings = _settings(pki, tmp_path, comune)
    with pytest.raises(ConfigurationError) as info:
        Client(settings)
    assert info.value.setting == "comune_key"
    assert info.value.rule == "a certificate valid now"
    assert words in str(info.value)


def test_a_certificate_of_another_comune_is_refused(pki: Pki, tmp_path: Path) -> None:
    other = issue_certificate(pki.ca, name("015146-CO-9999"))
    with pytest.raises(ConfigurationError) as info:
        WsSecurity.from_settings(_settings(pki, tmp_path, other))
    assert info.value.setting == "comune_key"
    assert "belongs to Comune 015146, not to codice_istat 058091" in str(info.value)


def test_a_workstation_certificate_of_another_comune_is_refused(pki: Pki, tmp_path: Path) -> None:
    settings = _settings(pki, tmp_path, pki.comune).replace(
        workstation=WorkstationSettings(
            id="058091-PC-0001",
            key=_pem(issue_certificate(pki.ca, name("015146-PC-0001")), tmp_path, "other"),
        )
    )
    with pytest.raises(ConfigurationError) as info:
        WsSecurity.from_settings(settings)
    assert info.value.setting == "workstation"


def test_a_workstation_id_of_another_comune_is_refused(pki: Pki, tmp_path: Path) -> None:
    settings = _settings(pki, tmp_path, pki.comune)
    assert settings.workstation is not None
    settings = settings.replace(
        workstation=WorkstationSettings(id="015146-PC-0001", key=settings.workstation.key)
    )
    with pytest.raises(ConfigurationError) as info:
        WsSecurity.from_settings(settings)
    assert info.value.setting == "workstation.id"


def test_good_certificates_build_the_frame(pki: Pki, tmp_path: Path) -> None:
    frame = WsSecurity.from_settings(_settings(pki, tmp_path, pki.comune))
    assert frame.workstation_id == "058091-PC-0001"
    refuse_unusable(pki.comune.certificate, setting="comune_key", codice_istat="058091")
