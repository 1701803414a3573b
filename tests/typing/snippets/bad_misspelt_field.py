"""A field name misspelt: mypy says call-arg."""

from anpr_client.models.consultazione import TipoCriteriRicerca

TipoCriteriRicerca(codiceFiscal="RSSMRA80A01H501U")  # E: call-arg
