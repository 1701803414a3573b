"""The simulator's test PKI and the client settings files it writes for each Comune.

One CA (``CA Postazioni Test``, the role of ANPR's "CA Postazioni") issues, for every Comune,
its ``<ISTAT>-CO-9999`` certificate (signs the frame; recipient of encrypted notifications) and
its ``<ISTAT>-PC-0001`` workstation certificate, plus the simulator's TLS server certificate.
A second CA (``CA Utenti Test``, ANPR's "CA Utenti") issues the certificate that signs pushed
notifications. Everything is generated on first start with fresh keys
(:mod:`anpr_client.simulator.pki`) and reused from ``state_dir/pki`` afterwards;
keys are PEM files with mode 0600, unencrypted
(a test PKI: nothing here may ever be used in production).

Layout of ``state_dir``::

    anpr.toml                       settings of the first Comune
    comuni/<ISTAT>/anpr.toml        settings of every Comune (the first one's too)
    pki/ca.pem  pki/anpr-ca.pem     the two CAs (trust anchors)
    pki/server.{key,cert}.pem       TLS server
    pki/notifications.{key,cert}.pem
    pki/<ISTAT>/comune.{key,cert}.pem  pki/<ISTAT>/workstation.{key,cert}.pem
    pki/revoked.json                serials revoked with Simulator.revoke()
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from .._files import write_private_file
from .._version import __version__
from ..errors.exceptions import ConfigurationError
from ..validation import codicefiscale
from .pki import Identity, create_ca, generate_keys, issue_certificate, name

__all__ = ["ComuneIdentity", "SimulatorPki", "operator_cf", "write_settings"]

_OU: Final = (
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "Postazioni di lavoro"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "Anagrafe Nazionale Popolazione Residente"),
)
_LOCAL_NAMES: Final = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True, repr=False)
class ComuneIdentity:
    """A Comune's credentials: the CO certificate and a workstation."""

    istat: str
    comune: Identity
    workstation: Identity
    operator_cf: str

    @property
    def workstation_id(self) -> str:
        return self.workstation.common_name

    def __repr__(self) -> str:
        return f"<ComuneIdentity {self.istat} {self.comune.common_name} {self.workstation_id}>"


def operator_cf(istat: str, index: int) -> str:
    """A fictitious operator codice fiscale for the Comune's settings (valid check character)."""
    if index == 0:
        return "RSSMRA80A01H501U"
    return codicefiscale.calc("Bianchi", "Anna", "F", dt.date(1980, 1, 1 + index % 28), "H501")


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if private:
        write_private_file(path, data)
    else:
        path.write_bytes(data)


def _save(identity: Identity, directory: Path, stem: str) -> None:
    _write(directory / f"{stem}.key.pem", identity.key_pem(), private=True)
    _write(directory / f"{stem}.cert.pem", identity.cert_pem(with_chain=True))


def _load(directory: Path, stem: str) -> Identity:
    key_path = directory / f"{stem}.key.pem"
    cert_path = directory / f"{stem}.cert.pem"
    try:
        # The simulator wrote these keys itself (mode 0600): skip the costly RSA validation.
        key = serialization.load_pem_private_key(
            key_path.read_bytes(), None, unsafe_skip_rsa_key_validation=True
        )
        certs = x509.load_pem_x509_certificates(cert_path.read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot load the simulator's {stem} identity from {str(directory)!r}: {exc}",
            setting="simulator.state_dir",
            rule="a PKI written by the simulator",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(f"{key_path} is not an RSA key", setting="simulator.state_dir")
    return Identity(key, certs[0], tuple(certs[1:]))


def _save_ca(identity: Identity, directory: Path, stem: str) -> None:
    _save(identity, directory, stem)
    _write(directory / f"{stem}.pem", identity.cert_pem())


def _names(certificate: x509.Certificate) -> set[str]:
    try:
        ext = certificate.extensions.get_extension_for_oid(
            ExtensionOID.SUBJECT_ALTERNATIVE_NAME
        ).value
    except x509.ExtensionNotFound:
        return set()
    assert isinstance(ext, x509.SubjectAlternativeName)
    out = {str(n) for n in ext.get_values_for_type(x509.DNSName)}
    out |= {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)}
    return out


