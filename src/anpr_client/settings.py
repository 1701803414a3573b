"""Settings: immutable, typed, checked at construction, loadable from TOML and the environment.

A settings file (found via ``--config PATH`` or ``ANPR_CONFIG``)::

    environment = "test"                  # produzione | test | presubentro
    codice_istat = "058091"               # codMittente
    cod_destinatario = "ANPR05"           # optional
    base_url = "https://127.0.0.1:8443"   # optional: replaces the environment's host
    ca_bundle = "ca.pem"                  # optional: trust anchors for the server certificate
    journal = "anpr-journal.sqlite"       # optional: the operation journal (default: the user's
                                          # data directory; false: no journal)
    [application]
    name = "GESTIONALE"
    version = "1.0"
    vendor = "ACME SRL"

plus the ``[operator]``, ``[comune_key]``, ``[workstation]``, ``[tls_client]``, ``[tls]``,
``[security]``, ``[timeouts]``, ``[limits]``, ``[retry]``, ``[validation]`` and
``[notifications]`` tables documented in ``docs/configuration.md``. Relative paths are
resolved against the file's directory.

Secrets never live in settings: a key source names the *environment variable* that holds its
password or PIN (``password_env``, ``pin_env``), or the caller passes a callback in code.

Environment variables override the file: ``ANPR_ENVIRONMENT``, ``ANPR_CODICE_ISTAT``,
``ANPR_COD_DESTINATARIO``, ``ANPR_BASE_URL``, ``ANPR_CA_BUNDLE``, ``ANPR_WSDL_DIR``,
``ANPR_JOURNAL``, ``ANPR_OPERATOR_CF``, ``ANPR_APP_NAME``, ``ANPR_APP_VERSION``,
``ANPR_APP_VENDOR``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from ._identifiers import GENERIC_TEST_OPERATOR as _GENERIC_TEST_OPERATOR
from ._identifiers import ISTAT_CODE as _ISTAT
from ._identifiers import WORKSTATION_ID as _WORKSTATION_ID
from .credentials.base import env_var_name
from .endpoints import ENVIRONMENTS, Environment, family_path
from .errors.exceptions import ConfigurationError
from .security.algorithms import SignatureMethod

__all__ = [
    "DEFAULT_MAX_ANSWER_BYTES",
    "ApplicationIdentity",
    "KeySourceConfig",
    "Limits",
    "NotificationSettings",
    "OperatorSettings",
    "PullSettings",
    "RetrySettings",
    "SecuritySettings",
    "Settings",
    "Timeouts",
    "TlsSettings",
    "ValidationSettings",
    "WorkstationSettings",
    "default_journal_path",
    "journal_from_env",
    "journal_path",
    "load_settings",
]

# Patterns of the testataRichiesta fields we fill from settings (their types in tipoDato.xsd).
_APP_NAME = re.compile(r"[0-9a-zA-Z. ]{1,80}")
_APP_VERSION = re.compile(r"[0-9a-zA-Z. \-]{1,80}")
_COD_DESTINATARIO = re.compile(r"[0-9a-zA-Z ]{1,6}")

_T = TypeVar("_T")


def _require(value: str, pattern: re.Pattern[str], setting: str, rule: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ConfigurationError(
            f"setting {setting!r} = {value!r} is invalid: it must match {rule}",
            setting=setting,
            rule=rule,
        )
    return value


@dataclass(frozen=True)
class ApplicationIdentity:
    """``nomeApplicativo`` / ``versioneApplicativo`` / ``fornitoreApplicativo``.

    Checked against the XSD patterns at construction: letters, digits, dots and spaces (the
    version and vendor also allow ``-``), at most 80 characters; no ``_``, ``&`` or ``'``.
    """

    name: str
    version: str
    vendor: str

    def __post_init__(self) -> None:
        _require(self.name, _APP_NAME, "application.name", "[0-9a-zA-Z. ]{1,80}")
        _require(self.version, _APP_VERSION, "application.version", "[0-9a-zA-Z. -]{1,80}")
        _require(self.vendor, _APP_VERSION, "application.vendor", "[0-9a-zA-Z. -]{1,80}")


@dataclass(frozen=True)
class Timeouts:
    """Seconds to open a connection and to wait for an answer. Always set; never infinite."""

    connect: float = 10.0
    read: float = 120.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigurationError(
                    f"setting 'timeouts.{f.name}' = {value!r} must be a positive number of seconds",
                    setting=f"timeouts.{f.name}",
                    rule="> 0",
                )


DEFAULT_MAX_ANSWER_BYTES: Final = 64 * 1024 * 1024
"""64 MiB: far above any answer ANPR sends (a 4005 page, a certificate PDF, an extraction),
and the same cap the hardened XML parser puts on a document."""


@dataclass(frozen=True)
class Limits:
    """Bounds on what one answer may cost (``[limits]``); each one reached is a typed error.

    An answer that breaks one arrives after the request was sent, so the error says the outcome
    is unknown (:class:`~anpr_client.errors.AnswerLimitExceeded`): the journal resends the
    operation with the same id, it never settles it with a truncated answer.
    """

    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    """The largest answer accepted, as received (a declared ``Content-Length`` above it is
    refused before reading) and once decompressed (``Content-Encoding``)."""
    answer_deadline: float | None = None
    """Seconds one attempt may take in all, from opening the connection to the answer's last
    byte (the read timeout bounds each wait; this bounds their sum). ``None``: the connect
    timeout plus twice the read timeout (250 s with the default timeouts)."""
    max_mtom_parts: int = 1000
    """The most parts an MTOM (``multipart/related``) answer may have."""
    journal_answer_bytes: int = 1024 * 1024
    """How much of each attempt's answer the journal keeps with the attempt (the answer that
    settles an operation is kept whole)."""

    def __post_init__(self) -> None:
        for name in ("max_answer_bytes", "max_mtom_parts", "journal_answer_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(
                    f"setting 'limits.{name}' = {value!r} must be a positive integer",
                    setting=f"limits.{name}",
                    rule="integer >= 1",
                )
        deadline = self.answer_deadline
        if deadline is not None and (
            isinstance(deadline, bool) or not isinstance(deadline, int | float) or deadline <= 0
        ):
            raise ConfigurationError(
                f"setting 'limits.answer_deadline' = {deadline!r} must be a positive number of "
                "seconds",
                setting="limits.answer_deadline",
                rule="> 0",
            )

    def deadline(self, timeouts: Timeouts) -> float:
        """The seconds one attempt may take with ``timeouts`` (see :attr:`answer_deadline`)."""
        if self.answer_deadline is not None:
            return float(self.answer_deadline)
        return float(timeouts.connect + 2 * timeouts.read)


@dataclass(frozen=True)
class TlsSettings:
    """Whom the client trusts for the server's certificate (``[tls]``).

    ``ca_bundle`` is the trust: with it, exactly its CAs are trusted. ``trust_system`` adds
    the system's store (OpenSSL's default paths, ``SSL_CERT_FILE``): ``None`` (the default)
    only when no ``ca_bundle`` is given, ``True`` always, ``False`` never (``ca_bundle`` is then
    required). No other bundle (certifi's, ``REQUESTS_CA_BUNDLE``) is ever trusted.
    """

    trust_system: bool | None = None
    allow_plain_http: bool = False
    """Accept an ``http://`` ``base_url`` on a loopback host (``127.0.0.1``, ``::1``,
    ``localhost``): a local simulator or TLS-terminating proxy on this machine. ANPR is only
    served over HTTPS; any other plain ``http://`` address is refused."""


