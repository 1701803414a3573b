"""Requests built the way the models want them: mypy --strict accepts every line."""

from __future__ import annotations

import datetime as dt
from typing import assert_type

from anpr_client import Client, Result
from anpr_client.models import common, request_type
from anpr_client.models.consultazione import (
    Richiesta3002,
    Risposta3002OK,
    TipoCriteriRicerca,
    TipoDatiRichiesta,
)
from anpr_client.models.iscrizione import Richiesta1001
from anpr_client.models.mutazione import Risposta5005

client = Client.from_config("anpr.toml")

request = Richiesta3002(
    criteriRicerca=TipoCriteriRicerca(codiceFiscale="RSSMRA80A01H501U", sesso="M"),
    datiRichiesta=TipoDatiRichiesta(
        schedaAnagraficaRichiesta="1", dataRiferimentoRichiesta=dt.date(2026, 11, 20)
    ),
)
result = client.typed_call("3002", request)
assert_type(result, Result[Risposta3002OK])
if result.value.listaSoggetti is not None:
    for soggetto in result.value.listaSoggetti.datiSoggetto:
        name: str | None = soggetto.generalita.cognome  # a choice branch: may be senzaCognome
        born: dt.date | None = soggetto.generalita.dataNascita
        print(name, born)

# One branch of each choice.
person = common.TipoGeneralita(senzaCognome="1", nome="MARIO", sesso="F")
sex: common.TipoSesso | None = person.sesso


def register(client: Client, request: Richiesta1001) -> None:
    outcome = client.typed_call("1001", request).value  # two possible OK branches
    if isinstance(outcome, common.RispostaComune):
        print(outcome.listaSoggettiVariati)
    else:
        assert_type(outcome, common.RispostaMultipla1001)
        print(outcome.elencoSoggettiPadre)


def answer_branch(answer: Risposta5005) -> None:
    if answer.Risposta_Comune is not None:  # a branch of the answer's choice
        print(answer.Risposta_Comune.testataRisposta)


generic = request_type("5005")  # generic tooling: any operation by code
