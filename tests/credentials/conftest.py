"""Credential fixtures: the shared test PKI, files, and a SoftHSM2 token set (session scope).

SoftHSM reads ``SOFTHSM2_CONF`` when the module is first initialised in the process, so every
token the tests need is created up front, in a private temporary directory:

- ``ANPR-CO``: the Comune key (``CO9999``);
- ``CNS-TEST``: the operator's CNS-like key and certificate (``CNS0``);
- ``PIN-TEST``: a token no test keeps open, for wrong-PIN checks (PKCS#11 login state is
  per process: an open, logged-in token would accept any later login).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from anpr_client.settings import KeySourceConfig
from anpr_client.simulator.pki import Identity, Pki, PkiFiles
from tests.security.support import require, shared_pki

FILE_PASSWORD = "file-password-7f3a"
TOKEN_PIN = "S3cr3t-PIN-4711"
SO_PIN = "so-pin-12345678"
SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")


@pytest.fixture(scope="session")
def pki() -> Pki:
    return shared_pki()


@pytest.fixture(scope="session")
def pki_files(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return pki.write(Path(tmp_path_factory.mktemp("cred-pki")), password=FILE_PASSWORD)


@dataclass(frozen=True)
class SoftHsm:
    module: Path
    conf: Path

    def key(
        self, label: str = "ANPR-CO", key: str = "CO9999", *, pin_env: str | None = "ANPR_TEST_PIN"
    ) -> KeySourceConfig:
        """The settings of a key on one of the tokens (the Comune key by default), its PIN in
        the environment variable ``pin_env``."""
        return KeySourceConfig(
            "pkcs11", pkcs11_module=self.module, token_label=label, key_label=key, pin_env=pin_env
        )


def _import(module: Path, token: str, identity: Identity, label: str, directory: Path) -> None:
    key_der = directory / f"{label}.key.der"
    cert_der = directory / f"{label}.cert.der"
    key_der.write_bytes(
        identity.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_der.write_bytes(identity.certificate.public_bytes(serialization.Encoding.DER))
    base = [
        "pkcs11-tool",
        "--module",
        str(module),
        "--token-label",
        token,
        "--login",
        "--pin",
        TOKEN_PIN,
    ]
    subprocess.run(
        [
            *base,
            "--write-object",
            str(key_der),
            "--type",
            "privkey",
            "--id",
            "01",
            "--label",
            label,
            "--usage-sign",
            "--usage-decrypt",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*base, "--write-object", str(cert_der), "--type", "cert", "--id", "01", "--label", label],
        check=True,
        capture_output=True,
    )
    key_der.unlink()


@pytest.fixture(scope="session")
def softhsm(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    require(shutil.which("softhsm2-util") is not None, "SoftHSM2 (softhsm2-util) is not installed")
    require(SOFTHSM_MODULE.exists(), f"the SoftHSM2 module {SOFTHSM_MODULE} is missing")
    require(shutil.which("pkcs11-tool") is not None, "pkcs11-tool (opensc) is not installed")
    directory = Path(tmp_path_factory.mktemp("softhsm"))
    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {directory / 'tokens'}\n"
        "objectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    for label in ("ANPR-CO", "CNS-TEST", "PIN-TEST"):
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                SO_PIN,
                "--pin",
                TOKEN_PIN,
            ],
            check=True,
            capture_output=True,
        )
    _import(SOFTHSM_MODULE, "ANPR-CO", pki.comune, "CO9999", directory)
    _import(SOFTHSM_MODULE, "CNS-TEST", pki.operator, "CNS0", directory)
    _import(SOFTHSM_MODULE, "PIN-TEST", pki.workstation, "PC0001", directory)
    try:
        yield SoftHsm(SOFTHSM_MODULE, conf)
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous
