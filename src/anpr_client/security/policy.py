"""What a verifier accepts: a frozen, reviewable :class:`SecurityPolicy`.

Secure by default: SHA-256 family only, exclusive c14n only, Body and Timestamp signed, a
signed SAML assertion with the four ANPR attributes and a valid ``IdPostazioneFirmato``.
SHA-1 (what ANPR's reference client still emits, italia/anpr#1903, #2504) must be asked for
by name::

    policy = DEFAULT_POLICY.allowing_sha1()        # the gateway's view: sha1 and sha256
    policy = dataclasses.replace(DEFAULT_POLICY, clock_skew=120)

Presets:

- :data:`DEFAULT_POLICY`: a Comune's request as ANPR's gateway must see it (used by the
  simulator), SHA-256 only;
- :data:`NOTIFICATION_POLICY`: ANPR's N000 notifications (Body signed; no SAML; a signed,
  fresh Timestamp with ``Created`` and ``Expires``).

Every policy also bounds the work an unauthenticated message can cost before its signature is
known to be good: the document's size, its element count and depth (checked before any
canonicalisation), and the number of ``ds:Reference`` elements (checked before the signature
value, which is checked before any reference is digested).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.safexml import DEFAULT_MAX_BYTES
from anpr_client.security.algorithms import DigestMethod, SignatureMethod

__all__ = [
    "ANPR_ATTRIBUTES",
    "DEFAULT_POLICY",
    "NOTIFICATION_MAX_AGE",
    "NOTIFICATION_POLICY",
    "SecurityPolicy",
]

#: The SAML attributes every ANPR request carries (italia/anpr#2572, #2162; the official sample).
ANPR_ATTRIBUTES: Final = frozenset(
    {"IdSede", "IdPostazione", "IdPostazioneFirmato", "IdApplicazione"}
)


@dataclass(frozen=True)
class SecurityPolicy:
    """Expectations of :func:`~anpr_client.security.verify.verify_envelope`."""

    signature_methods: frozenset[SignatureMethod] = frozenset({SignatureMethod.RSA_SHA256})
    """XML-DSig signature methods accepted (message and assertion)."""
    digest_methods: frozenset[DigestMethod] = frozenset({DigestMethod.SHA256})
    """XML-DSig digest methods accepted."""
    cms_digests: frozenset[str] = field(default_factory=lambda: frozenset({"sha256"}))
    """Digest algorithms accepted in ``IdPostazioneFirmato`` (CMS SignedData)."""
    clock_skew: float = 60.0
    """Seconds of tolerated clock difference for Timestamp, SAML conditions and certificates."""
    max_ttl: float | None = 3600.0
    """Longest accepted Timestamp lifetime (Expires − Created), seconds; ``None``: unbounded."""
    require_timestamp: bool = True
    """A signed ``wsu:Timestamp`` must be present (a present one is always checked)."""
    require_assertion: bool = True
    """A signed SAML 2.0 assertion must be present."""
    required_attributes: frozenset[str] = ANPR_ATTRIBUTES
    """Assertion attributes that must be present with a non-empty value."""
    verify_id_postazione: bool = True
    """Verify the ``IdPostazioneFirmato`` CMS (content = IdPostazione, signer trusted)."""
    workstation_cn_must_match: bool = True
    """The CMS signer's CN must equal ``IdPostazione`` (certificates are named after it)."""
    same_signer: bool = True
    """The assertion must be signed by the certificate of the message signature (the BST)."""
    allow_x509_keyinfo: bool = True
    """Accept ``KeyInfo/X509Data`` in the message signature besides a reference to a BST."""
    require_expires: bool = False
    """The Timestamp must carry ``wsu:Expires`` (a ``Created`` alone never expires)."""
    max_age: float | None = None
    """Oldest accepted ``wsu:Created``, seconds before now (plus ``clock_skew``); ``None``: only
    ``Expires`` limits the age."""
    max_references: int = 2
    """Most ``ds:Reference`` elements in one signature: ANPR's frame signs the Timestamp and
    the Body, nothing else; the assertion's own signature has one."""
    max_document_bytes: int = DEFAULT_MAX_BYTES
    """Largest document the verifier parses."""
    max_elements: int = 200_000
    """Most elements in the document (counted before any canonicalisation)."""
    max_depth: int = 64
    """Deepest element nesting in the document (ANPR's requests nest about 15 levels)."""

    def __post_init__(self) -> None:
        for name, value, low in (
            ("max_references", self.max_references, 1),
            ("max_document_bytes", self.max_document_bytes, 1024),
            ("max_elements", self.max_elements, 8),
            ("max_depth", self.max_depth, 8),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigurationError(
                    f"policy {name} = {value!r} must be an integer >= {low}",
                    setting=f"policy.{name}",
                    rule=f">= {low}",
                )
        if self.max_age is not None and not self.max_age > 0:
            raise ConfigurationError(
                f"policy max_age = {self.max_age!r} must be positive or None",
                setting="policy.max_age",
                rule="> 0",
            )
        # URIs (or short names) given as plain strings become members; an unknown one is a
        # ConfigurationError listing the allowed names.
        object.__setattr__(
            self,
            "signature_methods",
            frozenset(SignatureMethod.from_name(m) for m in self.signature_methods),
        )
        object.__setattr__(
            self,
            "digest_methods",
            frozenset(DigestMethod.from_name(m) for m in self.digest_methods),
        )

    def allowing_sha1(self) -> SecurityPolicy:
        """This policy plus rsa-sha1/sha1 (XML-DSig) and SHA-1 (CMS)."""
        return replace(
            self,
            signature_methods=self.signature_methods | {SignatureMethod.RSA_SHA1},
            digest_methods=self.digest_methods | {DigestMethod.SHA1},
            cms_digests=self.cms_digests | {"sha1"},
        )


#: How old a notification's ``wsu:Created`` may be (on top of the clock skew): ANPR redelivers
#: an unacknowledged notification 5 times, 5 minutes apart (italia/anpr#3318), and whether
#: each attempt is signed afresh is not published, so the window covers the whole schedule.
NOTIFICATION_MAX_AGE: Final = 25 * 60.0

DEFAULT_POLICY: Final = SecurityPolicy()
NOTIFICATION_POLICY: Final = SecurityPolicy(
    require_timestamp=True,
    require_expires=True,
    max_age=NOTIFICATION_MAX_AGE,
    require_assertion=False,
    required_attributes=frozenset(),
    verify_id_postazione=False,
    same_signer=False,
    max_document_bytes=16 * 1024 * 1024,
    max_elements=10_000,
)
