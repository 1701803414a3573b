"""Helpers for simulator tests: hand-made frames, raw sends, common payloads."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from anpr_client.client import Client
from anpr_client.results import Result
from anpr_client.security.frame import WsSecurity
from anpr_client.simulator import Person, Simulator, SimulatorConfig
from anpr_client.simulator.payloads import change_of_residence
from anpr_client.simulator.pki import Identity
from anpr_client.simulator.store import ComuneInfo
from anpr_client.soap.envelope import CONTENT_TYPE
from anpr_client.transport import HttpRequest, HttpResponse

A = "058091"
"""Roma: the first Comune (the family moves away from here)."""
B = "015146"
"""Milano: the destination of the transfer."""


@contextmanager
def started_simulator(pki_template: Path, state: Path, **options: Any) -> Iterator[Simulator]:
    """A simulator started on the folder ``state`` with the session's test PKI (a module's own
    registry); on leaving, it must have had no internal error, then it is closed."""
    shutil.copytree(pki_template, state / "pki")
    simulator = Simulator(SimulatorConfig(state_dir=state, **options)).start()
    try:
        yield simulator
    finally:
        try:
            assert simulator.internal_errors == ()
        finally:
            simulator.close()


def frame_for(sim: Simulator, istat: str, **overrides: Any) -> WsSecurity:
    """A security frame with the simulator's credentials of ``istat`` (``overrides`` win)."""
    ident = sim.pki.comune(istat)
    options: dict[str, Any] = {
        "signer": ident.comune.key_source(),
        "operator": ident.operator_cf,
        "id_sede": istat,
        "workstation_id": ident.workstation_id,
        "workstation_key": ident.workstation.key_source(),
        "subject_locality": "192.0.2.10",
    }
    options.update(overrides)
    return WsSecurity(**options)


def singles(sim: Simulator, istat: str = A) -> list[Person]:
    """Residents of ``istat`` who live alone (moving them leaves no household behind)."""
    return [h.head for h in sim.store.households(istat) if len(h.members) == 1]


def raw_client(sim: Simulator, istat: str = A) -> Client:
    """A signing client without the library's pre-send checks: what the simulator itself
    refuses can be tested (a client without checks sends anything the XSD allows)."""
    from anpr_client.settings import ValidationSettings

    settings = sim.settings(istat, validation=ValidationSettings(before_send=False))
    return Client(settings, journal=None)


def unsigned_client(sim: Simulator, istat: str = A) -> Client:
    return sim.client(istat, wsse=None, journal=None)


def payload_3002(cf: str, *, national: bool = False) -> dict[str, Any]:
    return {
        "criteriRicerca": {"codiceFiscale": cf},
        "datiRichiesta": {
            "schedaAnagraficaRichiesta": "1",
            "dataRiferimentoRichiesta": dt.date.today(),
            "ricercaNazionale": "1" if national else "0",
        },
    }


def unsigned_envelope(
    sim: Simulator, operation: str, payload: dict[str, Any], istat: str = A, **header: Any
) -> etree._Element:
    """The unsigned request envelope (parsed), as the client would build it."""
    prepared = unsigned_client(sim, istat).prepare(
        operation, payload, header=header or None, sign=False
    )
    return etree.fromstring(prepared.envelope)


def send_raw(sim: Simulator, operation: str, body: bytes, istat: str = A) -> HttpResponse:
    """POST ``body`` to the operation's path over TLS; the raw HTTP answer."""
    client = unsigned_client(sim, istat)
    op = client.operation(operation)
    try:
        return client.transport.send(
            HttpRequest(
                client.settings.url_for(op.family),
                body,
                {"Content-Type": CONTENT_TYPE, "SOAPAction": '""'},
                client.settings.timeouts,
            )
        )
    finally:
        client.close()


def send_signed(
    sim: Simulator,
    operation: str,
    envelope: etree._Element | bytes,
    frame: WsSecurity | None,
    istat: str = A,
) -> Result[dict[str, Any]]:
    """Sign ``envelope`` with ``frame`` (or send it as is), send it, read the answer."""
    if isinstance(envelope, bytes):
        data = envelope
    elif frame is not None:
        data = etree.tostring(frame.sign(envelope))
    else:
        data = etree.tostring(envelope)
    response = send_raw(sim, operation, data, istat)
    return unsigned_client(sim, istat).read(operation, response)


def transfer_payload(
    persons: list[Person], *, to: str = B, street: str = "VIA DANTE"
) -> dict[str, Any]:
    """A 5005 moving ``persons`` into a new family of Comune ``to`` (head: relation 1)."""
    name, province, cadastral = ("MILANO", "MI", "F205") if to == B else ("ROMA", "RM", "H501")
    destination = ComuneInfo(to, name, province, cadastral, subentrato=True)
    return change_of_residence(persons, destination, street=street, number="5")


def certificate_payload(person: Person, *, kind: str = "8") -> dict[str, Any]:
    return {
        "listaTipiCertificati": {"tipoCertificato": [kind]},
        "soggettoIntestatario": {
            "generalita": {
                "codiceFiscale": {"codFiscale": person.codice_fiscale},
                "cognome": person.surname,
                "nome": person.name,
            }
        },
        "datiControllo": {
            "cognomeUffAnagrafe": "ROSSI",
            "nomeUffAnagrafe": "MARIO",
            "tipoRichiedente": "0",
            "tipoRichiesta": "1",
            "paEstera": "0",
            "emissione": "1",
            "bollo": "0",
            "diritti": "0",
        },
    }


def with_duplicated_extension(identity: Identity, issuer: Identity) -> Identity:
    """``identity`` with its last certificate extension repeated, re-signed by ``issuer``: a
    certificate that X.509 forbids (RFC 5280 §4.2) and that cryptography refuses to read the
    extensions of (``x509.DuplicateExtension``), though it loads."""
    original = asn1_x509.Certificate.load(identity.certificate.public_bytes(Encoding.DER))
    tbs = original["tbs_certificate"]
    extensions = list(tbs["extensions"])
    tbs["extensions"] = asn1_x509.Extensions([*extensions, extensions[-1]])
    signed = tbs.dump(force=True)
    signature = issuer.key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    forged = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": original["signature_algorithm"],
            "signature_value": signature,
        }
    )
    certificate = x509.load_der_x509_certificate(forged.dump(force=True))
    return Identity(identity.key, certificate, identity.chain)


@dataclass
class Served:
    """An ``anpr simulator serve`` process (see :func:`serving`)."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    """What it printed on stdout up to its ``settings:`` line."""
    out: str = ""
    """The rest of stdout, once it stopped."""
    err: str = ""
    """stderr, once it stopped."""

    @property
    def url(self) -> str:
        return next(line for line in self.lines if "listening on" in line).rsplit(" ", 1)[1]

    @property
    def settings(self) -> Path:
        return Path(next(line for line in self.lines if line.startswith("settings:")).split()[1])


@contextmanager
def serving(state: Path, *options: str) -> Iterator[Served]:
    """``anpr simulator serve --state STATE --port 0 OPTIONS`` as a user runs it, in its own
    process, once it has printed its settings path; stopped with Ctrl-C (SIGINT) on exit."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from anpr_client.cli.main import main; main()",
            "simulator",
            "serve",
            "--state",
            str(state),
            "--port",
            "0",
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    served = Served(process)
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while not any(line.startswith("settings:") for line in served.lines):
            assert time.monotonic() < deadline, served.lines
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
            served.lines.append(line.strip())
        yield served
    finally:
        process.send_signal(signal.SIGINT)
        served.out, served.err = process.communicate(timeout=30)
