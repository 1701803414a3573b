"""The zeep escape hatch: a stock zeep service on our bundle, endpoint, TLS and frame.

Uses the simulator's pytest plugin (the fixtures our users get), so the signed frame that zeep
sends through our ``wsse`` hook is verified by the simulator's gateway.
"""

from __future__ import annotations

import datetime as dt
import sys

import pytest

from anpr_client.client import Client
from anpr_client.simulator import Simulator
from anpr_client.soap.testata import build_header


def test_a_stock_zeep_service_calls_through_our_frame(
    anpr_client: Client, anpr_simulator: Simulator
) -> None:
    resident = anpr_simulator.store.residents(anpr_client.settings.codice_istat)[0]
    service = anpr_client.zeep_service("3000")
    answer = service.interrogazioneCittadino_famiglia_convivenza(
        testataRichiesta=build_header(anpr_client.settings, "3002"),
        criteriRicerca={"codiceFiscale": resident.codice_fiscale},
        datiRichiesta={
            "schedaAnagraficaRichiesta": "1",
            "dataRiferimentoRichiesta": dt.date.today(),
        },
    )
    ok = answer["Risposta3002_OK"]
    assert ok is not None
    assert ok.testataRisposta.esitoOperazione == "0000"
    person = ok.listaSoggetti.datiSoggetto[0].generalita
    assert person.codiceFiscale.codFiscale == resident.codice_fiscale


def test_without_zeep_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from anpr_client.errors.exceptions import ConfigurationError
    from anpr_client.settings import Settings

    for name in [n for n in sys.modules if n == "zeep" or n.startswith("zeep.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "zeep", None)  # as if not installed
    client = Client(Settings(codice_istat="058091"), journal=None)
    with pytest.raises(ConfigurationError, match=r"pip install 'anpr-client\[zeep\]'"):
        client.zeep_service("3000")
    client.close()