_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "::1", "localhost"})


def _checked_base_url(url: str, tls: TlsSettings) -> str:
    """``url`` without its trailing ``/``: ``https://``, or ``http://`` to a loopback host
    when ``[tls] allow_plain_http`` says so; anything else is a ConfigurationError."""
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ConfigurationError(
            f"setting 'base_url' = {url!r} must start with https://",
            setting="base_url",
            rule="absolute URL",
        )
    url = url.rstrip("/")
    if url.startswith("http://"):
        from urllib.parse import urlsplit

        try:
            host = urlsplit(url).hostname
        except ValueError:
            host = None
        if not (tls.allow_plain_http and host in _LOOPBACK_HOSTS):
            raise ConfigurationError(
                f"setting 'base_url' = {url!r} is plain HTTP: ANPR is served over HTTPS only. "
                "Use https://; for a local simulator or proxy on this machine (a loopback "
                "host) set allow_plain_http = true in [tls]",
                setting="base_url",
                rule="https://, or http:// to a loopback host with [tls] allow_plain_http",
            )
    return url


KeyKind = Literal["pkcs12", "pem", "pkcs11", "pcsc"]
_ENV_NAME_FIELDS = ("password_env", "pin_env")
"""Key-source settings that name an environment variable (checked by ``env_var_name``: a
value that is no name is never shown, it may be the secret itself)."""


