"""The mistakes a face catches before run time: another operation's request, a value outside
the allowed ones, a missing argument, a field a result does not have."""

from __future__ import annotations

import datetime as dt

from anpr_client import Client
from anpr_client.models.iscrizione import Richiesta1002
from anpr_client.services import Address, Subject

client = Client.from_config("anpr.toml")
mother = Subject(codice_fiscale="MTALSE02C71H501W", surname="AMATO", name="ELISA")


def wrong_request(request: Richiesta1002) -> None:
    client.registrations.register_birth(request)  # E: arg-type


client.registrations.register_newborn(
    "VERDI",
    "LUCA",
    "X",  # E: arg-type
    dt.date(2026, 11, 18),
    "058091",
    mother=mother,
)
client.registrations.register_newborn(  # E: call-arg
    "VERDI", "LUCA", "M", dt.date(2026, 11, 18), "058091"
)
client.registrations.register_newborn(
    "VERDI",
    "LUCA",
    "M",
    dt.date(2026, 11, 18),
    "058091",
    mother=mother,
    household="father",  # E: arg-type
)
Address(comune="058091", street="APPIA")  # E: call-arg
client.cancellations.record_death_of(
    mother,
    died_on=dt.date(2026, 11, 19),
    role="boss",  # E: arg-type
)
pdf = client.certificates.certificate_pdf(mother, "8", officer_surname="R", officer_name="M")
print(pdf.value)  # E: attr-defined
