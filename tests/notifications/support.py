"""Builders for the notification tests: payloads, ANPR's signed requests, keys, servers."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from lxml import etree

from anpr_client.notifications import Inbox, NotificationReceiver
from anpr_client.notifications.events import PAYLOAD_NS
from anpr_client.security.trust import SignerPins, TrustStore
from anpr_client.simulator.pki import Identity, Pki, generate_test_pki, issue_certificate, name
from anpr_client.simulator.push import build_request

ISTAT_A = "058091"
ISTAT_B = "015146"
CF_1 = "RSSMRA80A01H501U"
CF_2 = "RSSLRA82B41H501X"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
N000 = "http://sogei.it/ANPR/N000AnprService"


@functools.cache
def shared_pki() -> Pki:
    return generate_test_pki(ISTAT_A)


@functools.cache
def successor_key(pki: Pki) -> Identity:
    """The Comune's CO-9998 (the successor certificate), issued by the same CA."""
    return issue_certificate(pki.ca, name(f"{pki.istat}-CO-9998"))


@functools.cache
def foreign_signer() -> Identity:
    """A notification signer under a CA the Comune does not trust."""
    other = generate_test_pki("015146")
    return other.notifications


def anpr_trust(pki: Pki) -> TrustStore:
    return TrustStore([pki.anpr_ca.certificate])


def n010_payload(
    cf: str = CF_1,
    *,
    operation: str = "700000001",
    surname: str = "ROSSI",
    given_name: str = "MARIO",
    effective_date: str = "2026-11-20",
    kind: str = "N010",
) -> bytes:
    return (
        f'<ns:Notifica{kind} xmlns:ns="{PAYLOAD_NS}">'
        f"<generalitaSoggetto><codiceFiscale><codFiscale>{cf}</codFiscale><validitaCF>1</validitaCF>"
        f"</codiceFiscale><cognome>{surname}</cognome>"
        f"<nome>{given_name}</nome><sesso>M</sesso><dataNascita>1980-01-01</dataNascita>"
        f"</generalitaSoggetto>"
        f"<comuneRichiesta><nomeComune>MILANO</nomeComune><codiceIstat>{ISTAT_B}</codiceIstat>"
        f"<siglaProvinciaIstat>MI</siglaProvinciaIstat></comuneRichiesta>"
        f"<idOperazioneANPR>{operation}</idOperazioneANPR>"
        f"<dataDecorrenza>{effective_date}</dataDecorrenza>"
        f"</ns:Notifica{kind}>"
    ).encode()


def signed_request(
    pki: Pki,
    payload: bytes | None = None,
    *,
    id_notifica: str = "9000000001",
    kind: str = "N010",
    recipient: x509.Certificate | str | None = "comune",
    signer: Identity | None = None,
    cod_destinatario: str = ISTAT_A,
    algorithm: str = "rsa-sha256",
    sent_at: dt.datetime | None = None,
    timestamp_ttl: int | None = 300,
) -> bytes:
    """A RichiestaN000 as ANPR sends it (``recipient="comune"``: encrypted for CO-9999),
    signed at ``sent_at`` (default: now) with a Timestamp valid ``timestamp_ttl`` seconds
    (``None``: no Timestamp)."""
    cert = pki.comune.certificate if recipient == "comune" else recipient
    assert not isinstance(cert, str)
    return build_request(
        n010_payload() if payload is None else payload,
        tipo_notifica=kind,
        id_notifica=id_notifica,
        cod_destinatario=cod_destinatario,
        recipient=cert,
        signer=(signer or pki.notifications).key_source(),
        algorithm=algorithm,  # type: ignore[arg-type]
        sent_at=sent_at,
        timestamp_ttl=timestamp_ttl,
    )


def outcome_of(response: bytes) -> str:
    root = etree.fromstring(response)
    found = root.find(f"{{{SOAP}}}Body/{{{N000}}}RispostaN000")
    assert found is not None
    assert found.findtext("codiceEsito") == found.findtext("esito")
    return found.findtext("esito") or ""


def replace_contenuto(request: bytes, data: bytes) -> bytes:
    """The request with another ``contenuto`` (the signature is left as it was)."""
    root = etree.fromstring(request)
    el = root.find(f".//{{{N000}}}RichiestaN000/contenuto")
    assert el is not None
    el.text = base64.b64encode(data).decode()
    return etree.tostring(root)


def anpr_signer_pin(pki: Pki) -> SignerPins:
    """The pin of the test PKI's notification signer (ANPR's certificate, by subject)."""
    return SignerPins.of(pki.notifications.certificate)


def make_receiver(pki: Pki, inbox: Inbox, **kwargs: object) -> NotificationReceiver:
    options: dict[str, object] = {
        "keys": [pki.comune.key_source()],
        "trust": anpr_trust(pki),
        "signers": anpr_signer_pin(pki),
        "recipients": (ISTAT_A,),
    }
    options.update(kwargs)
    return NotificationReceiver(inbox, **options)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class SettingsFiles:
    path: Path
    store: Path | str


def write_settings(
    pki: Pki,
    directory: Path,
    *,
    keys: tuple[Identity, ...] | None = None,
    store: str | None = None,
) -> SettingsFiles:
    """An anpr.toml whose [notifications] table names PKCS#12 keys and the ANPR CA; its
    ``store`` is ``directory/inbox.sqlite`` unless given (a file or a PostgreSQL URL)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "anpr-ca.pem").write_bytes(pki.anpr_ca.cert_pem())
    tables = []
    for i, identity in enumerate(keys or (pki.comune,)):
        p12 = identity.write_pkcs12(directory / f"co-{i}.p12", password="p12-password")
        tables.append(
            f'[[notifications.decrypt_keys]]\npkcs12 = "{p12}"\npassword_env = "ANPR_TEST_P12"\n'
        )
    where: Path | str = store if store is not None else directory / "inbox.sqlite"
    path = directory / "anpr.toml"
    path.write_text(
        f'codice_istat = "{pki.istat}"\n\n[notifications]\nstore = {json.dumps(str(where))}\n'
        f'anpr_ca = "{directory / "anpr-ca.pem"}"\n'
        f"signer_subjects = {json.dumps(list(anpr_signer_pin(pki).subjects))}\n\n"
        + "\n".join(tables),
        encoding="utf-8",
    )
    return SettingsFiles(path, where)


@dataclass
class Served:
    """An ``anpr notifications serve`` process; ``stdout`` is filled in once it has stopped."""

    process: subprocess.Popen[str]
    port: int
    stdout: str = ""


@contextmanager
def serve(config: Path | None, *extra: str) -> Iterator[Served]:
    """Run ``anpr notifications serve --config CONFIG EXTRA…`` on a free port until exit
    (``None``: no ``--config``)."""
    port = free_port()
    args = [
        sys.executable,
        "-c",
        "from anpr_client.cli.main import main; main()",
        "notifications",
        "serve",
        *(("--config", str(config)) if config is not None else ()),
        "--port",
        str(port),
        *extra,
    ]
    env = {**os.environ, "ANPR_TEST_P12": "p12-password"}
    process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    served = Served(process, port)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        if "listening on" not in line:
            process.kill()
            pytest.fail(f"serve did not start: {line}{process.communicate(timeout=10)[1]}")
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        served.stdout = process.communicate(timeout=10)[0] or ""
