"""What every PostgreSQL store of the library shares (the journal, the notification inbox):
importing psycopg with a clear error when the extra is missing, the ``?`` placeholders of the
shared SQL in psycopg's style, and messages that never show a password."""

from __future__ import annotations

import re
from typing import Any, Final

from .errors.exceptions import ConfigurationError

__all__ = ["placeholders", "psycopg_module", "redact_url", "server_message"]

_PASSWORD: Final = re.compile(r"(://[^:/@?#]*:)[^@/?#]*@")
_PASSWORD_PARAM: Final = re.compile(r"(?i)(password=)[^&\s]*")
_QMARK: Final = re.compile(r"'[^']*'|\?")


def redact_url(url: str) -> str:
    """``url`` with its password (``user:secret@`` or ``?password=``) replaced by ``***``."""
    return _PASSWORD_PARAM.sub(r"\1***", _PASSWORD.sub(r"\1***@", url))


def psycopg_module(setting: str, what: str) -> Any:
    """``psycopg``, or a :class:`~anpr_client.errors.ConfigurationError` naming the extra.

    :param setting: the setting that asked for PostgreSQL (``journal``, ``notifications.store``).
    :param what: the store, for the message (``a PostgreSQL journal``).
    """
    try:
        import psycopg
    except ImportError:
        raise ConfigurationError(
            f'{what} needs psycopg: pip install "anpr-client[postgresql]"',
            setting=setting,
            rule="the postgresql extra",
        ) from None
    return psycopg


def placeholders(statement: str, _cache: dict[str, str] = {}) -> str:  # noqa: B006
    """``?`` placeholders (outside quoted literals) as psycopg's ``%s`` (a literal ``%``
    doubled)."""
    done = _cache.get(statement)
    if done is None:
        done = _cache[statement] = _QMARK.sub(
            lambda m: "%s" if m.group() == "?" else m.group().replace("%", "%%"), statement
        )
    return done


def server_message(exc: BaseException, url: str) -> str:
    """The first line of the server's message, without the URL's password should it be
    quoted."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return redact_url(text.replace(url, redact_url(url)))
