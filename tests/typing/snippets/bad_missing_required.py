"""A required element left out: mypy says call-arg."""

from anpr_client.models.consultazione import TipoDatiRichiesta

TipoDatiRichiesta(schedaAnagraficaRichiesta="1")  # E: call-arg
