"""The frame's bytes, byte for byte, for fixed inputs: what the signing code wrote before it
was made faster (recorded from ``main`` at 291a9c3 by ``python -m
tests.security.test_frame_bytes``, before any change to the frame's text), so that a faster
writer of the same text cannot change one byte of any request, the signed parts' canonical
form included.

Everything a frame draws is fixed here: the clock, the random ids (``secrets`` yields one
deterministic stream, so the ids are the same whether they are drawn one by one or at once,
in the same order), the certificate (an Ed25519 one built from fixed bytes: the frame only
copies its DER) and the key (a signer whose "signature" is a digest of what it is handed, so
that the SignedInfo bytes show in the output). The real signers, the verifiers and xmlsec1
are the other tests' business (``test_frame.py``).
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from anpr_client.credentials.base import HashName
from anpr_client.security import frame as frame_module
from anpr_client.security import saml as saml_module
from anpr_client.security.algorithms import SignatureMethod
from anpr_client.security.frame import WsSecurity, _random_id
from anpr_client.security.saml import format_instant
from tests.security.support import ENVELOPE_3002, OPERATOR_CF

GOLDEN = Path(__file__).with_name("frame_bytes.json")
FIXED_NOW = dt.datetime(2026, 12, 2, 18, 9, 55, 985123, tzinfo=dt.UTC)
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


def _certificate() -> x509.Certificate:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "058091-CO-9999")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1234567)
        .not_valid_before(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
        .sign(key, None)
    )


class DigestSigner:
    """A key source whose signature is 256 bytes derived from the data: deterministic."""

    def __init__(self) -> None:
        self.certificate = _certificate()

    def sign(self, data: bytes, hash: HashName = "sha256") -> bytes:
        return hashlib.sha512(hash.encode() + data).digest() * 4

    def decrypt(self, ciphertext: bytes) -> bytes:  # pragma: no cover - never called
        raise NotImplementedError


class _Stream:
    """``secrets.token_bytes`` / ``token_hex`` drawing from one fixed stream (installed by
    :func:`_install`, with the frame's pool of ids drawn ahead emptied)."""

    def __init__(self) -> None:
        self._position = 0

    def token_bytes(self, count: int | None = None) -> bytes:
        count = 32 if count is None else count
        out = bytes((self._position + i) * 37 % 251 for i in range(count))
        self._position += count
        return out

    def token_hex(self, count: int | None = None) -> str:
        return self.token_bytes(count).hex()


def _install(stream: _Stream, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "token_bytes", stream.token_bytes)
    monkeypatch.setattr(secrets, "token_hex", stream.token_hex)
    monkeypatch.setattr(frame_module, "_IDS", collections.deque())


def _frame(**options: object) -> WsSecurity:
    settings: dict[str, object] = {
        "operator": OPERATOR_CF,
        "id_sede": "058091",
        "workstation_id": "058091-PC-0001",
        "id_postazione_firmato": "TUlJQ1NpZ25lZERhdGE=" * 40,
        "application_id": "12345",
        "subject_locality": "192.0.2.10",
        "clock": lambda: FIXED_NOW,
    }
    settings.update(options)
    return WsSecurity(signer=DigestSigner(), **settings)  # type: ignore[arg-type]  # mixed kinds


def _tree(data: bytes = ENVELOPE_3002) -> etree._Element:
    return etree.fromstring(data)


_ZEEP_STYLE = (
    b'<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"'
    b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap-env:Body>'
    b'<ns0:Richiesta3002 xmlns:ns0="http://sogei.it/ANPR/3000consultazione">'
    b"<testataRichiesta><idOperazioneComune>42</idOperazioneComune></testataRichiesta>"
    b"<note>Citt\xc3\xa0 &amp; d&lt;intorni&gt;\r</note>"
    b'<empty a="2" b="x&quot;y&#9;z"/></ns0:Richiesta3002></soap-env:Body></soap-env:Envelope>'
)


CASES: dict[str, Callable[[], bytes]] = {
    "bytes, rsa-sha256, declaration": lambda: _frame().sign_to_bytes(_tree(), xml_declaration=True),
    "bytes, rsa-sha1": lambda: _frame(algorithm="rsa-sha1").sign_to_bytes(_tree()),
    "sign_bytes": lambda: _frame().sign_bytes(ENVELOPE_3002),
    "message signature only (the bench's row)": lambda: _frame()._to_bytes(
        _tree(), xml_declaration=True, assertion=False
    ),
    "tree": lambda: etree.tostring(_frame().sign(_tree())),
    "tree, existing header": lambda: etree.tostring(
        _frame().sign(
            _tree(
                ENVELOPE_3002.replace(
                    b"<soap:Body>", b"<soap:Header><x:h xmlns:x='urn:x'/></soap:Header><soap:Body>"
                )
            )
        )
    ),
    "bytes, existing header (the tree path)": lambda: _frame().sign_to_bytes(
        _tree(ENVELOPE_3002.replace(b"<soap:Body>", b"<soap:Header/><soap:Body>"))
    ),
    "bytes, zeep's prefixes, text to escape": lambda: _frame().sign_to_bytes(
        _tree(_ZEEP_STYLE), xml_declaration=True
    ),
    "bytes, SOAP 1.2": lambda: _frame().sign_to_bytes(
        _tree(ENVELOPE_3002.replace(b"http://schemas.xmlsoap.org/soap/envelope/", SOAP12.encode()))
    ),
    "bytes, a Body with an Id of its own": lambda: _frame().sign_to_bytes(
        _tree(
            ENVELOPE_3002.replace(
                b"<soap:Body>",
                b'<soap:Body xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/'
                b'oasis-200401-wss-wssecurity-utility-1.0.xsd" wsu:Id="id-mine">',
            )
        )
    ),
    "bytes, a Body with another attribute": lambda: _frame().sign_to_bytes(
        _tree(ENVELOPE_3002.replace(b"<soap:Body>", b'<soap:Body a="1">'))
    ),
    "bytes, awkward assertion values, no mustUnderstand, ttl 60": lambda: _frame(
        issuer='X&S <"1">\r',
        subject_locality='a"b&c<d>\te\nf',
        must_understand=False,
        ttl=60,
    ).sign_to_bytes(_tree()),
    "bytes, another desk": lambda: (
        _frame()
        .for_desk(operator="BNCGNN75C41F205X", validate_operator=False)
        .sign_to_bytes(_tree())
    ),
    "security_text alone": lambda: _frame().security_text([]).encode(),
}


def _record() -> dict[str, str]:
    recorded = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, case in CASES.items():
            stream = _Stream()
            stream.token_bytes(DROPPED_DRAWS.get(name, 0))
            _install(stream, monkeypatch)
            recorded[name] = case().decode("utf-8")
    return recorded


#: Cases recorded when the frame drew more random bytes than it does now, and how many more:
#: before it takes the tree path for a Body with an attribute, the bytes path used to draw
#: a Body id and drop it (the tree path draws its own).
DROPPED_DRAWS = {"bytes, a Body with another attribute": 16}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_frame_writes_the_recorded_bytes(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _Stream()
    stream.token_bytes(DROPPED_DRAWS.get(name, 0))
    _install(stream, monkeypatch)
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))[name]
    assert CASES[name]().decode("utf-8") == expected


