"""The faces as a user calls them: mypy --strict accepts every line, and each result has the
type of its OK branch."""

from __future__ import annotations

import datetime as dt
from typing import assert_type

from anpr_client import Client, Result
from anpr_client.models import common
from anpr_client.models.certificazione import Risposta6001OK
from anpr_client.models.estrazione import RispostaMultipla4005, TipodatiRisposta4005
from anpr_client.models.iscrizione import Richiesta1001
from anpr_client.models.mutazione import Richiesta5005, Risposta5014
from anpr_client.services import Address, AddressAbroad, Member, Place, Subject

client = Client.from_config("anpr.toml")
mother = Subject(codice_fiscale="MTALSE02C71H501W", surname="AMATO", name="ELISA")
home = Address(comune="015146", street="DANTE", number="5", cap="20121")


def with_models(birth: Richiesta1001, move: Richiesta5005) -> None:
    assert_type(
        client.registrations.register_birth(birth),
        Result[common.RispostaComune | common.RispostaMultipla1001],
    )
    assert_type(client.changes.change_residence(move), Result[common.RispostaComune])


born = client.registrations.register_newborn(
    "VERDI", "LUCA", "M", dt.date(2026, 11, 18), "058091", mother=mother, household="mother"
)
if isinstance(born.value, common.RispostaComune) and born.value.listaSoggettiVariati:
    for changed in born.value.listaSoggettiVariati.datiSoggetto:
        print(changed.generalitaAttuali)

arrived = client.registrations.register_arrival(
    "SMITH",
    "JOHN",
    "M",
    dt.date(1980, 5, 5),
    Place(code="219", name="REGNO UNITO"),
    coming_from="219",
    address=home,
    marital_status="1",
    citizenship=["219", "100"],
)
assert_type(arrived, Result[common.RispostaComune | common.RispostaMultipla1002])

dead = client.cancellations.record_death_of(mother, died_on=dt.date(2026, 11, 19), role="member")
assert_type(dead, Result[common.RispostaComune])
gone = client.cancellations.cancel_resident(mother, reason="5", role="head", destination="215")
assert_type(gone, Result[common.RispostaComune])

moved = client.changes.move_residence(
    [Member(codice_fiscale="MRNLDA45P11H501H", surname="MARINI", name="ALDO", relation="1")], home
)
assert_type(moved, Result[common.RispostaComune])
composed = client.changes.change_household_composition(
    "2000580910000001",
    [Member(codice_fiscale="MTALSE02C71H501W", surname="AMATO", name="ELISA", relation="1")],
)
assert_type(composed, Result[common.RispostaComune])
corrected = client.changes.correct_residence_start(mother, dt.date(2001, 3, 4))
assert_type(corrected, Result[common.RispostaComune | Risposta5014])

pdf: bytes = client.certificates.certificate_pdf(
    mother, "8", officer_surname="ROSSI", officer_name="MARIA"
)
files: tuple[bytes, ...] = client.tables.download_table("001")

started = client.extractions.start_extraction(state="2", operation="5005", detail="TUTTO")
assert_type(started, Result[RispostaMultipla4005])
items = client.extractions.collect_extraction(started.value.idOperazioneANPR, timeout=30)
assert_type(items, list[TipodatiRisposta4005])
for item in items:
    content: bytes | None = item.contenutoRisposta

abroad = AddressAbroad(state="215", locality="PARIGI", consulate_code="1", consulate_name="P")
aire = client.aire.register_citizen(
    "ROSSI",
    "ANNA",
    "F",
    dt.date(1990, 2, 12),
    "058091",
    address=abroad,
    reason="C01",
    initiative="1",
    criterion="1",
)
assert_type(aire, Result[common.RispostaComune | common.RispostaMultipla1002])


def certificate_answer(result: Result[Risposta6001OK]) -> bytes | None:
    return None if result.value.file is None else result.value.file.certificatoPdf
