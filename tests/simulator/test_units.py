"""Pieces of the simulator on their own: configuration, seeding, notification payloads, plugin."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import os
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from anpr_client.client import Client
from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.notifications.events import PAYLOAD_NS
from anpr_client.simulator import Simulator, SimulatorConfig, notification_document
from anpr_client.simulator.db import Database
from anpr_client.simulator.notifications import java_gzip, notification_item, notification_payload
from anpr_client.simulator.seeding import seed_registry
from anpr_client.simulator.store import Registry
from anpr_client.validation import codicefiscale

from .support import A, B

REPO = Path(__file__).resolve().parents[2]


def _reference() -> Path:
    return Path(os.environ.get("ANPR_REFERENCE_DIR", REPO.parent / "shared" / "anpr"))


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"comuni": ()}, "simulator.comuni"),
        ({"comuni": ("58091",)}, "simulator.comuni"),
        ({"comuni": (A, A)}, "simulator.comuni"),
        ({"population": -1}, "simulator.population"),
        ({"notification_attempts": 0}, "simulator.notification_attempts"),
        ({"port": 70000}, "simulator.port"),
        ({"extraction_format": "zip"}, "simulator.extraction_format"),
        ({"tipo_invio": "FREE"}, "simulator.tipo_invio"),
    ],
)
def test_config_refuses_bad_values(options: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        SimulatorConfig(**options)
    assert refused.value.setting == setting


def _seeded(seed: int) -> Registry:
    registry = Registry(Database(None))
    seed_registry(registry, (A, B), persons_per_comune=25, seed=seed)
    return registry


def test_seeding_is_reproducible_and_valid() -> None:
    first, again, other = _seeded(7), _seeded(7), _seeded(8)
    codes = [p.codice_fiscale for p in first.residents(A)]
    assert len(codes) == 25
    assert len(first.residents(B)) == 25
    assert codes == [p.codice_fiscale for p in again.residents(A)]
    assert codes != [p.codice_fiscale for p in other.residents(A)]
    assert all(codicefiscale.is_valid(c) for c in codes)
    assert len(set(codes)) == len(codes)
    for household in first.households(A):
        assert [p.relation for p in household.members].count("1") == 1
    # Seeding a registry that already has people adds nobody.
    assert seed_registry(first, (A, B), persons_per_comune=25, seed=7) == 0


def test_unknown_comune_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        Simulator(SimulatorConfig(state_dir=tmp_path, comuni=("999999",)))


def test_n010_payload_validates_against_the_official_schema() -> None:
    reference = _reference() / "wsdl-notifiche" / "mappaturaNotificheBase64"
    if not reference.is_dir():
        pytest.skip(f"the ANPR reference data is not at {reference} (set ANPR_REFERENCE_DIR)")
    registry = _seeded(42)
    info = registry.comune(B)
    assert info is not None
    from anpr_client.simulator.notifications import notification_personal_data
    from anpr_client.simulator.payloads import comune

    official = etree.XMLSchema(etree.parse(str(reference / "N000notificheComuni.xsd")))
    residents = registry.residents(A) + registry.residents(B)
    born_here = next(p for p in residents if p.birth_place.comune)
    born_abroad = next(p for p in residents if p.birth_place.state)
    for person in (born_here, born_abroad):
        payload = notification_payload(
            "N010",
            {
                "generalitaSoggetto": notification_personal_data(person),
                "comuneRichiesta": comune(info),
                "idOperazioneANPR": "700000001",
                "dataDecorrenza": dt.date(2026, 1, 2),
            },
        )
        element = etree.fromstring(payload)
        assert official.validate(element), official.error_log
        assert element.tag == f"{{{PAYLOAD_NS}}}NotificaN010"


def test_an_invalid_payload_is_refused_before_it_is_stored() -> None:
    with pytest.raises(Exception, match="not valid"):
        notification_payload("N010", {"idOperazioneANPR": "x"})


def test_pulled_notifications_have_the_published_shape(make_simulator: Any) -> None:
    # The shape of the N031 contents published in italia/anpr#4792 (decoded there).
    sim: Simulator = make_simulator(start=False)
    person = sim.store.residents(A)[0]
    info = sim.store.comune(B)
    assert info is not None
    record = sim.notifications.residence_left(
        recipient=A,
        person=person,
        requesting=info,
        operation="700000009",
        effective_date=dt.date(2026, 1, 2),
    )
    document = notification_document(record)
    head, _, rest = document.partition(b"\r\n")
    assert head == b'<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>'
    assert rest.startswith(b"<p:NotificaN010 ")
    assert b"\n" not in document.replace(b"\r\n", b"")  # CRLF only
    assert not document.endswith(b"\n")
    assert b'N000notificheComuni.xsd "' in document  # the trailing space of schemaLocation
    root = etree.fromstring(document)
    assert root.tag == f"{{{PAYLOAD_NS}}}NotificaN010"
    assert set(root.nsmap) == {"p", "p1", "p2", "xsi"}
    assert all(child.tag == etree.QName(child).localname for child in root)  # unqualified
    assert root.findtext("generalitaSoggetto/codiceFiscale/codFiscale") == person.codice_fiscale
    payload = etree.fromstring(record.payload)
    assert [c.tag for c in root] == [c.tag for c in payload]  # the pushed payload, reshaped

    item = notification_item(record)
    assert list(item) == [
        "idOperazioneANPR",
        "statoLavorazione",
        "tipoOperazione",
        "contenutoRisposta",
        "formatoRisposta",
    ]
    assert item["idOperazioneANPR"] == record.id  # the push's testataNotifica id
    assert (item["statoLavorazione"], item["tipoOperazione"]) == ("7", "N010")
    assert item["formatoRisposta"] == "gz"
    gz = base64.b64decode(item["contenutoRisposta"])
    assert gz[:10] == bytes.fromhex("1f8b0800000000000000")  # Java: mtime 0, OS 0
    assert gzip.decompress(gz) == document
    assert java_gzip(b"")[:10] == gz[:10]
    assert list(notification_item(record, content=False)) == list(item)[:3]


def test_the_plugin_fixtures_give_a_working_client(
    anpr_client: Client, anpr_simulator: Simulator
) -> None:
    assert anpr_client.settings.codice_istat == anpr_simulator.comuni[0]
    assert anpr_client.settings.base_url == anpr_simulator.url
    assert anpr_client.test_connection().esito_operazione == "0000"


def test_settings_files_are_ready_for_the_cli(anpr_simulator: Simulator) -> None:
    first = anpr_simulator.settings_path()
    assert first == anpr_simulator.state_dir / "anpr.toml"
    other = anpr_simulator.settings_path(B)
    assert other.parent.name == B
    settings = anpr_simulator.settings(B)
    assert settings.codice_istat == B
    assert settings.workstation is not None
    assert settings.workstation.id == f"{B}-PC-0001"
    assert settings.notifications.decrypt_keys
    assert settings.ca_bundle is not None
    assert settings.ca_bundle.exists()
    with pytest.raises(ConfigurationError):
        anpr_simulator.settings_path("001272")


def test_memo_trust_store_gives_the_verdict_of_the_store(make_simulator: Any) -> None:
    from anpr_client.errors.exceptions import RevokedCertificate, UntrustedCertificate
    from anpr_client.simulator.gateway import MemoTrustStore
    from anpr_client.simulator.pki import issue_certificate, name

    sim: Simulator = make_simulator(start=False)
    now = dt.datetime.now(dt.UTC)
    short = issue_certificate(
        sim.pki.ca,
        name(f"{A}-PC-0009"),
        not_before=now - dt.timedelta(hours=1),
        not_after=now + dt.timedelta(hours=1),
    )
    store = MemoTrustStore([sim.pki.ca.certificate])
    path = store.validate(short.certificate, at=now, skew=60)
    assert store.validate(short.certificate, at=now + dt.timedelta(minutes=30), skew=60) == path
    with pytest.raises(UntrustedCertificate) as expired:
        store.validate(short.certificate, at=now + dt.timedelta(hours=2), skew=60)
    assert expired.value.check == "trust-expired"
    revoked = MemoTrustStore(
        [sim.pki.ca.certificate], revoked_serials=[short.certificate.serial_number]
    )
    with pytest.raises(RevokedCertificate):
        revoked.validate(short.certificate, at=now, skew=60)


@pytest.mark.parametrize(
    ("old", "new"),
    [("Family", "Household"), ("FaultKind", "FaultKnob"), ("OperationRecord", "LedgerEntry")],
)
def test_renamed_exports_warn_and_keep_working(old: str, new: str) -> None:
    """Each old name meant something else elsewhere in the library (ANPR's service family, the
    client's FaultKind of a received fault, the journal's OperationRecord)."""
    import anpr_client.simulator as simulator

    with pytest.warns(DeprecationWarning, match=f"renamed {new}"):
        value = getattr(simulator, old)
    assert value is getattr(simulator, new)
    assert old not in simulator.__all__
    assert new in simulator.__all__


def test_a_household_read_without_its_members_is_the_same_household() -> None:
    """``members=False`` leaves out only the members; a person's record, which reads the
    household that way (or takes the one its caller has), is the same either way."""
    import dataclasses

    from anpr_client.simulator.payloads import person_record
    from anpr_client.simulator.population import generate_population

    registry = Registry(Database(None))
    registry.seed(generate_population([A, B], 20, seed=5))
    households = registry.households(A) + registry.households(B)
    assert any(len(h.members) > 1 for h in households)
    for household in households:
        bare = registry.household(household.id, members=False)
        assert bare is not None
        assert bare.members == ()
        assert bare == dataclasses.replace(household, members=())
        for person in household.members:
            assert registry.household_of(person, members=False) == bare
            record = person_record(registry, person)
            assert record == person_record(registry, person, household=household)
            assert "famigliaConvivenza" in record
            assert "residenza" in record
            assert record["famigliaConvivenza"]["idFamigliaConvivenzaANPR"] == household.id


def test_the_registry_stores_generated_households_as_they_are() -> None:
    """One model: what the population generator makes is what the registry keeps and returns
    (the cadastral code of a birth place aside, which only the generator needs)."""
    import dataclasses

    from anpr_client.simulator.population import generate_population

    households = generate_population([A, B], 30, seed=3)
    registry = Registry(Database(None))
    assert registry.seed(households) == 60
    for household in households:
        stored = registry.household(household.id)
        assert stored is not None
        assert dataclasses.replace(stored, members=()) == dataclasses.replace(household, members=())
        assert {p.codice_fiscale for p in stored.members} == {
            p.codice_fiscale for p in household.members
        }
        for person in household.members:
            kept = dataclasses.replace(
                person, birth_place=dataclasses.replace(person.birth_place, cadastral=None)
            )
            assert registry.person(person.codice_fiscale) == kept
    # The registry numbers the persons it registers after the population's (whose idANPR it
    # numbered from the first, as the registry does), and seeds only an empty registry.
    from anpr_client.simulator.household import PersonalData, anpr_id

    assert sorted(p.id_anpr for h in households for p in h.members) == [
        anpr_id(n) for n in range(60)
    ]
    newcomer = dataclasses.replace(households[0].head, codice_fiscale="RSSMRA85T10H501O")
    data = PersonalData(
        **{f.name: getattr(newcomer, f.name) for f in dataclasses.fields(PersonalData)}
    )
    registered = registry.register(
        data,
        comune=A,
        household_id=households[0].id,
        relation="99",
        since=dt.date(2026, 1, 2),
        reason="registration",
        operation="700000001",
    )
    assert registered.id_anpr == anpr_id(60)
    with pytest.raises(ConfigurationError, match="empty registry"):
        registry.seed(households[:1])
