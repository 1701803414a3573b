"""Encryption at rest of the journal's personal-data columns (AES-256-GCM).

The journal holds personal data: request payloads, signed envelopes, ANPR's answers and the
error texts that echo values. With a key, those columns are sealed one by one with AES-256-GCM;
ids, operation codes, states, times and error *codes* stay in clear, so ``anpr journal pending``
can list what needs attention without the key.

Each sealed value is ``b"AG1" + nonce(12) + ciphertext+tag``. The associated data binds it to
its place (``<comune>/<idOperazioneComune>/<column>``), so a value copied into another row or
column does not open.

The key is 32 random bytes, given as URL-safe base64 (``anpr journal keygen`` prints one) in the
environment variable :data:`KEY_ENV` or passed in code. A journal created with a key needs it
for every later write and to read the sealed columns; a journal created without one refuses a
key (so nobody believes a clear-text journal is encrypted).
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors.exceptions import ConfigurationError

__all__ = ["KEY_ENV", "Sealer", "generate_key", "key_from_text"]

KEY_ENV: Final = "ANPR_JOURNAL_KEY"
"""The environment variable holding the journal key (URL-safe base64 of 32 bytes)."""

_MAGIC: Final = b"AG1"
_NONCE: Final = 12
_CHECK: Final = b"anpr-client journal key check"


def generate_key() -> str:
    """A new random key, as the URL-safe base64 text :func:`key_from_text` accepts."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def key_from_text(text: str, *, setting: str = KEY_ENV) -> bytes:
    """Decode a key given as base64 text; the error never repeats the text."""
    data = text.strip().encode("ascii", "replace")
    try:
        key = base64.b64decode(data + b"=" * (-len(data) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"the journal key in {setting} is not base64", setting=setting, rule="base64"
        ) from None
    if len(key) != 32:
        raise ConfigurationError(
            f"the journal key in {setting} must be 32 bytes (it has {len(key)})",
            setting=setting,
            rule="32 bytes",
        )
    return key


class Sealer:
    """Seals and opens column values with one key. ``repr`` never shows the key."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes):
        if len(key) != 32:
            raise ConfigurationError(
                "the journal key must be 32 bytes", setting=KEY_ENV, rule="32 bytes"
            )
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "Sealer(<key hidden>)"

    def seal(self, data: bytes, where: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return _MAGIC + nonce + self._aead.encrypt(nonce, data, where.encode("utf-8"))

    def open(self, blob: bytes, where: str) -> bytes:
        if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + _NONCE + 16:
            raise ConfigurationError(
                f"journal value {where} is not sealed as expected", setting="journal"
            )
        nonce = blob[len(_MAGIC) : len(_MAGIC) + _NONCE]
        try:
            return self._aead.decrypt(nonce, blob[len(_MAGIC) + _NONCE :], where.encode("utf-8"))
        except InvalidTag:
            raise ConfigurationError(
                f"journal value {where} does not open with this key (wrong key, or the value "
                "was altered or moved)",
                setting=KEY_ENV,
                rule="authentic",
            ) from None

    def check_value(self) -> bytes:
        """A sealed constant stored at creation, to tell a wrong key from a damaged value."""
        return self.seal(_CHECK, "key-check")

    def matches(self, check: bytes) -> bool:
        try:
            return self.open(check, "key-check") == _CHECK
        except ConfigurationError:
            return False
