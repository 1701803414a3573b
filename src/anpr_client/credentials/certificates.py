"""What a certificate says about whom it names and when it is valid, checked before sending.

ANPR's gateway refuses a frame signed with an expired or not-yet-valid certificate, or with
the certificate of another Comune than the request's ``IdSede``, with the same opaque
``Rejected by policy`` it answers for an IP address that is not on the allow-list: the causes a
fault lists cannot tell them apart. What can be checked on this machine is checked here, so
the frame (:meth:`~anpr_client.security.frame.WsSecurity.from_settings`) refuses such a key
before anything is sent, and ``anpr doctor`` reports the same facts with the same words.

ANPR names its certificates after what they identify (italia/anpr#4236, #1905): the Comune's
``<ISTAT>-CO-9999`` (other ``CO`` numbers exist, italia/anpr#4932) and the workstations'
``<ISTAT>-PC-<nnnn>``; the shape is :data:`~anpr_client._identifiers.WORKSTATION_ID`.

>>> comune_of_name("058091-CO-9999"), comune_of_name("RSSMRA80A01H501U/7420000100012345.x")
('058091', None)
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from .._identifiers import WORKSTATION_ID
from ..errors.exceptions import ConfigurationError

__all__ = [
    "EXPIRY_WARNING_DAYS",
    "common_name",
    "comune_of",
    "comune_of_name",
    "refuse_unusable",
    "validity_problem",
]

EXPIRY_WARNING_DAYS: Final = 30
"""A certificate expiring within this many days is worth a warning (``anpr doctor``)."""


def common_name(certificate: x509.Certificate, *, issuer: bool = False) -> str | None:
    """The subject's (or, with ``issuer``, the issuer's) first ``CN``, or ``None``."""
    name = certificate.issuer if issuer else certificate.subject
    names = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def comune_of_name(name: str | None) -> str | None:
    """The ISTAT code of an ANPR certificate or workstation name (``058091-PC-0001``), or
    ``None`` when ``name`` does not have that shape."""
    if name is None or not WORKSTATION_ID.fullmatch(name):
        return None
    return name[:6]


def comune_of(certificate: x509.Certificate) -> str | None:
    """The ISTAT code in the certificate's ``CN`` (``058091-CO-9999`` → ``058091``), or
    ``None`` when its ``CN`` is not an ANPR certificate name."""
    return comune_of_name(common_name(certificate))


def validity_problem(certificate: x509.Certificate, now: dt.datetime | None = None) -> str | None:
    """Why ``certificate`` is not valid at ``now`` (default: the current time), or ``None``."""
    now = now or dt.datetime.now(dt.UTC)
    if certificate.not_valid_after_utc < now:
        return f"expired on {certificate.not_valid_after_utc.isoformat()}"
    if certificate.not_valid_before_utc > now:
        return f"is not valid before {certificate.not_valid_before_utc.isoformat()}"
    return None


def refuse_unusable(
    certificate: x509.Certificate,
    *,
    setting: str,
    codice_istat: str,
    now: dt.datetime | None = None,
) -> None:
    """Raise :class:`~anpr_client.errors.ConfigurationError` naming ``setting`` when ANPR
    would refuse a frame signed with ``certificate``: outside its validity, or named after
    another Comune than ``codice_istat``.

    A certificate whose ``CN`` is not an ANPR name (``<ISTAT>-CO-nnnn``, ``<ISTAT>-PC-nnnn``)
    is let through here: it may be a deployment's own naming, and ``anpr doctor`` reports it.
    """
    subject = certificate.subject.rfc4514_string()
    problem = validity_problem(certificate, now)
    if problem is not None:
        raise ConfigurationError(
            f"the certificate of setting '{setting}' ({subject}) {problem}: ANPR refuses a frame "
            "signed with it (Rejected by policy); configure a valid certificate",
            setting=setting,
            rule="a certificate valid now",
        )
    comune = comune_of(certificate)
    if comune is not None and comune != codice_istat:
        raise ConfigurationError(
            f"the certificate of setting '{setting}' ({subject}) belongs to Comune {comune}, "
            f"not to codice_istat {codice_istat}: ANPR refuses it (Rejected by policy); "
            "configure this Comune's certificate or correct codice_istat",
            setting=setting,
            rule="the certificate's Comune equals codice_istat",
        )
