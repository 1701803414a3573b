"""The 5000 family end to end, through the library's typed faces (``client.changes``, signed,
over TLS) against the session's simulator: a family split (5005 then 5001), a household moving
in from another Comune (5001, N010; annulled with 5012, N015), rectifications (5014) and
changes of the record (5008), each seen by the next 3002.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from anpr_client.client import Client
from anpr_client.errors.exceptions import AnprRejected, AnprWarning
from anpr_client.models import from_payload
from anpr_client.models import mutazione as m
from anpr_client.notifications.events import ResidenceChanged, ResidenceRestored
from anpr_client.results import Result
from anpr_client.services.params import Address, Member, Place, Subject
from anpr_client.simulator import Person, Simulator

from .registry_payloads import DECORRENZA, TODAY, annulment
from .support import A, B, payload_3002
from .test_registry_scenarios import _codes, _family_of, _received, _unused


def _member(person: Person, relation: str) -> Member:
    return Member(
        codice_fiscale=person.codice_fiscale,
        surname=person.surname,
        name=person.name,
        relation=relation,
    )


def _subject(person: Person) -> Subject:
    return Subject(codice_fiscale=person.codice_fiscale, surname=person.surname, name=person.name)


def _annul(client: Client, result: Result[Any], person: Person, service: str) -> Result[Any]:
    """5012 of the ``service`` answered ``result``, about ``person``, through the typed face."""
    payload = annulment("5012", result, person, sent_as=service)
    payload["datiControllo"] = {"tipoScheda": "1", "annullamentoAttribuzioneCF": "N"}
    request = from_payload(m.Richiesta5012, payload, strict=True)
    return client.changes.annul_change(request, header=DECORRENZA)


def _relations(answer: dict[str, Any]) -> dict[str, str]:
    return {
        s["generalita"]["codiceFiscale"]["codFiscale"]: s["legameSoggetto"]["codiceLegame"]
        for s in answer["listaSoggetti"]["datiSoggetto"]
    }


def _family_id(answer: dict[str, Any]) -> str:
    return str(answer["datiFamigliaConvivenza"]["famigliaConvivenza"]["idFamigliaConvivenzaANPR"])


def test_a_family_splits_and_the_family_left_names_its_head(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    sim = anpr_simulator
    head, second, *rest = _unused(sim, A, size=3)
    household = head.household_id
    assert household is not None
    leaving = rest[0]
    # 5005: one member takes up a new family at another address in Roma (ANPR warns: update
    # the family left, EN226).
    with pytest.warns(AnprWarning, match="EN226"):
        anpr_client.changes.move_residence(
            [_member(leaving, "1")],
            Address(comune=A, street="DEI GRACCHI", number="3", cap="00192"),
        )
    # 5001 (composition): in the family left, the second member becomes head.
    changed = anpr_client.changes.change_household_composition(
        household, [_member(second, "1"), _member(head, "2")]
    )
    assert changed.esito_operazione == "0000"

    left = _family_of(anpr_client, head)
    new = _family_of(anpr_client, leaving)
    assert _family_id(left) == household
    assert _family_id(new) != household
    assert _codes(new) == [leaving.codice_fiscale]
    assert leaving.codice_fiscale not in _codes(left)
    assert _codes(left)[0] == second.codice_fiscale
    assert _relations(left)[second.codice_fiscale] == "1"
    assert _relations(left)[head.codice_fiscale] == "2"

    # 5012 annuls the 5001: the family has its original head again.
    _annul(anpr_client, changed, second, "5001")
    restored = _family_of(anpr_client, head)
    assert _codes(restored)[0] == head.codice_fiscale
    assert _relations(restored)[head.codice_fiscale] == "1"
    assert _relations(restored)[second.codice_fiscale] == second.relation
    # Annulled once, not twice.
    with pytest.raises(AnprRejected) as twice:
        _annul(anpr_client, changed, second, "5001")
    assert twice.value.codes == ("EN077",)


def test_a_household_of_another_comune_moves_in_and_back(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    sim = anpr_simulator
    members = _unused(sim, B, size=2)
    household = members[0].household_id
    assert household is not None
    moved = anpr_client.changes.move_household(
        household, to=Address(comune=A, street="APPIA NUOVA", number="12", cap="00179")
    )
    family = _family_of(anpr_client, members[0])
    assert _family_id(family) == household
    residence = family["datiFamigliaConvivenza"]["residenza"]["indirizzo"]
    assert residence["comune"]["codiceIstat"] == A
    assert residence["toponimo"]["denominazioneToponimo"] == "APPIA NUOVA"
    assert {p.codice_fiscale for p in sim.store.residents(A)} >= {p.codice_fiscale for p in members}
    events = _received(sim, B, moved.id_operazione_anpr)
    assert sorted(e.codice_fiscale for e in events) == sorted(p.codice_fiscale for p in members)
    assert all(type(e) is ResidenceChanged and e.kind == "N010" for e in events)

    annulled = _annul(anpr_client, moved, members[0], "5001")
    back = sim.store.household(household)
    assert back is not None
    assert back.comune == B
    assert {p.codice_fiscale for p in sim.store.residents(B)} >= {p.codice_fiscale for p in members}
    restorations = _received(sim, B, annulled.id_operazione_anpr)
    assert restorations
    assert all(type(e) is ResidenceRestored and e.kind == "N015" for e in restorations)


def test_a_rectified_birth_place_is_what_3002_shows(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    person, *_ = _unused(anpr_simulator, A, size=2)
    torino = Place(code="001272", name="TORINO", province="TO")
    corrected = anpr_client.changes.correct_birth_place(
        _subject(person), torino, born_on=person.birth_date
    )
    answer = corrected.value
    assert isinstance(answer, m.Risposta5014)
    assert answer.tipoRispostaRettifica is not None
    rettifica = answer.tipoRispostaRettifica.rispostaRettifica105
    assert rettifica is not None
    assert rettifica.idSchedaSoggettoANPR == person.id
    (found,) = anpr_client.call("3002", payload_3002(person.codice_fiscale)).value["listaSoggetti"][
        "datiSoggetto"
    ]
    luogo = found["generalita"]["luogoNascita"]["comune"]
    assert (luogo["codiceIstat"], luogo["nomeComune"]) == ("001272", "TORINO")
    # The birth place goes with the codice fiscale to the Agenzia delle Entrate: no annulment.
    with pytest.raises(AnprRejected) as refused:
        _annul(anpr_client, corrected, person, "5014")
    assert refused.value.codes == ("EN234",)


def test_a_rectified_residence_start_is_what_3002_shows(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    person, *_ = _unused(anpr_simulator, A, size=2)
    since = person.birth_date.replace(year=max(person.birth_date.year, TODAY.year - 3))
    if since < person.birth_date:
        since = person.birth_date
    anpr_client.changes.correct_residence_start(_subject(person), since)
    residence = _family_of(anpr_client, person)["datiFamigliaConvivenza"]["residenza"]
    assert residence["dataDecorrenzaResidenza"] == since.isoformat()


def test_a_changed_surname_is_seen_and_a_changed_citizenship_can_be_annulled(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    sim = anpr_simulator
    person, *_ = _unused(sim, A, size=2)
    payload: dict[str, Any] = {
        "generalitaPerRicerca": {
            "codiceFiscale": {"codFiscale": person.codice_fiscale},
            "cognome": person.surname,
            "nome": person.name,
        },
        "generalitaDaModificare": {"generalita": {"cognome": "NUOVOCOGNOME", "nome": person.name}},
        "datiControllo": {"tipoMutazione": ["01"]},
    }
    renamed = anpr_client.changes.change_record(
        from_payload(m.Richiesta5008, payload, strict=True), header=DECORRENZA
    )
    assert renamed.esito_operazione == "0000"
    (found,) = anpr_client.call("3002", payload_3002(person.codice_fiscale)).value["listaSoggetti"][
        "datiSoggetto"
    ]
    assert found["generalita"]["cognome"] == "NUOVOCOGNOME"
    renamed_person = sim.store.person(person.codice_fiscale)
    assert renamed_person is not None
    with pytest.raises(AnprRejected) as refused:
        _annul(anpr_client, renamed, renamed_person, "5008")
    assert refused.value.codes == ("EN234",)

    citizenship = copy.deepcopy(payload)
    citizenship["generalitaPerRicerca"]["cognome"] = "NUOVOCOGNOME"
    del citizenship["generalitaDaModificare"]
    citizenship["cittadinanza"] = [{"codiceStato": "215", "descrizioneStato": "FRANCIA"}]
    citizenship["datiControllo"] = {"tipoMutazione": ["02"]}
    french = anpr_client.changes.change_record(
        from_payload(m.Richiesta5008, citizenship, strict=True), header=DECORRENZA
    )
    assert sim.store.person(person.codice_fiscale).citizenship == "215"  # type: ignore[union-attr]
    _annul(anpr_client, french, renamed_person, "5008")
    assert sim.store.person(person.codice_fiscale).citizenship == person.citizenship  # type: ignore[union-attr]
