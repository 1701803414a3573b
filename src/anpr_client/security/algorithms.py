"""The XML-DSig algorithms of ANPR's frame, one vocabulary: enums whose values are the W3C URIs.

As in signxml's ``algorithms.py``, each algorithm is a member whose value is its identifier in
the XML (``SignatureMethod.RSA_SHA256.value`` is the ``Algorithm`` URI), so the policy, the
signer and the verifier speak of the same thing. Settings and the command line use the short
name, the URI's fragment (``rsa-sha256``, ``rsa-sha1``), mapped to a member by
:meth:`SignatureMethod.from_name`::

    >>> SignatureMethod.from_name("rsa-sha256") is SignatureMethod.RSA_SHA256
    True
    >>> SignatureMethod.RSA_SHA1.digest_method is DigestMethod.SHA1
    True
    >>> SignatureMethod.RSA_SHA256.short_name
    'rsa-sha256'

The members are strings (:class:`enum.StrEnum`), so a URI read from a message compares equal
to its member. Only what ANPR's frame uses is listed (RSA PKCS#1 v1.5 with SHA-256 or SHA-1,
exclusive c14n, the enveloped-signature transform); SHA-1 is here because ANPR's reference
client still signs with it, and a :class:`~anpr_client.security.policy.SecurityPolicy` refuses
it unless asked for by name.
"""

from __future__ import annotations

import enum
from typing import Self

from anpr_client.credentials.base import HashName
from anpr_client.errors.exceptions import ConfigurationError

__all__ = ["CanonicalizationMethod", "DigestMethod", "SignatureMethod", "Transform"]


class _Algorithm(enum.StrEnum):
    """An algorithm identified by a URI; its short name is the URI's fragment."""

    @property
    def short_name(self) -> str:
        """The name settings use: the URI's fragment (``rsa-sha256``), else its last segment."""
        head, _, fragment = self.value.rpartition("#")
        return fragment or head.rpartition("/")[2]

    @classmethod
    def from_name(cls, name: object, *, setting: str | None = None) -> Self:
        """The member whose short name (or URI) is ``name``; a member is returned as it is.

        Anything else raises :class:`~anpr_client.errors.ConfigurationError` listing the
        allowed names (``setting`` names the setting it came from, if any).
        """
        if isinstance(name, cls):
            return name
        if isinstance(name, str):
            key = name.strip()
            for member in cls:
                if key in (member.short_name, member.value):
                    return member
        allowed = " | ".join(m.short_name for m in cls)
        where = f"setting {setting!r} = " if setting else ""
        raise ConfigurationError(
            f"{where}{name!r} is not a known {_WORDS[cls.__name__]}: use {allowed}",
            setting=setting,
            rule=allowed,
        )


class DigestMethod(_Algorithm):
    """``ds:DigestMethod/@Algorithm``."""

    SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
    SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"

    @property
    def hash(self) -> HashName:
        """The hash it computes (the name :class:`~anpr_client.credentials.KeySource` takes)."""
        return _DIGEST_HASH[self]


class SignatureMethod(_Algorithm):
    """``ds:SignatureMethod/@Algorithm``: RSA PKCS#1 v1.5 with a hash."""

    RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"

    @property
    def digest_method(self) -> DigestMethod:
        """The digest method our signer pairs with it for the references."""
        return _PAIRED_DIGEST[self]

    @property
    def hash(self) -> HashName:
        """The hash signed over ``SignedInfo``."""
        return self.digest_method.hash


class CanonicalizationMethod(_Algorithm):
    """``ds:CanonicalizationMethod/@Algorithm`` (also usable as a reference transform)."""

    EXCLUSIVE_XML_CANONICALIZATION_1_0 = "http://www.w3.org/2001/10/xml-exc-c14n#"


class Transform(_Algorithm):
    """A ``ds:Transform/@Algorithm`` that is not a canonicalization."""

    ENVELOPED_SIGNATURE = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"


_DIGEST_HASH: dict[DigestMethod, HashName] = {
    DigestMethod.SHA256: "sha256",
    DigestMethod.SHA1: "sha1",
}
_PAIRED_DIGEST: dict[SignatureMethod, DigestMethod] = {
    SignatureMethod.RSA_SHA256: DigestMethod.SHA256,
    SignatureMethod.RSA_SHA1: DigestMethod.SHA1,
}
_WORDS = {
    "DigestMethod": "digest method",
    "SignatureMethod": "signature algorithm",
    "CanonicalizationMethod": "canonicalization method",
    "Transform": "transform",
}
