"""The operator's identity: a codice fiscale, given or read from a CNS certificate.

The SAML ``NameID`` is the operator's codice fiscale (ANPR-FACTS §3.5). It comes from the
settings (validated here) or from the operator's smart card: Italian CNS authentication
certificates carry it in the subject, as ``CN=<codice fiscale>/<card id>.<hash>`` and, on
newer cards, also in ``serialNumber`` (``TINIT-<cf>`` or ``IT:<cf>``).

:mod:`anpr_client.validation.codicefiscale` is the project's full validator and is used when
present; the small private check here (format, *omocodia* letters, check character) is only a
fallback for trimmed installations.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Callable
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from anpr_client.errors.exceptions import (
    ConfigurationError,
    CredentialError,
    InvalidChecksum,
    InvalidFormat,
    ValidationError,
)

__all__ = ["codice_fiscale_from_certificate", "validate_codice_fiscale"]

_CF: Final = re.compile(
    r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]"
)
# Values of the characters in odd positions (1st, 3rd, …) for the check character.
_ODD: Final = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        (
            *(1, 0, 5, 7, 9, 13, 15, 17, 19, 21),  # digits
            *(1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22),
            *(25, 24, 23),  # letters A–Z
        ),
        strict=True,
    )
)


def _even(c: str) -> int:
    return int(c) if c.isdigit() else ord(c) - ord("A")


def _check_char(first15: str) -> str:
    total = sum(_ODD[c] if i % 2 == 0 else _even(c) for i, c in enumerate(first15))
    return chr(ord("A") + total % 26)


def _private_validate(value: str) -> str:
    cf = value.replace(" ", "").upper()
    if len(cf) != 16 or not _CF.fullmatch(cf):
        raise InvalidFormat(
            "a personal codice fiscale has 16 characters: 6 letters, birth date and place, "
            "check letter",
            field="codice_fiscale",
            rule="format",
        )
    if _check_char(cf[:15]) != cf[15]:
        raise InvalidChecksum(field="codice_fiscale", rule="check character")
    return cf


def _validator() -> Callable[[str], object]:
    """The project's full validator when present, else the small private check above."""
    with contextlib.suppress(ImportError, AttributeError):
        full: Callable[[str], object] = importlib.import_module(
            "anpr_client.validation.codicefiscale"
        ).validate
        return full
    return _private_validate


def validate_codice_fiscale(value: str, *, setting: str = "operator.codice_fiscale") -> str:
    """Return the compact codice fiscale, or raise :class:`ConfigurationError` naming the rule."""
    try:
        result = _validator()(value)
    except ValidationError as exc:
        raise ConfigurationError(
            f"setting {setting!r} is not a valid codice fiscale: {exc}",
            setting=setting,
            rule=exc.rule or "codice fiscale",
        ) from None
    return str(result)


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
    validate = _validator()
    for candidate in candidates:
        try:
            return str(validate(candidate))
        except ValidationError:
            continue
    raise CredentialError(
        "the card certificate carries no codice fiscale in its subject "
        f"({certificate.subject.rfc4514_string()})"
    )
