"""A small test PKI shaped like ANPR's: for tests, the simulator and the demo. Never production.

:func:`generate_test_pki` issues, with fresh RSA-2048 keys:

==================  =========================================================================
``ca``              ``CN=CA Postazioni Test`` — issues the Comune, workstation and TLS server
                    certificates (ANPR's "CA Postazioni" role; italia/anpr#474, #1826)
``comune``          ``CN=<ISTAT>-CO-9999`` — signs the WS-Security frame and the SAML assertion,
                    and is the recipient key of encrypted notifications
``workstation``     ``CN=<ISTAT>-PC-0001`` — signs ``IdPostazioneFirmato``; also the mTLS
                    client certificate
``cns_ca``          an operator-card issuer (``CN=CNS Test CA``)
``operator``        a CNS-like authentication certificate: ``CN=<codice fiscale>/<card id>.<hash>``
``anpr_ca``         ``CN=CA Utenti Test`` — ANPR's "CA Utenti" role (notification signatures)
``notifications``   ``CN=ANPR Notifiche Test`` — signs N000 notification messages
``server``          a TLS server certificate for ``localhost``, ``127.0.0.1`` and ``::1``
==================  =========================================================================

Names, extensions and validity are fixed (validity starts one day before ``now`` to tolerate
clock skew); keys and serial numbers are random, so nothing generated here is ever committed.
Organisation names say "anpr-client test" so no certificate can be mistaken for a real one.

Writers: :meth:`Identity.write_pem`, :meth:`Identity.write_pkcs12` and :meth:`Pki.write` (the
whole set, PKCS#12 files encrypted with the given password, key files mode 0600)::

    pki = generate_test_pki("058091")
    files = pki.write(Path("creds"), password="change-me")
    files.comune_p12, files.ca_pem
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from anpr_client.credentials.software import SoftwareKey

from .._files import write_private_file

__all__ = [
    "Identity",
    "Pki",
    "PkiFiles",
    "create_ca",
    "generate_test_pki",
    "issue_certificate",
    "name",
]

_ORG = "anpr-client test PKI"


def name(common_name: str, *extra: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    """``C=IT, O=anpr-client test PKI, <extra…>, CN=<common_name>``."""
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "IT"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
    ]
    attrs += [x509.NameAttribute(oid, value) for oid, value in extra]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


@dataclass(frozen=True, repr=False)
class Identity:
    """A private key, its certificate and the issuing chain (root last; empty for a root)."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def common_name(self) -> str:
        return str(self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    def key_source(self) -> SoftwareKey:
        """This identity as a :class:`~anpr_client.credentials.KeySource`."""
        return SoftwareKey(self.key, self.certificate, self.chain, source=f"pki:{self.common_name}")

    def cert_pem(self, *, with_chain: bool = False) -> bytes:
        certs = [self.certificate, *(self.chain if with_chain else ())]
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)

    def key_pem(self, password: str | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password.encode())
            if password
            else serialization.NoEncryption()
        )
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def pkcs12(self, password: str) -> bytes:
        """A password-protected PKCS#12 (AES-256 + PBKDF2) with the key, cert and chain."""
        return pkcs12.serialize_key_and_certificates(
            self.common_name.encode(),
            self.key,
            self.certificate,
            list(self.chain) or None,
            serialization.BestAvailableEncryption(password.encode()),
        )

    def write_pem(
        self, directory: Path, stem: str, *, password: str | None = None
    ) -> tuple[Path, Path]:
        """Write ``<stem>.key.pem`` (mode 0600) and ``<stem>.cert.pem`` (leaf then chain)."""
        directory.mkdir(parents=True, exist_ok=True)
        key_path = directory / f"{stem}.key.pem"
        cert_path = directory / f"{stem}.cert.pem"
        write_private_file(key_path, self.key_pem(password))
        cert_path.write_bytes(self.cert_pem(with_chain=True))
        return key_path, cert_path

    def write_pkcs12(self, path: Path, *, password: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private_file(path, self.pkcs12(password))
        return path

    def __repr__(self) -> str:
        return f"<Identity {self.certificate.subject.rfc4514_string()}>"


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def generate_keys(count: int) -> list[rsa.RSAPrivateKey]:
    """``count`` new RSA-2048 keys, made on every core at once (cryptography generates them
    outside the GIL): what a new test PKI waits for, divided by the number of cores."""
    if count <= 1:
        return [_new_key() for _ in range(count)]
    workers = min(count, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers, thread_name_prefix="anpr-pki-keys") as pool:
        return list(pool.map(lambda _: _new_key(), range(count)))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def create_ca(
    subject: x509.Name,
    *,
    now: dt.datetime | None = None,
    days: int = 3650,
    key: rsa.RSAPrivateKey | None = None,
) -> Identity:
    """A self-signed root CA (``basicConstraints CA:TRUE, pathlen 0``; ``keyCertSign``)."""
    key = key or _new_key()
    start = (now or _now()) - dt.timedelta(days=1)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return Identity(key, cert)


def issue_certificate(
    issuer: Identity,
    subject: x509.Name,
    *,
    server_names: Iterable[str] = (),
    client_auth: bool = True,
    key_encipherment: bool = True,
    now: dt.datetime | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    days: int = 730,
    key: rsa.RSAPrivateKey | None = None,
) -> Identity:
    """An end-entity certificate signed by ``issuer``.

    ``server_names`` (DNS names or IP addresses) makes it a TLS server certificate
    (``serverAuth`` + subjectAltName). ``not_before``/``not_after`` override the default
    validity (tests use them for expired or not-yet-valid certificates).
    """
    key = key or _new_key()
    start = not_before or (now or _now()) - dt.timedelta(days=1)
    end = not_after or start + dt.timedelta(days=days)
    usages = []
    if client_auth:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=key_encipherment,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    names = list(server_names)
    if names:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        alt: list[x509.GeneralName] = []
        for n in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                alt.append(x509.DNSName(n))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    cert = builder.sign(issuer.key, hashes.SHA256())
    return Identity(key, cert, (issuer.certificate, *issuer.chain))


def _cns_common_name(codice_fiscale: str, card_id: str) -> str:
    digest = base64.b64encode(hashlib.sha1(card_id.encode(), usedforsecurity=False).digest())
    return f"{codice_fiscale}/{card_id}.{digest.decode()}"


@dataclass(frozen=True)
class PkiFiles:
    """Paths written by :meth:`Pki.write` (``*_p12`` are encrypted with the given password)."""

    directory: Path
    ca_pem: Path
    anpr_ca_pem: Path
    cns_ca_pem: Path
    comune_p12: Path
    comune_key_pem: Path
    comune_cert_pem: Path
    workstation_p12: Path
    workstation_key_pem: Path
    workstation_cert_pem: Path
    operator_p12: Path
    notifications_p12: Path
    server_key_pem: Path
    server_cert_pem: Path


@dataclass(frozen=True, repr=False)
class Pki:
    """The identities of :func:`generate_test_pki` (see the module docstring)."""

    istat: str
    operator_cf: str
    ca: Identity
    comune: Identity
    workstation: Identity
    cns_ca: Identity
    operator: Identity
    anpr_ca: Identity
    notifications: Identity
    server: Identity

    @property
    def workstation_id(self) -> str:
        return self.workstation.common_name

    def write(self, directory: Path, *, password: str) -> PkiFiles:
        """Write every identity under ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for stem, ca in (("ca", self.ca), ("anpr-ca", self.anpr_ca), ("cns-ca", self.cns_ca)):
            (directory / f"{stem}.pem").write_bytes(ca.cert_pem())
        co_key, co_cert = self.comune.write_pem(directory, "comune")
        pc_key, pc_cert = self.workstation.write_pem(directory, "workstation")
        srv_key, srv_cert = self.server.write_pem(directory, "server")
        return PkiFiles(
            directory=directory,
            ca_pem=directory / "ca.pem",
            anpr_ca_pem=directory / "anpr-ca.pem",
            cns_ca_pem=directory / "cns-ca.pem",
            comune_p12=self.comune.write_pkcs12(directory / "comune.p12", password=password),
            comune_key_pem=co_key,
            comune_cert_pem=co_cert,
            workstation_p12=self.workstation.write_pkcs12(
                directory / "workstation.p12", password=password
            ),
            workstation_key_pem=pc_key,
            workstation_cert_pem=pc_cert,
            operator_p12=self.operator.write_pkcs12(directory / "operator.p12", password=password),
            notifications_p12=self.notifications.write_pkcs12(
                directory / "notifications.p12", password=password
            ),
            server_key_pem=srv_key,
            server_cert_pem=srv_cert,
        )

    def __repr__(self) -> str:
        return f"<Pki istat={self.istat} workstation={self.workstation_id}>"


def generate_test_pki(
    istat: str = "058091",
    *,
    operator_cf: str = "RSSMRA80A01H501U",
    workstation_number: int = 1,
    now: dt.datetime | None = None,
) -> Pki:
    """Issue the whole test PKI (eight RSA-2048 keys, about half a second)."""
    now = now or _now()
    ou = (
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "Postazioni di lavoro"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "Anagrafe Nazionale Popolazione Residente"),
    )
    ca = create_ca(name("CA Postazioni Test", (NameOID.ORGANIZATIONAL_UNIT_NAME, "ANPR")), now=now)
    anpr_ca = create_ca(name("CA Utenti Test", (NameOID.ORGANIZATIONAL_UNIT_NAME, "ANPR")), now=now)
    cns_ca = create_ca(name("CNS Test CA"), now=now)
    comune = issue_certificate(ca, name(f"{istat}-CO-9999", *ou), now=now)
    workstation = issue_certificate(ca, name(f"{istat}-PC-{workstation_number:04d}", *ou), now=now)
    operator = issue_certificate(
        cns_ca,
        x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "IT"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "anpr-client test CNS"),
                x509.NameAttribute(NameOID.SURNAME, "ROSSI"),
                x509.NameAttribute(NameOID.GIVEN_NAME, "MARIO"),
                x509.NameAttribute(NameOID.DN_QUALIFIER, "7420000100012345"),
                x509.NameAttribute(
                    NameOID.COMMON_NAME, _cns_common_name(operator_cf, "7420000100012345")
                ),
            ]
        ),
        now=now,
    )
    notifications = issue_certificate(
        anpr_ca, name("ANPR Notifiche Test"), client_auth=False, key_encipherment=False, now=now
    )
    server = issue_certificate(
        ca,
        name("localhost"),
        server_names=("localhost", "127.0.0.1", "::1"),
        client_auth=False,
        now=now,
    )
    return Pki(
        istat=istat,
        operator_cf=operator_cf,
        ca=ca,
        comune=comune,
        workstation=workstation,
        cns_ca=cns_ca,
        operator=operator,
        anpr_ca=anpr_ca,
        notifications=notifications,
        server=server,
    )