@dataclass(frozen=True)
class KeySourceConfig:
    """Where a private key and its certificate live. Holds names of secrets, never secrets.

    - ``pkcs12``: ``path`` + ``password_env``;
    - ``pem``: ``pem_key`` + ``pem_cert`` (+ ``password_env`` if the key is encrypted);
    - ``pkcs11``: ``pkcs11_module`` + ``token_label`` + ``key_label`` (+ ``cert_label``,
      default ``key_label``) + ``pin_env`` (or a PIN callback given in code);
    - ``pcsc``: ``pcsc_reader`` (a PC/SC reader name) + ``pin_env``: raw ISO 7816 APDUs with
      the CNS profile (see :mod:`anpr_client.credentials.pcsc`; prefer ``pkcs11``).
    """

    kind: KeyKind
    path: Path | None = None
    password_env: str | None = None
    pem_key: Path | None = None
    pem_cert: Path | None = None
    pkcs11_module: Path | None = None
    token_label: str | None = None
    key_label: str | None = None
    cert_label: str | None = None
    pin_env: str | None = None
    pcsc_reader: str | None = None

    def __post_init__(self) -> None:
        for key in _ENV_NAME_FIELDS:
            value = getattr(self, key)
            if value is not None:
                env_var_name(value, setting=key)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, section: str, base: Path) -> KeySourceConfig:
        known = {
            "pkcs12",
            "password_env",
            "pem_key",
            "pem_cert",
            "pkcs11_module",
            "token_label",
            "key_label",
            "cert_label",
            "pin_env",
            "pcsc_reader",
            "id",
        }
        for key in data:
            if key not in known:
                raise ConfigurationError(
                    f"unknown setting '{section}.{key}'", setting=f"{section}.{key}", rule="unknown"
                )
        for secret in ("password", "pin"):
            if secret in data:  # pragma: no cover - caught by the unknown-key check above
                raise ConfigurationError("secrets are not accepted in settings files")
        str_fields = (
            "password_env",
            "token_label",
            "key_label",
            "cert_label",
            "pin_env",
            "pcsc_reader",
        )
        for key in str_fields:
            if key in data and not isinstance(data[key], str):
                raise ConfigurationError(
                    f"setting '{section}.{key}' must be a string", setting=f"{section}.{key}"
                )
        for key in _ENV_NAME_FIELDS:
            if key in data:
                env_var_name(data[key], setting=f"{section}.{key}")
        if "pkcs12" in data:
            return cls(
                "pkcs12",
                path=_path(data["pkcs12"], base, f"{section}.pkcs12"),
                password_env=data.get("password_env"),
            )
        if "pem_key" in data or "pem_cert" in data:
            if "pem_key" not in data or "pem_cert" not in data:
                raise ConfigurationError(
                    f"'{section}' needs both pem_key and pem_cert",
                    setting=section,
                    rule="pem_key + pem_cert",
                )
            return cls(
                "pem",
                pem_key=_path(data["pem_key"], base, f"{section}.pem_key"),
                pem_cert=_path(data["pem_cert"], base, f"{section}.pem_cert"),
                password_env=data.get("password_env"),
            )
        if "pkcs11_module" in data:
            for key in ("token_label", "key_label"):
                if key not in data:
                    raise ConfigurationError(
                        f"'{section}' uses pkcs11_module and needs {key}",
                        setting=f"{section}.{key}",
                        rule="required with pkcs11_module",
                    )
            return cls(
                "pkcs11",
                pkcs11_module=_path(data["pkcs11_module"], base, f"{section}.pkcs11_module"),
                token_label=data["token_label"],
                key_label=data["key_label"],
                cert_label=data.get("cert_label"),
                pin_env=data.get("pin_env"),
            )
        if "pcsc_reader" in data:
            return cls("pcsc", pcsc_reader=data["pcsc_reader"], pin_env=data.get("pin_env"))
        raise ConfigurationError(
            f"'{section}' must name a key source: pkcs12, pem_key + pem_cert, pkcs11_module "
            "or pcsc_reader",
            setting=section,
            rule="one key source",
        )


