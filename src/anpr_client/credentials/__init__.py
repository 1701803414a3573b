"""Key sources: where private keys live and how to sign with them.

One small interface, :class:`KeySource` ("sign these bytes with RSA/SHA-x, give me your
certificate, unwrap this key"), shared by the XML-DSig, SAML and CMS code. Implementations:

=========================  ==================================================================
:class:`SoftwareKey`       PKCS#12 file + password, or PEM key + certificate
:class:`Pkcs11KeySource`   a token or smart card through a PKCS#11 module (python-pkcs11)
:class:`PcscKeySource`     a card in a PC/SC reader through ISO 7816 APDUs (pyscard)
=========================  ==================================================================

:func:`load_key_source` builds one from a :class:`~anpr_client.settings.KeySourceConfig`.
Keys are loaded once (loading validates the key: ~40 ms); reuse the returned object.
PINs and passwords come from a callback or from the environment variable the settings name;
they are never stored in settings, objects, messages or logs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from anpr_client.credentials.base import (
    HashName,
    KeySource,
    SecretCallback,
    SecretPrompt,
    can_ask,
    digest_info,
    env_var_name,
    resolve_secret,
)
from anpr_client.credentials.identity import (
    codice_fiscale_from_certificate,
    validate_codice_fiscale,
)
from anpr_client.credentials.software import SoftwareKey
from anpr_client.errors.exceptions import ConfigurationError

if TYPE_CHECKING:
    from anpr_client.credentials.pcsc import PcscKeySource
    from anpr_client.credentials.pkcs11 import Pkcs11KeySource
    from anpr_client.settings import KeySourceConfig

_T = TypeVar("_T")

__all__ = [
    "HashName",
    "KeySource",
    "PcscKeySource",
    "Pkcs11KeySource",
    "SecretCallback",
    "SecretPrompt",
    "SoftwareKey",
    "codice_fiscale_from_certificate",
    "digest_info",
    "load_key_source",
    "resolve_secret",
    "validate_codice_fiscale",
]


def __getattr__(name: str) -> object:
    # The token back ends import optional extras: load them on first use only.
    if name == "Pkcs11KeySource":
        from anpr_client.credentials.pkcs11 import Pkcs11KeySource

        return Pkcs11KeySource
    if name == "PcscKeySource":
        from anpr_client.credentials.pcsc import PcscKeySource

        return PcscKeySource
    raise AttributeError(name)


def load_key_source(
    config: KeySourceConfig,
    *,
    secret: SecretCallback | None = None,
    purpose: str = "key",
) -> KeySource:
    """Open the key source ``config`` describes (once; keep the result).

    ``secret(prompt)`` returns a password or PIN; without it, the environment variable named
    by ``password_env``/``pin_env`` is read. ``purpose`` names the settings section in prompts
    and errors (``comune_key``, ``workstation``, ``tls_client``, ``operator``).
    """
    if config.kind == "pkcs12":
        path = _need(config.path, f"{purpose}.pkcs12")
        password = resolve_secret(
            f"password of {path.name} ({purpose})",
            env_var=config.password_env,
            callback=secret,
            setting=f"{purpose}.password_env",
            required=False,
        )
        return SoftwareKey.from_pkcs12(path, password, trusted=True)
    if config.kind == "pem":
        pem_key = _need(config.pem_key, f"{purpose}.pem_key")
        pem_cert = _need(config.pem_cert, f"{purpose}.pem_cert")
        password = resolve_secret(
            f"password of {pem_key.name} ({purpose})",
            env_var=config.password_env,
            callback=secret,
            setting=f"{purpose}.password_env",
            required=False,
        )
        return SoftwareKey.from_pem(pem_key, pem_cert, password, trusted=True)
    if config.kind == "pkcs11":
        from anpr_client.credentials.pkcs11 import Pkcs11KeySource

        module = _need(config.pkcs11_module, f"{purpose}.pkcs11_module")
        token_label = _need(config.token_label, f"{purpose}.token_label")
        prompt = f"PIN of token {token_label!r} ({purpose})"
        return Pkcs11KeySource(
            module,
            token_label=token_label,
            key_label=_need(config.key_label, f"{purpose}.key_label"),
            cert_label=config.cert_label,
            pin=_pin_source(prompt, config.pin_env, secret, f"{purpose}.pin_env"),
        )
    if config.kind == "pcsc":
        from anpr_client.credentials.pcsc import PcscKeySource

        reader = _need(config.pcsc_reader, f"{purpose}.pcsc_reader")
        prompt = f"PIN of the card in {reader!r} ({purpose})"
        return PcscKeySource(
            reader,
            pin=_pin_source(prompt, config.pin_env, secret, f"{purpose}.pin_env"),
        )
    raise ConfigurationError(f"unknown key source kind {config.kind!r}", setting=purpose)


def _need(value: _T | None, setting: str) -> _T:
    if value is None:
        raise ConfigurationError(
            f"setting {setting!r} is required by this key source", setting=setting, rule="required"
        )
    return value


def _pin_source(
    prompt: str, env_var: str | None, callback: SecretCallback | None, setting: str
) -> Callable[[], str]:
    # Check the configuration now, so a missing variable fails at load time, not mid-request.
    if env_var:
        env_var_name(env_var, setting=setting)
    elif not can_ask(callback):
        resolve_secret(prompt, env_var=None, callback=None, setting=setting)

    def pin() -> str:
        value = resolve_secret(prompt, env_var=env_var, callback=callback, setting=setting)
        assert value is not None
        return value

    return pin
