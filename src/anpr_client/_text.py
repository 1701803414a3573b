"""Text files that must be UTF-8: what anpr-client reads (settings, payloads, mappings), decoded
or refused with the file's name and the encoding it is in."""

from __future__ import annotations

import codecs

from .errors.exceptions import ConfigurationError

__all__ = ["decode_utf8"]

_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32 LE"),
    (codecs.BOM_UTF32_BE, "UTF-32 BE"),
    (codecs.BOM_UTF8, "UTF-8 with a byte-order mark"),
    (codecs.BOM_UTF16_LE, "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "UTF-16 BE"),
)
"""Byte-order marks, the longest first (UTF-32 LE starts like UTF-16 LE)."""


def decode_utf8(data: bytes, name: str, *, setting: str = "input", kind: str = "") -> str:
    """``data`` as UTF-8 text, or a :class:`ConfigurationError` naming ``name`` and the
    encoding it is in (the error names ``setting``): a byte-order mark (UTF-8's, UTF-16's,
    UTF-32's) is refused too, since JSON (RFC 8259 §8.1), TOML and ANPR's payloads are plain
    UTF-8. ``kind`` says what the file is, for the message (``settings file``).
    """
    label = f"{kind} {name!r}" if kind else repr(name)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            raise ConfigurationError(
                f"{label} is {encoding}, not plain UTF-8: save it as UTF-8 without a "
                "byte-order mark (BOM)",
                setting=setting,
                rule="UTF-8 without BOM",
            )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigurationError(
            f"{label} is not UTF-8: byte 0x{byte:02x} at line {line} (offset {exc.start}) "
            "is not valid UTF-8; the file is probably in Latin-1 or Windows-1252: save it as "
            "UTF-8",
            setting=setting,
            rule="UTF-8 without BOM",
        ) from None
