"""The keys and the operator: the Comune certificate, the workstation certificate, the operator.

Each configured key source (a PKCS#12 or PEM file, a PKCS#11 token, a card) is opened as the
client opens it (:func:`~anpr_client.credentials.load_key_source`), then its certificate is
checked for what ANPR's gateway refuses with an opaque ``Rejected by policy``: a key that does
not match, a name that is not ANPR's (``<ISTAT>-CO-nnnn``, ``<ISTAT>-PC-nnnn``,
italia/anpr#4236, #1905), another Comune, a test certificate in production or the reverse
(ANPR's test and pre-subentro certificates are issued by "CA Postazioni Svil",
italia/anpr#474), a validity window that does not hold now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .._identifiers import GENERIC_TEST_OPERATOR
from ..credentials.certificates import (
    EXPIRY_WARNING_DAYS,
    common_name,
    comune_of_name,
    validity_problem,
)
from ..credentials.identity import codice_fiscale_from_certificate
from ..endpoints import Environment
from ..errors.exceptions import AnprError, ConfigurationError
from ..security.frame import check_workstation
from .model import Check, Verdict

if TYPE_CHECKING:
    from cryptography import x509

    from ..credentials.base import KeySource
    from ..settings import KeySourceConfig, Settings

__all__ = ["identity_checks"]

_PROBE = b"anpr doctor: does this key match its certificate?"
_TEST_ISSUER_WORDS = ("svil", "test")
"""Words naming ANPR's test CAs in an issuer's CN ("CA Postazioni Svil", italia/anpr#474)."""

_CNS = (
    "this is an operator's CNS card certificate (its subject carries the codice fiscale {cf}): "
    "the card identifies the operator, it is not the Comune's signing key, and ANPR refuses a "
    "frame signed with it (Rejected by policy)"
)
_CNS_FIX = (
    "configure the Comune's <ISTAT>-CO-9999 certificate as [comune_key]; to read the operator "
    "from the card, put its settings under [operator] with from_card = true"
)


def identity_checks(settings: Settings, now: dt.datetime | None = None) -> Iterator[Check]:
    """The checks of ``[comune_key]``, ``[workstation]`` and ``[operator]``."""
    now = now or dt.datetime.now(dt.UTC)
    comune = None
    if settings.comune_key is None:
        yield Check(
            "comune_key",
            Verdict.FAIL,
            "no [comune_key]: requests go unsigned, and ANPR refuses unsigned requests",
            fix="add [comune_key] with the Comune's <ISTAT>-CO-9999 certificate and key",
            setting="comune_key",
        )
    else:
        comune = yield from _key_source(settings, settings.comune_key, "comune_key", "CO", now)
    yield from _workstation(settings, comune, now)
    yield from _operator(settings, now)


def _open(config: KeySourceConfig, purpose: str) -> KeySource | Check:
    from ..credentials import load_key_source

    try:
        return load_key_source(config, purpose=purpose)
    except AnprError as exc:
        return Check(
            f"{purpose}.readable",
            Verdict.FAIL,
            f"cannot open the {config.kind} key source: {exc}",
            fix=f"check the files, token or card and the password/PIN variable of [{purpose}]",
            setting=getattr(exc, "setting", None) or purpose,
        )


def _close(source: KeySource) -> None:
    close = getattr(source, "close", None)
    if callable(close):
        close()


Extra = Callable[["x509.Certificate"], Iterator[Check]]


def _key_source(
    settings: Settings,
    config: KeySourceConfig,
    purpose: str,
    kind: str,
    now: dt.datetime,
    extra: Extra | None = None,
) -> Generator[Check, None, x509.Certificate | None]:
    """Open ``config`` and check its key and certificate; returns the certificate (or None)."""
    source = _open(config, purpose)
    if isinstance(source, Check):
        yield source
        return None
    try:
        certificate = source.certificate
        yield Check(
            f"{purpose}.readable",
            Verdict.OK,
            f"{config.kind} key source opened: {certificate.subject.rfc4514_string()}",
            setting=purpose,
        )
        yield _key_matches(source, purpose)
    finally:
        _close(source)
    yield from certificate_checks(certificate, settings, purpose, kind, now)
    if extra is not None:
        yield from extra(certificate)
    return certificate


def _key_matches(source: KeySource, purpose: str) -> Check:
    """Sign a probe with the key and verify it with the certificate's public key (a token's
    key is checked too, not only a file's)."""
    public = source.certificate.public_key()
    try:
        signature = source.sign(_PROBE, "sha256")
        matches = isinstance(public, rsa.RSAPublicKey)
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, _PROBE, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        matches = False
    except AnprError as exc:
        return Check(
            f"{purpose}.key",
            Verdict.FAIL,
            f"the key cannot sign: {exc}",
            fix="check the token or card and its PIN",
            setting=purpose,
        )
    if not matches:
        return Check(
            f"{purpose}.key",
            Verdict.FAIL,
            "a signature made with the key does not verify with the certificate's public key",
            fix=f"[{purpose}] must name the key of this certificate (or the certificate of "
            "this key)",
            setting=purpose,
        )
    return Check(
        f"{purpose}.key",
        Verdict.OK,
        "the key signs, and its signature verifies with the certificate",
        setting=purpose,
    )


def certificate_checks(
    certificate: x509.Certificate,
    settings: Settings,
    purpose: str,
    kind: str,
    now: dt.datetime,
) -> Iterator[Check]:
    """Subject shape, Comune, issuer against the environment, validity."""
    cn = common_name(certificate)
    istat = comune_of_name(cn)
    expected = f"{settings.codice_istat}-{kind}-nnnn"
    if istat is None:
        try:
            cf = codice_fiscale_from_certificate(certificate)
        except AnprError:
            cf = None
        if cf is not None:
            yield Check(
                f"{purpose}.subject",
                Verdict.FAIL,
                _CNS.format(cf=cf),
                fix=_CNS_FIX,
                setting=purpose,
            )
        else:
            yield Check(
                f"{purpose}.subject",
                Verdict.FAIL,
                f"the certificate's CN {cn!r} is not an ANPR certificate name ({expected})",
                fix=f"configure the certificate ANPR issued for this {_WHAT[kind]} "
                "(downloaded from ANPR's web application)",
                setting=purpose,
            )
    elif f"-{kind}-" not in (cn or ""):
        yield Check(
            f"{purpose}.subject",
            Verdict.WARN,
            f"CN {cn!r}: a {_WHAT[_OTHER[kind]]} certificate where the {_WHAT[kind]}'s "
            f"({expected}) is expected",
            fix=f"configure the {_WHAT[kind]}'s certificate ({expected})",
            setting=purpose,
        )
    else:
        yield Check(f"{purpose}.subject", Verdict.OK, f"CN {cn!r}", setting=purpose)
    if istat is not None:
        if istat == settings.codice_istat:
            yield Check(
                f"{purpose}.comune",
                Verdict.OK,
                f"the certificate is Comune {istat}'s, as codice_istat",
                setting=purpose,
            )
        else:
            yield Check(
                f"{purpose}.comune",
                Verdict.FAIL,
                f"the certificate ({cn}) belongs to Comune {istat}, not to codice_istat "
                f"{settings.codice_istat}: ANPR refuses it (Rejected by policy), and so does "
                "the client before sending",
                fix="configure this Comune's certificate, or correct codice_istat",
                setting=purpose,
            )
    yield _issuer(certificate, settings, purpose)
    yield _validity(certificate, purpose, now)


_WHAT = {"CO": "Comune", "PC": "workstation"}
_OTHER = {"CO": "PC", "PC": "CO"}


def _issuer(certificate: x509.Certificate, settings: Settings, purpose: str) -> Check:
    issuer = certificate.issuer.rfc4514_string()
    issuer_cn = (common_name(certificate, issuer=True) or "").casefold()
    test_issuer = any(word in issuer_cn for word in _TEST_ISSUER_WORDS)
    production = settings.environment is Environment.PRODUZIONE
    if test_issuer and production:
        return Check(
            f"{purpose}.issuer",
            Verdict.FAIL,
            f"issued by {issuer}, a test CA, and the environment is produzione: ANPR refuses "
            "test credentials in production (Rejected by policy; italia/anpr#474)",
            fix='configure the certificate issued for production, or set environment = "test"',
            setting=purpose,
        )
    if not test_issuer and not production:
        return Check(
            f"{purpose}.issuer",
            Verdict.WARN,
            f"issued by {issuer}, which does not name a test CA, and the environment is "
            f"{settings.environment.value}: a production certificate is refused there "
            "(ANPR's test certificates come from 'CA Postazioni Svil', italia/anpr#474)",
            fix="use the certificate issued for this environment, or check environment",
            setting=purpose,
        )
    return Check(
        f"{purpose}.issuer",
        Verdict.OK,
        f"issued by {issuer} (environment {settings.environment.value})",
        setting=purpose,
    )


def _validity(certificate: x509.Certificate, purpose: str, now: dt.datetime) -> Check:
    problem = validity_problem(certificate, now)
    if problem is not None:
        return Check(
            f"{purpose}.validity",
            Verdict.FAIL,
            f"the certificate {problem}: ANPR refuses it (Rejected by policy), and so does the "
            "client before sending",
            fix="download the current certificate from ANPR's web application and configure it",
            setting=purpose,
        )
    left = certificate.not_valid_after_utc - now
    until = certificate.not_valid_after_utc.date().isoformat()
    if left <= dt.timedelta(days=EXPIRY_WARNING_DAYS):
        return Check(
            f"{purpose}.validity",
            Verdict.WARN,
            f"valid until {until}: expires in {left.days} days",
            fix="renew it now (italia/anpr#4236): an expired certificate stops every request",
            setting=purpose,
        )
    evidence = f"valid until {until} ({left.days} days)"
    return Check(f"{purpose}.validity", Verdict.OK, evidence, setting=purpose)


def _workstation(
    settings: Settings, comune: x509.Certificate | None, now: dt.datetime
) -> Iterator[Check]:
    ws = settings.workstation
    if ws is None:
        yield Check(
            "workstation",
            Verdict.FAIL,
            "no [workstation]: the SAML assertion needs IdPostazione and IdPostazioneFirmato",
            fix="add [workstation] with id (<ISTAT>-PC-nnnn) and its certificate and key",
            setting="workstation",
        )
        return
    try:  # the rule the frame applies before signing, reported instead of raised
        check_workstation(ws.id, codice_istat=settings.codice_istat)
    except ConfigurationError as refused:
        yield Check(
            "workstation.id",
            Verdict.FAIL,
            str(refused),
            fix="set workstation.id to one of this Comune's workstations",
            setting="workstation.id",
        )
    if ws.key is None or ws.key == settings.comune_key:
        cn = None if comune is None else common_name(comune)
        verdict = Verdict.OK if cn == ws.id else Verdict.FAIL
        yield Check(
            "workstation.key",
            verdict,
            f"no workstation key: the Comune key ({cn}) signs IdPostazioneFirmato",
            fix=None
            if verdict is Verdict.OK
            else f"add the key of {ws.id} to [workstation] (pkcs12, pem or pkcs11 settings)",
            setting="workstation",
        )
        return
    kind = ws.id[7:9]

    def same_id(certificate: x509.Certificate) -> Iterator[Check]:
        cn = common_name(certificate)
        if cn != ws.id:
            yield Check(
                "workstation.id",
                Verdict.FAIL,
                f"workstation.id is {ws.id!r} but its certificate is {cn!r}: ANPR checks that "
                "IdPostazioneFirmato is signed by the certificate named IdPostazione",
                fix="set workstation.id to the certificate's CN, or configure that "
                "workstation's certificate",
                setting="workstation.id",
            )

    yield from _key_source(settings, ws.key, "workstation", kind, now, same_id)


def _operator(settings: Settings, now: dt.datetime) -> Iterator[Check]:
    op = settings.operator
    if op is None:
        yield Check(
            "operator",
            Verdict.FAIL,
            "no [operator]: the SAML NameID is the operator's codice fiscale",
            fix="add [operator] with codice_fiscale, or from_card = true and the card's settings",
            setting="operator",
        )
        return
    if op.codice_fiscale is not None:
        value = settings.operator_id or op.codice_fiscale
        if GENERIC_TEST_OPERATOR.fullmatch(value):
            yield Check(
                "operator",
                Verdict.OK,
                f"{value}: one of ANPR's generic test users (italia/anpr#374, #2594), "
                "accepted in the test environment only",
                setting="operator.codice_fiscale",
            )
        else:
            yield Check(
                "operator",
                Verdict.OK,
                f"{value}: a well-formed codice fiscale (format and check character); ANPR "
                "also needs it registered and profiled for this Comune (italia/anpr#374)",
                setting="operator.codice_fiscale",
            )
        return
    if op.card is None:
        yield Check(
            "operator",
            Verdict.FAIL,
            "from_card = true but no card settings",
            fix="add pkcs11_module, token_label, key_label and pin_env to [operator]",
            setting="operator",
        )
        return
    source = _open(op.card, "operator")
    if isinstance(source, Check):
        yield source
        return
    try:
        certificate = source.certificate
    finally:
        _close(source)
    try:
        cf = codice_fiscale_from_certificate(certificate)
    except AnprError as exc:
        yield Check(
            "operator",
            Verdict.FAIL,
            str(exc),
            fix="the card must be the operator's CNS (its certificate names the codice fiscale)",
            setting="operator",
        )
        return
    yield Check(
        "operator",
        Verdict.OK,
        f"{cf}, read from the card ({certificate.subject.rfc4514_string()})",
        setting="operator",
    )
    yield _validity(certificate, "operator", now)
