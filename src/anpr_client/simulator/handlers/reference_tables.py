"""7001 — reference tables, from the small table set of :mod:`anpr_client.simulator.tables`.

``datiRichiesta/idTabella`` (``1``, ``001``…) selects the table; the answer carries it in
``datiDettaglioRisposta/xmlFile`` (the CSV file :func:`~..tables.render_table` writes), sent as an
MTOM attachment as ANPR does (italia/anpr#840; tests/wire/answers/ok-7001-mtom.mime). An unknown
number is answered EN148, as ANPR does.
"""

from __future__ import annotations

from ..tables import find_table, render_table
from .base import Context, OkAnswer, Rejected, Request, entry
from .common import text

__all__ = ["download_table"]


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
