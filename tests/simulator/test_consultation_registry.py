"""3004, 3005, 3006, 3008 and 5010, 5011, 5013 through the library's typed faces
(``client.consultazione``, ``client.changes``) against the session's simulator: what the
registry holds is what the consultations answer; the rules with their codes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from anpr_client.client import Client
from anpr_client.errors.exceptions import AnprRejected
from anpr_client.models import consultazione as q
from anpr_client.models import from_payload
from anpr_client.models import mutazione as m
from anpr_client.simulator import Simulator
from anpr_client.validation import codicefiscale

from .registry_payloads import DECORRENZA, TODAY, comune, gen, procedure_1014, section_2012
from .support import A, B
from .test_registry_scenarios import _unused


def _section(number: str, istat: str = A) -> dict[str, Any]:
    """A 5011 ``sezione``: section ``number`` of ``istat``, at a school of Roma."""
    return {
        "comune": comune(istat),
        "sezioneelettoralenum": number,
        "sezioneelettoraledenom": f"SEZIONE {number} SCUOLA PRIMARIA",
        "sezioneelettoraleind": {
            "cap": "00184",
            "comune": comune(A),
            "toponimo": {"specie": "VIA", "denominazioneToponimo": "CAVOUR"},
            "numeroCivico": {"numero": "5"},
        },
        "collegiocameradeputati": "LAZIO 1 - 01",
        "circoscrregionali": "ROMA",
        "collegiosenatorepubblica": "LAZIO - 01",
    }


def _sections_3008(number: str | None, istat: str = A) -> q.Richiesta3008:
    search: dict[str, Any] = {"comune": comune(istat), "tipoRichiesta": "1"}
    if number is not None:
        search["sezioneelettoralenum"] = number
    return from_payload(q.Richiesta3008, {"parametriRicerca3008": search}, strict=True)


def test_a_section_described_by_5011_is_what_3008_answers(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    request = from_payload(m.Richiesta5011, {"sezione": _section("9041")}, strict=True)
    assert anpr_client.changes.change_section_lists(request).esito_operazione == "0000"
    found = anpr_client.consultazione.find_sections(_sections_3008("9041")).value
    (section,) = found.sezione.sezioni
    assert section.sezioneelettoralenum == "9041"
    assert section.sezioneelettoraledenom == "SEZIONE 9041 SCUOLA PRIMARIA"
    assert section.sezioneelettoraleind.toponimo.denominazioneToponimo == "CAVOUR"
    # Described again: updated, not doubled.
    again = _section("9041")
    again["sezioneelettoraledenom"] = "SEZIONE 9041 PALESTRA"
    anpr_client.changes.change_section_lists(
        from_payload(m.Richiesta5011, {"sezione": again}, strict=True)
    )
    (section,) = anpr_client.consultazione.find_sections(
        _sections_3008("9041")
    ).value.sezione.sezioni
    assert section.sezioneelettoraledenom == "SEZIONE 9041 PALESTRA"
    # 2012 deletes it: 3008 no longer finds it.
    anpr_client.call("2012", section_2012(A, "9041"))
    with pytest.raises(AnprRejected) as gone:
        anpr_client.consultazione.find_sections(_sections_3008("9041"))
    assert gone.value.codes == ("EN122",)


def test_5011_rules(anpr_client: Client) -> None:
    nameless = _section("9042")
    del nameless["sezioneelettoralenum"]
    with pytest.raises(AnprRejected) as ko:
        anpr_client.call("5011", {"sezione": nameless})
    assert ko.value.codes == ("EN081",)
    with pytest.raises(AnprRejected) as ko:
        anpr_client.call("5011", {"sezione": _section("9042", B)})
    assert ko.value.codes == ("EN378",)


def test_5010_checks_the_person_and_the_section(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    person, *_ = _unused(anpr_simulator, A, size=2)
    milanese, *_ = _unused(anpr_simulator, B, size=2)
    anpr_client.call("5011", {"sezione": _section("9043")})

    def lists(who: str, section: str) -> dict[str, Any]:
        return {
            "idSoggetto": who,
            "liste": {
                "elettore": "S",
                "listaGenerale": {"comune": comune(A), "sezioneelettoralenum": section},
                "referendumnazionali": "S",
                "elezionimembriue": "S",
                "senatorepubblica": "S",
                "cameradeputati": "S",
                "regionali": "S",
                "comunali": "S",
                "circoscrizionali": "N",
            },
            "datiControllo": {"tipoMutazione": ["01"]},
        }

    request = from_payload(m.Richiesta5010, lists(person.id, "9043"), strict=True)
    done = anpr_client.changes.change_electoral_lists(request, header=DECORRENZA)
    assert done.esito_operazione == "0000"
    for who, section, code in (
        (person.id, "9999", "EN557"),
        (milanese.id, "9043", "EN117"),
        ("399999999", "9043", "ES003"),
    ):
        with pytest.raises(AnprRejected) as ko:
            anpr_client.call("5010", lists(who, section), header=DECORRENZA)
        assert ko.value.codes == (code,), who


def test_5013_checks_the_person(anpr_simulator: Simulator, anpr_client: Client) -> None:
    person, *_ = _unused(anpr_simulator, A, size=2)
    milanese, *_ = _unused(anpr_simulator, B, size=2)

    def revoke(who: Any) -> dict[str, Any]:
        return {
            "schedaSoggetto": {"generalitaPerRicerca": gen(who)},
            "motivoAnnullamento": {"motivoRevoca": "1"},
            "datiControllo": {"tipoRevoca": "01"},
        }

    request = from_payload(m.Richiesta5013, revoke(person), strict=True)
    assert anpr_client.changes.revoke_data(request, header=DECORRENZA).esito_operazione == "0000"
    with pytest.raises(AnprRejected) as ko:
        anpr_client.call("5013", revoke(milanese), header=DECORRENZA)
    assert ko.value.codes == ("EN117",)


def test_3006_finds_a_person_of_any_comune(anpr_simulator: Simulator, anpr_client: Client) -> None:
    milanese, *_ = _unused(anpr_simulator, B, size=2)
    payload = {
        "criteriRicerca": {"codiceFiscale": milanese.codice_fiscale},
        "datiRichiesta": {
            "schedaAnagraficaRichiesta": "1",
            "dataRiferimentoRichiesta": TODAY,
            "motivoRichiesta": "VERIFICA",
        },
    }
    found = anpr_client.consultazione.find_person_for_agency(
        from_payload(q.Richiesta3006, payload, strict=True)
    ).value
    assert found.listaSoggetti is not None
    (subject,) = found.listaSoggetti.datiSoggetto
    assert subject.generalita.cognome == milanese.surname
    assert subject.residenza is not None
    assert subject.residenza.indirizzo is not None
    assert subject.residenza.indirizzo.comune.codiceIstat == B
    nobody = codicefiscale.calc("NESSUNO", "MAI", "M", dt.date(1931, 1, 1), "H501")
    payload["criteriRicerca"] = {"codiceFiscale": nobody}
    with pytest.raises(AnprRejected) as ko:
        anpr_client.call("3006", payload)
    assert ko.value.codes == ("EN122",)
    payload["criteriRicerca"] = {"cognome": milanese.surname}
    with pytest.raises(AnprRejected) as ko:
        anpr_client.call("3006", payload)
    assert ko.value.codes == ("EN448",)


def test_3004_finds_the_comunes_procedures(anpr_simulator: Simulator, anpr_client: Client) -> None:
    person, *_ = _unused(anpr_simulator, A, size=2)
    opened = anpr_client.call(
        "1014", procedure_1014("P-3004", "1", trigger="3", subjects=[person]), header=DECORRENZA
    )
    assert opened.esito_operazione == "0000"

    def search(**by: Any) -> q.Richiesta3004:
        return from_payload(q.Richiesta3004, {"parametriRicerca3004": by}, strict=True)

    by_number = anpr_client.consultazione.find_procedures(search(numeroPraticaComune="P-3004"))
    (item,) = by_number.value.listaProcAmm.elemProcAmm
    (details,) = item.procedimentoIstruttoria
    assert (details.numeroPraticaComune, details.statoProcedimento) == ("P-3004", "1")
    assert details.numeroPraticaAnpr is not None
    assert [g.codiceFiscale.codFiscale for g in item.generalitaSoggettoCollegato or []] == [  # type: ignore[union-attr]
        person.codice_fiscale
    ]
    by_subject = anpr_client.consultazione.find_procedures(
        search(generalitaSoggettoCollegato=gen(person))
    )
    assert [
        e.procedimentoIstruttoria[0].numeroPraticaAnpr
        for e in by_subject.value.listaProcAmm.elemProcAmm
    ] == [details.numeroPraticaAnpr]
    by_anpr = anpr_client.consultazione.find_procedures(
        search(numeroProcedimentoAmm=details.numeroPraticaAnpr)
    )
    assert len(by_anpr.value.listaProcAmm.elemProcAmm) == 1
    for by, code in (
        ({"numeroPraticaComune": "P-NONE"}, "EN122"),
        ({"idOpANPRCollegata": opened.id_operazione_anpr}, "EN379"),
    ):
        with pytest.raises(AnprRejected) as ko:
            anpr_client.call("3004", {"parametriRicerca3004": by})
        assert ko.value.codes == (code,), by


def test_3005_is_shape_only(anpr_client: Client) -> None:
    sent = anpr_client.call("5011", {"sezione": _section("9044")})
    request = from_payload(
        q.Richiesta3005,
        {"datiRichiesta": {"idOperazioneANPR": sent.id_operazione_anpr}},
        strict=True,
    )
    answer = anpr_client.consultazione.list_processed_files(request).value
    assert answer.datiRichiesta.idOperazioneANPR == sent.id_operazione_anpr
    assert answer.file.xmlFile is None
    with pytest.raises(AnprRejected) as ko:
        anpr_client.call("3005", {"datiRichiesta": {"idOperazioneANPR": "1"}})
    assert ko.value.codes == ("EN122",)


def test_5021_is_shape_only_and_its_ko_is_read_as_ko(
    anpr_simulator: Simulator, anpr_client: Client
) -> None:
    person, *_ = _unused(anpr_simulator, A, size=2)
    milanese, *_ = _unused(anpr_simulator, B, size=2)

    def polygamy(spouse: Any) -> dict[str, Any]:
        return {
            "matrimonioPerRicerca": {"coniuge1": gen(spouse)},
            "datiControllo": {"tipoMutazione": ["12"]},
        }

    request = from_payload(m.Richiesta5021, polygamy(person), strict=True)
    answer = anpr_client.changes.manage_polygamy(request, header=DECORRENZA)
    assert answer.esito_operazione == "0000"
    assert answer.value.tipoMutazione == "12"
    # The KO carries tipoMutazione beside rispostaKO: the client reads it as the refusal.
    with pytest.raises(AnprRejected) as ko:
        anpr_client.call("5021", polygamy(milanese), header=DECORRENZA)
    assert ko.value.codes == ("EN117",)
    assert ko.value.id_operazione_anpr