def test_every_case_is_recorded() -> None:
    assert sorted(json.loads(GOLDEN.read_text(encoding="utf-8"))) == sorted(CASES)


def test_the_ids_come_from_the_random_source(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two different streams give two different frames: the cases above pin the ids because
    # the frame draws them from ``secrets``, not because they are constant.
    outputs = []
    for shift in (0, 1):
        stream = _Stream()
        stream.token_bytes(shift)
        _install(stream, monkeypatch)
        outputs.append(_frame().sign_to_bytes(_tree()))
    assert outputs[0] != outputs[1]


def test_the_assertion_templates_split_where_each_request_fills_them_in() -> None:
    # signed_assertion_parts fills the pieces in this order: the ID and IssueInstant in the
    # head, then the start and the end of the validity three times in the rest.
    parts = saml_module.assertion_parts(_frame()._content)
    assert [len(p) for p in parts] == [3, 7]
    text = "".join(
        saml_module.signed_assertion_parts(
            parts,
            signer=DigestSigner(),
            method=SignatureMethod.RSA_SHA256,
            start="START",
            until="UNTIL",
            certificate="CERT",
            assertion_id="ID",
        )
    )
    assertion = etree.fromstring(text)
    saml = "{urn:oasis:names:tc:SAML:2.0:assertion}"
    assert (assertion.get("ID"), assertion.get("IssueInstant")) == ("ID", "START")
    windows = [
        assertion.find(f"{saml}Subject/{saml}SubjectConfirmation/{saml}SubjectConfirmationData"),
        assertion.find(f"{saml}Conditions"),
    ]
    for window in windows:
        assert window is not None
        assert (window.get("NotBefore"), window.get("NotOnOrAfter")) == ("START", "UNTIL")
    authn = assertion.find(f"{saml}AuthnStatement")
    assert authn is not None
    assert (authn.get("AuthnInstant"), authn.get("SessionNotOnOrAfter")) == ("START", "UNTIL")


def _instant_as_before(moment: dt.datetime) -> str:
    """``format_instant`` as it was written before its digits came from tables."""
    m = moment.astimezone(dt.UTC)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond // 1000:03d}Z"
    )


@given(
    st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [dt.UTC, dt.timezone(dt.timedelta(hours=1)), dt.timezone(-dt.timedelta(hours=5))]
        ),
    )
)
@settings(max_examples=500, deadline=None)
def test_instants_are_written_as_before(moment: dt.datetime) -> None:
    assert format_instant(moment) == _instant_as_before(moment)


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(999, 1, 1, 0, 0, 0, 999999, tzinfo=dt.UTC),  # a three-digit year, padded
        dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),  # truncated, not rounded
        dt.datetime(2026, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))),  # the day before
    ],
)
def test_instants_at_the_edges(moment: dt.datetime) -> None:
    assert format_instant(moment) == _instant_as_before(moment)


def test_ids_are_drawn_ahead_and_handed_out_once(monkeypatch: pytest.MonkeyPatch) -> None:
    draws: list[int] = []

    def token_hex(count: int | None = None) -> str:
        draws.append(count or 32)
        return os.urandom(count or 32).hex()

    monkeypatch.setattr(secrets, "token_hex", token_hex)
    monkeypatch.setattr(frame_module, "_IDS", collections.deque())
    ids = [_random_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert draws == [16 * 64] * 4  # 64 ids per system call


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_forked_child_draws_ids_of_its_own() -> None:
    _random_id()  # the pool holds ids drawn ahead now
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's side
        os.write(writer, _random_id().encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    theirs = os.read(reader, 64).decode()
    os.close(reader)
    assert len(theirs) == 32
    assert theirs != _random_id()  # without the at-fork reset, both would take the same id


if __name__ == "__main__":  # re-record (only for a change meant to alter the frame's bytes)
    GOLDEN.write_text(
        json.dumps(_record(), indent=1, ensure_ascii=False, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    sys.exit(0)