@dataclass(frozen=True)
class OperatorSettings:
    """The operator named in the SAML assertion (NameID): a codice fiscale, or read from a card.

    In the ``test`` environment only, ``codice_fiscale`` may also be one of ANPR's generic
    test users (``COMUNETEST019025``, italia/anpr#374; ``USERSFREETEST237``, #2594); the
    settings check it against the environment (:attr:`Settings.operator_id`).
    """

    codice_fiscale: str | None = None
    from_card: bool = False
    card: KeySourceConfig | None = None
    """The operator's card (PKCS#11) when ``from_card`` is set."""

    def __post_init__(self) -> None:
        if self.codice_fiscale is None and not self.from_card:
            raise ConfigurationError(
                "[operator] needs codice_fiscale or from_card = true",
                setting="operator",
                rule="codice_fiscale | from_card",
            )


@dataclass(frozen=True)
class WorkstationSettings:
    """The workstation (``IdPostazione``, e.g. ``058091-PC-0001``) and its key."""

    id: str
    key: KeySourceConfig | None = None

    def __post_init__(self) -> None:
        _require(self.id, _WORKSTATION_ID, "workstation.id", "NNNNNN-PC-NNNN or NNNNNN-CO-NNNN")


@dataclass(frozen=True)
class SecuritySettings:
    signature: SignatureMethod = SignatureMethod.RSA_SHA256
    """The message and assertion signature method. Files and callers may give its short name
    (``rsa-sha256``, ``rsa-sha1``): it is mapped to the member. rsa-sha256 is the default, but
    ANPR's acceptance of it is inferred, not shown: every frame on the public record that ANPR
    accepted is rsa-sha1 (see docs/security.md)."""
    application_id: str | None = None
    """``IdApplicazione`` in the SAML assertion. ``None`` (not set): the value of ANPR's
    official sample client, ``12345`` (its ``ID_APPLICAZIONE``). What ANPR expects there is
    not published: every known value is numeric, gateways let each application configure its
    own (GovWay), and nothing shows that ANPR checks it. A file may write it as a number."""
    issuer: str = "XS"
    timestamp_ttl: int = 300
    """Seconds between ``wsu:Created`` and ``wsu:Expires`` (and the assertion's validity)."""
    subject_locality: str | None = None
    """``SubjectLocality/@Address``; default: this host's primary address."""

    def __post_init__(self) -> None:
        method = SignatureMethod.from_name(self.signature, setting="security.signature")
        object.__setattr__(self, "signature", method)
        if self.application_id is not None and (
            not isinstance(self.application_id, str)
            or not self.application_id.strip()
            or not self.application_id.isprintable()
        ):
            raise ConfigurationError(
                f"setting 'security.application_id' = {self.application_id!r} must be a "
                "non-empty printable text (IdApplicazione; every known value is numeric)",
                setting="security.application_id",
                rule="non-empty text",
            )
        if not 30 <= self.timestamp_ttl <= 3600:
            raise ConfigurationError(
                "setting 'security.timestamp_ttl' must be between 30 and 3600 seconds",
                setting="security.timestamp_ttl",
                rule="30..3600",
            )


@dataclass(frozen=True)
class RetrySettings:
    max_attempts: int = 4
    backoff: float = 0.5
    """First delay in seconds; doubled at each attempt (with jitter)."""
    max_backoff: float = 30.0
    reconcile: bool = False
    """On an unknown outcome, look the operation up with 3003 before resending."""


@dataclass(frozen=True)
class ValidationSettings:
    before_send: bool = True
    """Run the local pre-transmission checks before sending (opt-out)."""
    comuni: Path | None = None
    """A comuni archive in ANPR's public format; default: the bundled sample."""


