"""The 7000 family: 7001 reference tables, 7002 files, 7003 interface versions.

7001 — reference tables, from the small table set of :mod:`anpr_client.simulator.tables`.

``datiRichiesta/idTabella`` (``1``, ``001``…) selects the table; the answer carries it in
``datiDettaglioRisposta/xmlFile`` (the CSV file :func:`~..tables.render_table` writes), sent as an
MTOM attachment as ANPR does (italia/anpr#840; tests/wire/answers/ok-7001-mtom.mime). An unknown
number is answered EN148, as ANPR does.

7002 — *download file*: the file an asynchronous elaboration produced for the requesting
Comune (4001–4004, :mod:`.registry_extraction`), by that request's ``idOperazioneANPR``, as an
MTOM attachment with its ``formato`` (italia/anpr#779: ANPR checks that the file was produced
and is the requesting Comune's). An id that is no elaboration of the Comune → EN107; one not
elaborated yet ("ancora in elaborazione", italia/anpr#2473), or whose elaboration produced
nothing → EN122 (italia/anpr#1696, #2982).

7003 — *elenco versioni*: the interface version this simulator serves, ``ANPR05`` (the only
``codDestinatario`` it accepts), release 9.0.3 of ANPR's interface (the one anpr-client's
bundle describes), with today as its ``DataInizio``. No public source shows a 7003 answer or
what ``tipoVersioni`` selects: this is the XSD's reading, and ``tipoVersioni`` is not
applied.
"""

from __future__ import annotations

from typing import Final

from ..files import find_file
from ..tables import find_table, render_table
from .base import INTERFACE_VERSION, Context, OkAnswer, Rejected, Request, entry
from .common import text

__all__ = ["download_file", "download_table", "interface_versions"]

_RELEASE: Final = (9, 0, 3)
"""The release of ANPR's interface the bundle describes (wsdl/README.md)."""


def download_table(ctx: Context, req: Request) -> OkAnswer:
    requested = text((req.payload.get("datiRichiesta") or {}).get("idTabella")) or ""
    table = find_table(requested)
    if table is None:
        raise Rejected(
            entry(
                "EN148",
                f"there is no reference table {requested}",
                field="datiRichiesta/idTabella",
                value=requested,
            )
        )
    return OkAnswer(
        "RispostaMultipla7001",
        {"datiDettaglioRisposta": {"idTabella": table.id, "xmlFile": [render_table(table.name)]}},
        mtom=(("xmlFile", "application/octet-stream"),),
    )


def download_file(ctx: Context, req: Request) -> OkAnswer:
    """7002: the file of an elaboration of the requesting Comune (module docstring)."""
    id_anpr = text((req.payload.get("datiRichiesta") or {}).get("idOperazioneANPR")) or ""
    where = "datiRichiesta/idOperazioneANPR"
    produced = find_file(ctx.db, id_anpr)
    if produced is None or produced.comune != req.comune:
        raise Rejected(
            entry(
                "EN107",
                f"{id_anpr} is not an elaboration of Comune {req.comune}",
                field=where,
                value=id_anpr,
            )
        )
    content = produced.content
    if ctx.clock.now() < produced.ready_at or content is None:
        problem = (
            "La richiesta effettuata non produce alcun risultato"  # italia/anpr#1696
            if ctx.clock.now() >= produced.ready_at
            else f"Richiesta {id_anpr} ancora in elaborazione"  # italia/anpr#2473
        )
        raise Rejected(entry("EN122", problem, field=where, value=id_anpr))
    return OkAnswer(
        "RispostaMultipla7002",
        {
            "datiRichiesta": {"idOperazioneANPR": id_anpr},
            "file": {"contenutoFile": content},
            "formato": produced.format,
        },
        mtom=(("contenutoFile", "application/octet-stream"),),
    )


def interface_versions(ctx: Context, req: Request) -> OkAnswer:
    """7003: the interface version served (module docstring)."""
    major, minor, patch = _RELEASE
    current = {
        "CodDestinatario": INTERFACE_VERSION,
        "VersioneCompleta": f"{major}.{minor}.{patch}",
        "VersioneMajor": str(major),
        "VersioneMinor": str(minor),
        "VersionePatch": str(patch),
        "DataInizio": ctx.clock.today(),
    }
    return OkAnswer("RispostaMultipla7003", {"statoVersioni": [{"versioneCorrente": current}]})