def _canonical_host(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


class SimulatorPki:
    """The simulator's identities (see the module docstring). Revocations are mutable."""

    def __init__(
        self,
        directory: Path,
        *,
        ca: Identity,
        anpr_ca: Identity,
        server: Identity,
        notifications: Identity,
        comuni: Mapping[str, ComuneIdentity],
        revoked: set[int] | None = None,
    ):
        self.directory = directory
        self.ca = ca
        self.anpr_ca = anpr_ca
        self.server = server
        self.notifications = notifications
        self.comuni = dict(comuni)
        self.revoked: set[int] = set(revoked or ())

    # ------------------------------------------------------------------ build / load

    @classmethod
    def open(cls, directory: Path, comuni: Sequence[str], *, host: str) -> SimulatorPki:
        """Load the PKI from ``directory``, creating whatever is missing."""
        directory.mkdir(parents=True, exist_ok=True)
        new_cas = not (directory / "ca.key.pem").exists()
        wanted = {*_LOCAL_NAMES, _canonical_host(host)} - {"0.0.0.0", "::"}  # noqa: S104
        server = _load(directory, "server") if (directory / "server.key.pem").exists() else None
        new_server = new_cas or server is None or not wanted <= _names(server.certificate)
        new_notifications = new_cas or not (directory / "notifications.key.pem").exists()
        new_comuni = [i for i in comuni if not (directory / i / "comune.key.pem").exists()]
        # Every key this PKI lacks, generated at once on every core (the slow part of a start).
        keys = iter(
            generate_keys(2 * new_cas + new_server + new_notifications + 2 * len(new_comuni))
        )
        if new_cas:
            ca = create_ca(
                name("CA Postazioni Test", (NameOID.ORGANIZATIONAL_UNIT_NAME, "ANPR")),
                key=next(keys),
            )
            anpr_ca = create_ca(
                name("CA Utenti Test", (NameOID.ORGANIZATIONAL_UNIT_NAME, "ANPR")),
                key=next(keys),
            )
            _save_ca(ca, directory, "ca")
            _save_ca(anpr_ca, directory, "anpr-ca")
        else:
            ca = _load(directory, "ca")
            anpr_ca = _load(directory, "anpr-ca")
        if new_server or server is None:
            server = issue_certificate(
                ca,
                name("localhost"),
                server_names=sorted(wanted),
                client_auth=False,
                key=next(keys),
            )
            _save(server, directory, "server")
        if new_notifications:
            notifications = issue_certificate(
                anpr_ca,
                name("ANPR Notifiche Test"),
                client_auth=False,
                key_encipherment=False,
                key=next(keys),
            )
            _save(notifications, directory, "notifications")
        else:
            notifications = _load(directory, "notifications")
        identities: dict[str, ComuneIdentity] = {}
        for index, istat in enumerate(comuni):
            folder = directory / istat
            if istat in new_comuni:
                comune = issue_certificate(ca, name(f"{istat}-CO-9999", *_OU), key=next(keys))
                workstation = issue_certificate(ca, name(f"{istat}-PC-0001", *_OU), key=next(keys))
                _save(comune, folder, "comune")
                _save(workstation, folder, "workstation")
            else:
                comune = _load(folder, "comune")
                workstation = _load(folder, "workstation")
            identities[istat] = ComuneIdentity(
                istat, comune, workstation, operator_cf(istat, index)
            )
        revoked: set[int] = set()
        revoked_path = directory / "revoked.json"
        if revoked_path.exists():
            try:
                revoked = {int(s) for s in json.loads(revoked_path.read_text())}
            except (ValueError, TypeError):
                raise ConfigurationError(
                    f"{revoked_path} is not a JSON list of serial numbers",
                    setting="simulator.state_dir",
                ) from None
        return cls(
            directory,
            ca=ca,
            anpr_ca=anpr_ca,
            server=server,
            notifications=notifications,
            comuni=identities,
            revoked=revoked,
        )

    # ------------------------------------------------------------------ queries

    def comune(self, istat: str) -> ComuneIdentity:
        try:
            return self.comuni[istat]
        except KeyError:
            raise ConfigurationError(
                f"Comune {istat} is not one of the simulator's Comuni ({', '.join(self.comuni)})",
                setting="comune",
            ) from None

    def recipient_certificate(self, istat: str) -> x509.Certificate | None:
        """The CO-9999 certificate notifications for ``istat`` are encrypted for."""
        found = self.comuni.get(istat)
        return None if found is None else found.comune.certificate

    @property
    def ca_pem(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def anpr_ca_pem(self) -> Path:
        return self.directory / "anpr-ca.pem"

    @property
    def server_files(self) -> tuple[Path, Path]:
        return self.directory / "server.cert.pem", self.directory / "server.key.pem"

    def files(self, istat: str) -> dict[str, Path]:
        folder = self.directory / istat
        return {
            "comune_key": folder / "comune.key.pem",
            "comune_cert": folder / "comune.cert.pem",
            "workstation_key": folder / "workstation.key.pem",
            "workstation_cert": folder / "workstation.cert.pem",
        }

    # ------------------------------------------------------------------ revocation

    def revoke(self, istat: str) -> tuple[int, ...]:
        """Revoke the Comune's CO and workstation certificates; returns their serials."""
        ident = self.comune(istat)
        serials = (
            ident.comune.certificate.serial_number,
            ident.workstation.certificate.serial_number,
        )
        self.revoked.update(serials)
        _write(self.directory / "revoked.json", json.dumps(sorted(self.revoked)).encode())
        return serials


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_settings(
    path: Path,
    *,
    pki: SimulatorPki,
    istat: str,
    base_url: str,
    comune_name: str,
    client_certificate: bool,
    data_dir: Path,
) -> Path:
    """Write a ready client settings file for Comune ``istat`` (paths relative to the file;
    the journal and notification inbox live in ``data_dir``, one per Comune)."""
    ident = pki.comune(istat)
    files = pki.files(istat)

    def rel(target: Path) -> str:
        return _toml_string(os.path.relpath(target, path.parent))

    version = "".join(c for c in __version__ if c.isalnum() or c in ". -") or "0"
    signer_subject = pki.notifications.certificate.subject.rfc4514_string()
    lines = [
        f"# Written by the anpr-client ANPR simulator for Comune {comune_name} ({istat}).",
        "# A test configuration: the keys are a throwaway test PKI, never for production.",
        'environment = "test"',
        f"codice_istat = {_toml_string(istat)}",
        f"base_url = {_toml_string(base_url)}",
        f"ca_bundle = {rel(pki.ca_pem)}",
        f"journal = {rel(data_dir / 'journal.sqlite')}",
        "",
        "[application]",
        'name = "anpr client"',
        f"version = {_toml_string(version)}",
        'vendor = "anpr-client"',
        "",
        "[operator]",
        f"codice_fiscale = {_toml_string(ident.operator_cf)}",
        "",
        "[comune_key]",
        f"pem_key = {rel(files['comune_key'])}",
        f"pem_cert = {rel(files['comune_cert'])}",
        "",
        "[workstation]",
        f"id = {_toml_string(ident.workstation_id)}",
        f"pem_key = {rel(files['workstation_key'])}",
        f"pem_cert = {rel(files['workstation_cert'])}",
        "",
    ]
    if client_certificate:
        lines += [
            "[tls_client]",
            f"pem_key = {rel(files['workstation_key'])}",
            f"pem_cert = {rel(files['workstation_cert'])}",
            "",
        ]
    lines += [
        "[notifications]",
        f"store = {rel(data_dir / 'notifications.sqlite')}",
        f"anpr_ca = {rel(pki.anpr_ca_pem)}",
        "# the simulator's notification signer (in production: ANPR's; docs/notifications.md)",
        f"signer_subjects = [{_toml_string(signer_subject)}]",
        "",
        "[[notifications.decrypt_keys]]",
        f"pem_key = {rel(files['comune_key'])}",
        f"pem_cert = {rel(files['comune_cert'])}",
        "",
    ]
    _write(path, "\n".join(lines).encode("utf-8"))
    return path