@dataclass(frozen=True)
class PullSettings:
    """Bounds of one 4005 pull (``[notifications.pull]``): reaching one is a
    :class:`~anpr_client.errors.PullLimitError` and the poller's checkpoint stays."""

    max_pages: int = 200
    """Result pages (``progressivo``) fetched per pull, over all windows."""
    max_requests: int = 1000
    """4005 calls per pull (``elaborazione``, every ``verificaStato`` "not ready" included)."""
    max_page_bytes: int = 256 * 1024 * 1024
    """Decompressed contents of one result page, in all (a gzip bomb stops here)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigurationError(
                    f"setting 'notifications.pull.{f.name}' = {value!r} must be a positive integer",
                    setting=f"notifications.pull.{f.name}",
                    rule=">= 1",
                )


@dataclass(frozen=True)
class NotificationSettings:
    store: Path | None = None
    decrypt_keys: tuple[KeySourceConfig, ...] = ()
    """Comune keys tried in order (CO-9999, then CO-9998…)."""
    anpr_ca: Path | None = None
    """Trust anchors for ANPR's notification signing certificate."""
    pull: PullSettings = field(default_factory=PullSettings)
    """Bounds of a 4005 pull."""
    signer_subjects: tuple[str, ...] = ()
    """Subject names (RFC 4514) of ANPR's notification signer: a certificate of ``anpr_ca``
    with another subject is refused. Several may be listed (a renewal)."""
    signer_fingerprints: tuple[str, ...] = ()
    """SHA-256 fingerprints of accepted notification signer certificates (besides subjects)."""
    timestamp_max_age: float = 1500.0
    """Oldest accepted ``wsu:Created`` of a push, seconds (plus ``clock_skew``): 25 minutes,
    ANPR's whole redelivery schedule (5 attempts, 5 minutes apart)."""
    clock_skew: float = 60.0
    """Seconds of clock difference tolerated with ANPR (Timestamp, certificates)."""
    require_timestamp: bool = True
    """A push must carry a signed ``wsu:Timestamp`` with ``Created`` and ``Expires``."""

    def __post_init__(self) -> None:
        for name in ("signer_subjects", "signer_fingerprints"):
            value = getattr(self, name)
            items = (value,) if isinstance(value, str) else tuple(value)
            if not all(isinstance(item, str) for item in items):
                raise ConfigurationError(
                    f"setting 'notifications.{name}' must be a list of strings",
                    setting=f"notifications.{name}",
                    rule="list of strings",
                )
            object.__setattr__(self, name, items)
        for name, low, high in (("timestamp_max_age", 60, 86400), ("clock_skew", 0, 3600)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ConfigurationError(
                    f"setting 'notifications.{name}' = {value!r} must be between {low} and "
                    f"{high} seconds",
                    setting=f"notifications.{name}",
                    rule=f"{low}..{high}",
                )


@dataclass(frozen=True)
class Settings:
    """Everything the client needs to address ANPR and fill ``testataRichiesta``."""

    codice_istat: str
    environment: Environment = Environment.TEST
    cod_destinatario: str = "ANPR05"
    base_url: str | None = None
    ca_bundle: Path | None = None
    application: ApplicationIdentity | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    limits: Limits = field(default_factory=Limits)
    """Bounds on an answer's size and time (``[limits]``)."""
    tls: TlsSettings = field(default_factory=TlsSettings)
    """Whom the server's certificate may chain to besides ``ca_bundle`` (``[tls]``)."""
    wsdl_dir: Path | None = None
    journal: Path | None = None
    """The operation journal file; ``None``: the default path (see :attr:`journal_path`)."""
    journal_enabled: bool = True
    """``False`` (``journal = false``, ``ANPR_JOURNAL=off``): a :class:`~anpr_client.Client`
    built from these settings keeps no journal unless given one."""
    operator: OperatorSettings | None = None
    comune_key: KeySourceConfig | None = None
    workstation: WorkstationSettings | None = None
    tls_client: KeySourceConfig | None = None
    security: SecuritySettings = field(default_factory=SecuritySettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    source: Path | None = None
    """The settings file these came from, if any."""

    def __post_init__(self) -> None:
        given: object = self.environment  # callers may pass the plain name
        if not isinstance(given, Environment):
            try:
                object.__setattr__(self, "environment", Environment(str(given)))
            except ValueError:
                raise ConfigurationError(
                    f"setting 'environment' = {self.environment!r} must be one of "
                    + ", ".join(e.value for e in Environment),
                    setting="environment",
                    rule="produzione | test | presubentro",
                ) from None
        _require(self.codice_istat, _ISTAT, "codice_istat", "six digits (ISTAT code)")
        _require(self.cod_destinatario, _COD_DESTINATARIO, "cod_destinatario", "[0-9a-zA-Z ]{1,6}")
        if self.base_url is not None:
            object.__setattr__(self, "base_url", _checked_base_url(self.base_url, self.tls))
        if self.wsdl_dir is not None:
            object.__setattr__(self, "wsdl_dir", _checked_wsdl_dir(self.wsdl_dir))
        if self.operator is not None and self.operator.codice_fiscale is not None:
            _operator_id(self.operator.codice_fiscale, self.environment)

    @property
    def operator_id(self) -> str | None:
        """The SAML NameID of ``[operator] codice_fiscale``: the codice fiscale in its compact
        form, or (test environment only) one of ANPR's generic test users as written; ``None``
        when the operator is read from a card or not configured."""
        if self.operator is None or self.operator.codice_fiscale is None:
            return None
        return _operator_id(self.operator.codice_fiscale, self.environment)

    @property
    def tipo_invio(self) -> str:
        return ENVIRONMENTS[self.environment].tipo_invio

    @property
    def host(self) -> str:
        """Scheme and host requests go to: ``base_url`` if set, else the environment's host."""
        return self.base_url or ENVIRONMENTS[self.environment].host

    @property
    def journal_path(self) -> Path | None:
        """The operation journal's file (see :func:`journal_path`); ``None`` when switched
        off."""
        return journal_path(self.journal, enabled=self.journal_enabled)

    def url_for(self, family: str) -> str:
        """The full endpoint URL of a service family."""
        return self.host + family_path(family, self.environment)

    def replace(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _checked_wsdl_dir(value: object) -> Path:
    """``wsdl_dir`` as an absolute path to a directory holding an ANPR WSDL/XSD bundle: an
    empty, missing or mistyped directory is refused here, never replaced by our bundle."""
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        raise ConfigurationError(
            f"setting 'wsdl_dir' = {value!r} must name a directory",
            setting="wsdl_dir",
            rule="a directory with an ANPR WSDL/XSD bundle",
        )
    path = Path(value).expanduser().absolute()
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a directory"
        raise ConfigurationError(
            f"setting 'wsdl_dir' = {str(path)!r} {what}",
            setting="wsdl_dir",
            rule="a directory with an ANPR WSDL/XSD bundle",
        )
    from .soap.bundle import get_bundle

    get_bundle(path)  # refuses a directory without any ANPR WSDL, naming wsdl_dir
    return path


def _operator_id(value: str, environment: Environment) -> str:
    """The NameID for ``operator.codice_fiscale`` in ``environment``, or ConfigurationError."""
    if isinstance(value, str) and _GENERIC_TEST_OPERATOR.fullmatch(value):
        if environment is Environment.TEST:
            return value
        raise ConfigurationError(
            f"setting 'operator.codice_fiscale' = {value!r} is one of ANPR's generic test "
            f"users, accepted only in the test environment (this is {environment.value})",
            setting="operator.codice_fiscale",
            rule="a codice fiscale; generic test users only with environment = test",
        )
    from .credentials.identity import validate_codice_fiscale

    return validate_codice_fiscale(value, setting="operator.codice_fiscale")


def default_journal_path() -> Path:
    """``<user data dir>/anpr-client/journal.sqlite`` (platformdirs)."""
    from platformdirs import user_data_path

    return user_data_path("anpr-client", appauthor=False) / "journal.sqlite"


def journal_path(journal: Path | None = None, *, enabled: bool = True) -> Path | None:
    """Where the operation journal lives: the file named by the settings (``journal``, or
    ``$ANPR_JOURNAL``), else :func:`default_journal_path`; ``None`` when switched off.

    The one rule for the journal's place: the client, the notification inbox (which shares the
    journal's file unless given its own) and ``anpr journal`` all follow it.
    """
    if not enabled:
        return None
    return journal if journal is not None else default_journal_path()


_ENV_SWITCH = {"off": False, "false": False, "no": False, "on": True, "true": True, "yes": True}
"""``ANPR_JOURNAL`` values that switch the journal off (or on, at its default path)."""


def journal_from_env(env: Mapping[str, str]) -> Path | bool | None:
    """What ``ANPR_JOURNAL`` says: a path (absolute), ``False`` (``off``), ``True`` (``on``: the
    settings' file or the default one), or ``None`` when it is not set."""
    value = env.get("ANPR_JOURNAL", "").strip()
    if not value:
        return None
    switch = _ENV_SWITCH.get(value.lower())
    if switch is not None:
        return switch
    return Path(value).expanduser().absolute()


def _path(value: object, base: Path, setting: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"setting {setting!r} must be a path", setting=setting)
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"'{key}' must be a table", setting=key, rule="table")
    return value


def _typed(value: Any, kind: type[_T], setting: str) -> _T:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigurationError(
            f"setting {setting!r} must be of type {kind.__name__}", setting=setting, rule="type"
        )
    return value


def _dataclass_from(
    cls: Callable[..., _T], data: Mapping[str, Any], section: str, types: Mapping[str, type]
) -> _T:
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in types:
            raise ConfigurationError(
                f"unknown setting '{section}.{key}'", setting=f"{section}.{key}", rule="unknown"
            )
        kwargs[key] = _typed(value, types[key], f"{section}.{key}")
    return cls(**kwargs)


_TOP_LEVEL = {
    "environment",
    "codice_istat",
    "cod_destinatario",
    "base_url",
    "ca_bundle",
    "wsdl_dir",
    "journal",
    "application",
    "timeouts",
    "limits",
    "tls",
    "operator",
    "comune_key",
    "workstation",
    "tls_client",
    "security",
    "retry",
    "validation",
    "notifications",
}


_PIN_LISTS = ("signer_subjects", "signer_fingerprints")


def settings_from_mapping(data: Mapping[str, Any], *, base: Path, source: Path | None) -> Settings:
    """Build :class:`Settings` from a parsed TOML document (relative paths against ``base``)."""
    for key in data:
        if key not in _TOP_LEVEL:
            raise ConfigurationError(f"unknown setting {key!r}", setting=key, rule="unknown")
    if "codice_istat" not in data:
        raise ConfigurationError(
            "setting 'codice_istat' is required", setting="codice_istat", rule="required"
        )
    kwargs: dict[str, Any] = {"source": source}
    for key in ("environment", "codice_istat", "cod_destinatario", "base_url"):
        if key in data:
            kwargs[key] = _typed(data[key], str, key)
    if isinstance(data.get("journal"), bool):  # journal = false | true (the default path)
        kwargs["journal_enabled"] = data["journal"]
        data = {k: v for k, v in data.items() if k != "journal"}
    for key in ("ca_bundle", "wsdl_dir", "journal"):
        if key in data:
            kwargs[key] = _path(data[key], base, key)
    if "application" in data:
        app = _table(data, "application")
        missing = [k for k in ("name", "version", "vendor") if k not in app]
        if missing:
            raise ConfigurationError(
                f"[application] needs {', '.join(missing)}", setting="application", rule="required"
            )
        kwargs["application"] = _dataclass_from(
            ApplicationIdentity, app, "application", {"name": str, "version": str, "vendor": str}
        )
    if "timeouts" in data:
        kwargs["timeouts"] = _dataclass_from(
            Timeouts, _table(data, "timeouts"), "timeouts", {"connect": float, "read": float}
        )
    if "limits" in data:
        kwargs["limits"] = _dataclass_from(
            Limits,
            _table(data, "limits"),
            "limits",
            {
                "max_answer_bytes": int,
                "answer_deadline": float,
                "max_mtom_parts": int,
                "journal_answer_bytes": int,
            },
        )
    if "tls" in data:
        kwargs["tls"] = _dataclass_from(
            TlsSettings,
            _table(data, "tls"),
            "tls",
            {"trust_system": bool, "allow_plain_http": bool},
        )
    if "operator" in data:
        op = dict(_table(data, "operator"))
        card_keys = {
            "pkcs11_module",
            "token_label",
            "key_label",
            "cert_label",
            "pin_env",
            "pcsc_reader",
        }
        card_data = {k: op.pop(k) for k in list(op) if k in card_keys}
        card = (
            KeySourceConfig.from_mapping(card_data, section="operator", base=base)
            if card_data
            else None
        )
        kwargs["operator"] = _dataclass_from(
            lambda **kw: OperatorSettings(card=card, **kw),
            op,
            "operator",
            {"codice_fiscale": str, "from_card": bool},
        )
    for key in ("comune_key", "tls_client"):
        if key in data:
            kwargs[key] = KeySourceConfig.from_mapping(_table(data, key), section=key, base=base)
    if "workstation" in data:
        ws = dict(_table(data, "workstation"))
        if "id" not in ws:
            raise ConfigurationError(
                "[workstation] needs id (IdPostazione)", setting="workstation.id", rule="required"
            )
        ws_id = _typed(ws.pop("id"), str, "workstation.id")
        ws_key = KeySourceConfig.from_mapping(ws, section="workstation", base=base) if ws else None
        kwargs["workstation"] = WorkstationSettings(id=ws_id, key=ws_key)
    if "security" in data:
        security = dict(_table(data, "security"))
        number = security.get("application_id")
        if isinstance(number, int) and not isinstance(number, bool):
            security["application_id"] = str(number)  # IdApplicazione = 12345, unquoted
        kwargs["security"] = _dataclass_from(
            SecuritySettings,
            security,
            "security",
            {
                "signature": str,
                "application_id": str,
                "issuer": str,
                "timestamp_ttl": int,
                "subject_locality": str,
            },
        )
    if "retry" in data:
        kwargs["retry"] = _dataclass_from(
            RetrySettings,
            _table(data, "retry"),
            "retry",
            {"max_attempts": int, "backoff": float, "max_backoff": float, "reconcile": bool},
        )
    if "validation" in data:
        val = dict(_table(data, "validation"))
        comuni = _path(val.pop("comuni"), base, "validation.comuni") if "comuni" in val else None
        kwargs["validation"] = _dataclass_from(
            lambda **kw: ValidationSettings(comuni=comuni, **kw),
            val,
            "validation",
            {"before_send": bool},
        )
    if "notifications" in data:
        nt = dict(_table(data, "notifications"))
        scalars: dict[str, type] = {
            "timestamp_max_age": float,
            "clock_skew": float,
            "require_timestamp": bool,
        }
        for key in nt:
            if key not in ("store", "decrypt_keys", "anpr_ca", "pull", *_PIN_LISTS, *scalars):
                raise ConfigurationError(
                    f"unknown setting 'notifications.{key}'", setting=f"notifications.{key}"
                )
        extra: dict[str, Any] = {
            key: _typed(nt[key], kind, f"notifications.{key}")
            for key, kind in scalars.items()
            if key in nt
        }
        for key in _PIN_LISTS:
            if key in nt:
                extra[key] = tuple(_typed(nt[key], list, f"notifications.{key}"))
        keys = nt.get("decrypt_keys", [])
        if not isinstance(keys, list):
            raise ConfigurationError(
                "'notifications.decrypt_keys' must be an array of tables",
                setting="notifications.decrypt_keys",
            )
        kwargs["notifications"] = NotificationSettings(
            store=_path(nt["store"], base, "notifications.store") if "store" in nt else None,
            decrypt_keys=tuple(
                KeySourceConfig.from_mapping(
                    _table({"k": k}, "k"), section=f"notifications.decrypt_keys[{i}]", base=base
                )
                for i, k in enumerate(keys)
            ),
            anpr_ca=_path(nt["anpr_ca"], base, "notifications.anpr_ca")
            if "anpr_ca" in nt
            else None,
            pull=_dataclass_from(
                PullSettings,
                _table(nt, "pull") if "pull" in nt else {},
                "notifications.pull",
                {"max_pages": int, "max_requests": int, "max_page_bytes": int},
            ),
            **extra,
        )
    return Settings(**kwargs)


_ENV_STR = {
    "ANPR_ENVIRONMENT": "environment",
    "ANPR_CODICE_ISTAT": "codice_istat",
    "ANPR_COD_DESTINATARIO": "cod_destinatario",
    "ANPR_BASE_URL": "base_url",
}
_ENV_PATH = {"ANPR_CA_BUNDLE": "ca_bundle", "ANPR_WSDL_DIR": "wsdl_dir"}


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Load settings from ``path`` (or ``$ANPR_CONFIG``), then environment variables, then
    ``overrides`` given in code (highest precedence)."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    source: Path | None = None
    if path is None and env.get("ANPR_CONFIG"):
        path = env["ANPR_CONFIG"]
    if path is not None:
        source = Path(path).expanduser().resolve()
        try:
            with source.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigurationError(
                f"settings file {str(source)!r} does not exist", setting="config"
            ) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"settings file {str(source)!r} is not valid TOML: {exc}", setting="config"
            ) from None
        except OSError as exc:
            raise ConfigurationError(
                f"settings file {str(source)!r} cannot be read: {exc.strerror or exc}",
                setting="config",
            ) from None
    base = source.parent if source else Path.cwd()
    for var, key in _ENV_STR.items():
        if env.get(var):
            data[key] = env[var]
    for var, key in _ENV_PATH.items():
        if env.get(var):
            data[key] = str(Path(env[var]).expanduser().absolute())
    switch = journal_from_env(env)
    if isinstance(switch, Path):
        data["journal"] = str(switch)
    elif switch is False or (switch is True and not isinstance(data.get("journal"), str)):
        data["journal"] = switch  # on: the file's path if it names one, else the default
    app_env = {
        "name": env.get("ANPR_APP_NAME"),
        "version": env.get("ANPR_APP_VERSION"),
        "vendor": env.get("ANPR_APP_VENDOR"),
    }
    if any(app_env.values()):
        app = dict(data.get("application", {}))
        app.update({k: v for k, v in app_env.items() if v})
        data["application"] = app
    if env.get("ANPR_OPERATOR_CF"):
        op = dict(data.get("operator", {}))
        op["codice_fiscale"] = env["ANPR_OPERATOR_CF"]
        op.pop("from_card", None)
        data["operator"] = op
    settings = settings_from_mapping(data, base=base, source=source)
    return replace(settings, **overrides) if overrides else settings
