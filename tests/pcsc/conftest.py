"""PC/SC fixtures: pcscd (started here if not running) with vsmartcard's vpcd reader driver,
and a CNS-like card emulator (:mod:`tests.pcsc.vpcd_card`) plugged into "Virtual PCD 00 00".

pcscd is started *without* ``-a``: APDU logging would print the PIN of every VERIFY command.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from anpr_client.errors.exceptions import CredentialError
from anpr_client.simulator.pki import Identity, Pki
from tests.pcsc.vpcd_card import VirtualCard
from tests.security.support import require, shared_pki

READER = "Virtual PCD 00 00"
CARD_PIN = "48151"
VPCD_CONFIG = Path("/etc/reader.conf.d/vpcd")


def _virtual_readers() -> list[str] | None:
    from anpr_client.credentials.pcsc import list_readers

    try:
        return [r.name for r in list_readers() if r.name.startswith("Virtual PCD")]
    except CredentialError:
        return None


@pytest.fixture(scope="session")
def pcscd() -> Iterator[None]:
    require(shutil.which("pcscd") is not None, "pcscd is not installed")
    require(VPCD_CONFIG.exists(), "vsmartcard-vpcd (the vpcd reader driver) is not installed")
    process: subprocess.Popen[bytes] | None = None
    # The pcscd started here is stopped however the session ends, a reader that never shows
    # included: left running, it would hold the vpcd port and fail the next run's start.
    try:
        if not _virtual_readers():
            process = subprocess.Popen(
                [shutil.which("pcscd") or "pcscd", "-f"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not _virtual_readers():
                time.sleep(0.1)
        readers = _virtual_readers()
        require(bool(readers) and READER in (readers or []), f"pcscd does not show {READER!r}")
        yield
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def pki() -> Pki:
    return shared_pki()


def make_card(identity: Identity, *, pin: str = CARD_PIN, tries: int = 3) -> VirtualCard:
    return VirtualCard(
        identity.key,
        identity.certificate.public_bytes(serialization.Encoding.DER),
        pin,
        tries=tries,
    )


def wait_for_card(present: bool, timeout: float = 5.0) -> None:
    from anpr_client.credentials.pcsc import list_readers

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r.name == READER and r.card_present == present for r in list_readers()):
            return
        time.sleep(0.05)
    raise AssertionError(f"the reader did not report card_present={present}")


@pytest.fixture
def card(pcscd: None, pki: Pki) -> Iterator[VirtualCard]:
    """The operator's card, inserted; removed again after the test."""
    wait_for_card(False)
    virtual = make_card(pki.operator)
    virtual.insert()
    wait_for_card(True)
    try:
        yield virtual
    finally:
        virtual.remove()
        wait_for_card(False)
