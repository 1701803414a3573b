"""The operator's identity: a codice fiscale, given or read from a CNS certificate.

The SAML ``NameID`` is the operator's codice fiscale, and the operator must be registered and
profiled in ANPR (italia/anpr#374). It comes from the settings (validated here) or from the
operator's smart card: Italian CNS authentication certificates carry it in the subject, as
``CN=<codice fiscale>/<card id>.<hash>`` and, on newer cards, also in ``serialNumber``
(``TINIT-<cf>`` or ``IT:<cf>``).

Both are checked by the project's one codice fiscale validator,
:func:`anpr_client.validation.codicefiscale.validate` (format, *omocodia* letters, check
character).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from anpr_client.errors.exceptions import ConfigurationError, CredentialError, ValidationError
from anpr_client.validation import codicefiscale

__all__ = ["codice_fiscale_from_certificate", "validate_codice_fiscale"]


def validate_codice_fiscale(value: str, *, setting: str = "operator.codice_fiscale") -> str:
    """Return the compact codice fiscale, or raise :class:`ConfigurationError` naming the rule."""
    try:
        result = codicefiscale.validate(value)
    except ValidationError as exc:
        raise ConfigurationError(
            f"setting {setting!r} is not a valid codice fiscale: {exc}",
            setting=setting,
            rule=exc.rule or "codice fiscale",
        ) from None
    return result


def codice_fiscale_from_certificate(certificate: x509.Certificate) -> str:
    """The codice fiscale in a CNS-style certificate subject (``serialNumber`` or ``CN``)."""
    candidates: list[str] = []
    for attr in certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
        value = str(attr.value).strip().upper()
        for prefix in ("TINIT-", "IT:", "TIN:IT-"):
            if value.startswith(prefix):
                value = value[len(prefix) :]
        candidates.append(value)
    for attr in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        candidates.append(str(attr.value).split("/", 1)[0].strip().upper())
    for candidate in candidates:
        try:
            return codicefiscale.validate(candidate)
        except ValidationError:
            continue
    raise CredentialError(
        "the card certificate carries no codice fiscale in its subject "
        f"({certificate.subject.rfc4514_string()})"
    )
