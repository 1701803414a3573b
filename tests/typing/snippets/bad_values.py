"""A value outside an enumeration, and text where a date goes: mypy says arg-type."""

from anpr_client.models.consultazione import TipoCriteriRicerca, TipoDatiRichiesta

TipoCriteriRicerca(codiceFiscale="RSSMRA80A01H501U", sesso="X")  # E: arg-type
TipoDatiRichiesta(
    schedaAnagraficaRichiesta="1",
    dataRiferimentoRichiesta="2026-11-20",  # E: arg-type
)
