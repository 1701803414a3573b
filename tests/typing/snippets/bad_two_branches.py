"""Two branches of one choice, or none of a required one: no constructor overload matches
(at run time, ChoiceError)."""

from anpr_client.models.common import TipoGeneralita, TipoResidenza

TipoGeneralita(cognome="ROSSI", senzaCognome="1", nome="MARIO")  # E: call-overload
TipoResidenza(tipoIndirizzo="1")  # E: call-overload
