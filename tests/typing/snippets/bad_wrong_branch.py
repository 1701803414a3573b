"""Reading a field of the wrong branch: of the KO branch on an OK result (attr-defined), of one
branch where the other may have come (union-attr)."""

from anpr_client import Client
from anpr_client.models.consultazione import Richiesta3002, Risposta3002
from anpr_client.models.iscrizione import Richiesta1001


def lookup(client: Client, request: Richiesta3002, answer: Risposta3002) -> None:
    print(client.typed_call("3002", request).value.listaErrori)  # E: attr-defined
    print(answer.Risposta3002_OK.listaSoggetti)  # E: union-attr


def register(client: Client, request: Richiesta1001) -> None:
    print(client.typed_call("1001", request).value.elencoSoggettiPadre)  # E: union-attr
