"""The key-source interface shared by every signer: "sign these bytes, here is my certificate".

XML-DSig, CMS and the TLS helper never touch key files, PINs or PKCS#11 sessions: they receive
a :class:`KeySource`. Implementations: :class:`~anpr_client.credentials.software.SoftwareKey`
(PKCS#12 or PEM), :class:`~anpr_client.credentials.pkcs11.Pkcs11KeySource` (tokens and smart
cards through a PKCS#11 module) and :class:`~anpr_client.credentials.pcsc.PcscKeySource` (raw
ISO 7816 APDUs through PC/SC).

Every key is RSA; signatures are PKCS#1 v1.5. Tokens get the hash computed on the host and a
``DigestInfo`` signed with ``CKM_RSA_PKCS`` (the one mechanism every card offers), which yields
exactly the same bytes as a hash-on-token mechanism.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from typing import Final, Literal, Protocol, runtime_checkable

from cryptography import x509

from anpr_client.errors.exceptions import ConfigurationError, CredentialError

__all__ = [
    "DIGEST_INFO_PREFIX",
    "ENV_VAR_NAME",
    "HashName",
    "KeySource",
    "SecretCallback",
    "SecretPrompt",
    "can_ask",
    "digest_info",
    "env_var_name",
    "hash_bytes",
    "resolve_secret",
]

HashName = Literal["sha256", "sha1"]

SecretCallback = Callable[[str], str]
"""Asked for a PIN or password: receives a prompt naming what is asked for (never a secret)
and returns the secret. It may raise to cancel."""


class SecretPrompt:
    """A :data:`SecretCallback` asked only for what the environment does not provide.

    A plain callback is asked first, whatever the environment holds. A prompt (a subclass:
    the command line's asks on the terminal, without echo) is asked only when the settings
    name no variable or name one that is not set, and only when :meth:`available` (a
    terminal is there to ask on); otherwise the usual error says which variable to set. What
    it returns is handed to the key source and kept nowhere.
    """

    def available(self) -> bool:
        """Whether there is someone to ask (a terminal)."""
        return False

    def __call__(self, prompt: str) -> str:
        raise CredentialError(f"nobody to ask for the {prompt}")


def can_ask(callback: SecretCallback | None) -> bool:
    """Whether ``callback`` may be called now: a plain callback always, a
    :class:`SecretPrompt` when :meth:`~SecretPrompt.available`."""
    if isinstance(callback, SecretPrompt):
        return callback.available()
    return callback is not None


def _prompt(callback: SecretCallback | None) -> SecretPrompt | None:
    """``callback`` when it is a :class:`SecretPrompt` that can ask now."""
    if isinstance(callback, SecretPrompt) and callback.available():
        return callback
    return None


#: DER prefix of PKCS#1 ``DigestInfo`` (RFC 8017 §9.2 note 1) for each hash we sign with.
DIGEST_INFO_PREFIX: Final[dict[str, bytes]] = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
}


@runtime_checkable
class KeySource(Protocol):
    """An RSA private key, wherever it lives, and its X.509 certificate.

    Implementations load (and log in) once and are then reused; ``sign`` and ``decrypt`` are
    safe to call from several threads (token sessions are serialised with a lock).
    """

    @property
    def certificate(self) -> x509.Certificate:
        """The certificate of the key (the one placed in BinarySecurityToken, KeyInfo, CMS)."""
        ...

    def sign(self, data: bytes, hash: HashName = "sha256") -> bytes:
        """RSA PKCS#1 v1.5 signature of ``data`` hashed with ``hash``.

        Raises :class:`~anpr_client.errors.CredentialError` (or a subclass: PIN refused,
        card removed…) when the key cannot sign.
        """
        ...

    def decrypt(self, ciphertext: bytes) -> bytes:
        """RSA PKCS#1 v1.5 decryption (key unwrap of a CMS content-encryption key)."""
        ...


def hash_bytes(data: bytes, hash: HashName) -> bytes:
    """The digest of ``data`` with ``hash`` (only the names in :data:`HashName`)."""
    if hash == "sha256":
        return hashlib.sha256(data).digest()
    if hash == "sha1":
        return hashlib.sha1(data, usedforsecurity=False).digest()
    raise CredentialError(f"unsupported hash {hash!r}: use sha256 or sha1")


def digest_info(data: bytes, hash: HashName) -> bytes:
    """DER ``DigestInfo`` of ``data``: what a token signs with ``CKM_RSA_PKCS``."""
    return DIGEST_INFO_PREFIX[hash] + hash_bytes(data, hash)


ENV_VAR_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What an environment variable's name looks like (POSIX: letters, digits and ``_``, not a
digit first). Settings that *name* a variable holding a secret (``password_env``,
``pin_env``) must look like this."""


def _asked(callback: SecretCallback, prompt: str) -> str:
    value = callback(prompt)
    if not isinstance(value, str):
        raise CredentialError(f"the secret callback returned no text for: {prompt}")
    return value


def env_var_name(value: object, *, setting: str) -> str:
    """``value``, checked to be an environment variable's *name* (:data:`ENV_VAR_NAME`).

    A value that does not look like a name is most likely the secret itself, typed where its
    variable's name belongs (``password_env = "My-Secret!"``): the error names the setting and
    the rule and never shows the value, and nothing keeps it.
    """
    if not isinstance(value, str) or not ENV_VAR_NAME.fullmatch(value):
        raise ConfigurationError(
            f"the value of {setting} is not a variable name (not shown): {setting} names the "
            "environment variable that holds the secret (letters, digits and _, not a digit "
            "first), never the secret itself",
            setting=setting,
            rule="[A-Za-z_][A-Za-z0-9_]*",
        )
    return value


def resolve_secret(
    prompt: str,
    *,
    env_var: str | None,
    callback: SecretCallback | None,
    setting: str,
    required: bool = True,
) -> str | None:
    """Fetch a PIN or password: from ``callback`` when given, else from ``$env_var``.

    A :class:`SecretPrompt` callback comes after the environment instead: it is asked when
    ``$env_var`` is not set (or, ``required``, when no variable is named) and it can ask.
    ``prompt`` and ``setting`` only ever name *what* is asked for. Returns ``None`` when
    nothing is configured and ``required`` is false (an unencrypted key file).
    """
    if callback is not None and not isinstance(callback, SecretPrompt):
        return _asked(callback, prompt)
    ask = _prompt(callback)
    if env_var:
        env_var = env_var_name(env_var, setting=setting)
        from_env = os.environ.get(env_var)
        if from_env is None and ask is not None:
            return _asked(ask, prompt)
        if from_env is None:
            raise ConfigurationError(
                f"environment variable {env_var} (named by '{setting}') is not set",
                setting=setting,
                rule="environment variable must be set",
            )
        return from_env
    if required and ask is not None:
        return _asked(ask, prompt)
    if required:
        raise ConfigurationError(
            f"no secret source for {prompt}: set '{setting}' to the name of an environment "
            "variable, or pass a secret callback",
            setting=setting,
            rule="password_env / pin_env or a callback",
        )
    return None
