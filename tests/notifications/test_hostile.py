"""The N000 receiver under attack (issue 15, points 3, 8, 11 and 13): each attack reproduced,
and the answer it now gets.

- point 3: a request with 250 references to nested elements is refused for about the price of
  parsing it, and a genuine push sent among such requests is still acknowledged;
- point 8: a certificate that ANPR's CA issued to someone else does not make a notification
  ANPR's; pins are rotation-friendly; the first set-up can discover the signer;
- point 13: a push without a Timestamp, with ``Created`` but no ``Expires``, or created too
  long ago is answered 5;
- point 11: invalid base64 in an MTOM part, a certificate with a duplicated extension, and
  whatever a fuzzer makes of a genuine push are answered 1, 5 or 6 with a typed reason, never 7
  (which would make ANPR retry for ever) and never an HTTP 500.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.notifications import Inbox, NotificationReceiver, ReplyCode
from anpr_client.notifications.receiver import RECEIVER_POLICY, SignerSeen
from anpr_client.notifications.server import make_server
from anpr_client.safexml import parse_xml
from anpr_client.security.trust import SignerPins, fingerprint
from anpr_client.simulator.pki import Identity, Pki, issue_certificate, name
from anpr_client.soap.mtom import build_related
from anpr_client.transport import HttpRequest, WsgiTransport
from tests.notifications.support import (
    N000,
    anpr_signer_pin,
    make_receiver,
    n010_payload,
    outcome_of,
    signed_request,
)
from tests.security.support import (
    SOAP,
    WSSE,
    WSU,
    C14nSpy,
    cpu_seconds,
    duplicated_extension_certificate,
    resign,
    security_of,
    with_nested_references,
)

XOP = "http://www.w3.org/2004/08/xop/include"
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}

#: Lets the attack's shape through the cheap bounds: what is then measured is the order of
#: the checks (signature value before any digest), not the depth bound.
PERMISSIVE = dataclasses.replace(
    RECEIVER_POLICY, max_references=1000, max_depth=1000, max_elements=1_000_000
)


@functools.cache
def nested_attack(pki: Pki) -> bytes:
    """A genuine push (ANPR's certificate, pinned) plus 250 correctly digested references to
    nested header elements, 3.5 MB: what made the receiver spend seconds of CPU."""
    return with_nested_references(signed_request(pki, id_notifica="9100000001"))


# --------------------------------------------------------------------------- point 3


def test_nested_reference_attack_costs_about_its_parse(
    pki: Pki, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    attack = nested_attack(pki)
    parse = cpu_seconds(lambda: parse_xml(attack))
    for policy in (RECEIVER_POLICY, PERMISSIVE):
        receiver = make_receiver(pki, inbox, policy=policy)
        receipt = receiver.receive(attack)
        assert receipt.outcome is ReplyCode.NOT_CONFORMING
        cost = cpu_seconds(functools.partial(receiver.receive, attack))
        assert cost < 5 * parse + 0.005, (policy.max_depth, cost, parse)
    # Past the bounds, the signature value is what refuses it: SignedInfo alone is
    # canonicalised, not the 250 subtrees.
    spy = C14nSpy(monkeypatch)
    receipt = make_receiver(pki, inbox, policy=PERMISSIVE).receive(attack)
    assert "BadSignature" in (receipt.reason or "")
    assert spy.calls == 1
    assert inbox.count() == 0


def test_a_genuine_push_is_acknowledged_among_hostile_ones(pki: Pki, inbox: Inbox) -> None:
    attack = nested_attack(pki)
    receiver = make_receiver(pki, inbox, policy=PERMISSIVE)
    server = make_server(receiver, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.port}/n000"

    def post(body: bytes) -> str:
        with requests.Session() as session:
            reply = session.post(url, data=body, headers=HEADERS, timeout=60)
            assert reply.status_code == 200
            return outcome_of(reply.content)

    try:
        with ThreadPoolExecutor(max_workers=9) as pool:
            hostile = [pool.submit(post, attack) for _ in range(8)]
            genuine = pool.submit(post, signed_request(pki, id_notifica="9100000002"))
            assert genuine.result() == "1"
            assert [f.result() for f in hostile] == ["5"] * 8
    finally:
        server.close()
        thread.join(10)
    assert inbox.count() == 1


# --------------------------------------------------------------------------- point 8


@functools.cache
def other_holder(pki: Pki) -> Identity:
    """A certificate that ANPR's CA ("CA Utenti") issued to someone who is not ANPR."""
    return issue_certificate(
        pki.anpr_ca, name("Altro Titolare CA Utenti"), client_auth=False, key_encipherment=False
    )


def test_another_holder_of_anpr_ca_cannot_sign_a_notification(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    forged = signed_request(pki, signer=other_holder(pki), id_notifica="9100000003")
    with caplog.at_level(logging.WARNING, logger="anpr_client.notifications"):
        receipt = receiver.receive(forged)
    assert receipt.outcome is ReplyCode.NOT_CONFORMING
    assert inbox.count() == 0
    assert "CN=Altro Titolare CA Utenti" in caplog.text  # the presented subject is logged
    assert "outcome 5" in caplog.text
    # The same forgery was answered 1 when the CA alone decided (the defect).
    ca_only = make_receiver(pki, inbox, signers=SignerPins.of(other_holder(pki).certificate))
    assert ca_only.receive(forged).outcome is ReplyCode.ACQUIRED


def test_pins_allow_a_renewal_and_a_second_certificate_at_once(pki: Pki, inbox: Inbox) -> None:
    renewed = issue_certificate(
        pki.anpr_ca, pki.notifications.certificate.subject, client_auth=False
    )  # same subject, new key and serial: a subject pin keeps working
    successor = issue_certificate(pki.anpr_ca, name("ANPR Notifiche 2027"), client_auth=False)
    pins = SignerPins(
        subjects=anpr_signer_pin(pki).subjects,
        fingerprints=(fingerprint(successor.certificate),),
    )
    receiver = make_receiver(pki, inbox, signers=pins)
    for i, signer in enumerate((pki.notifications, renewed, successor)):
        request = signed_request(pki, signer=signer, id_notifica=f"91000001{i}")
        assert receiver.receive(request).outcome is ReplyCode.ACQUIRED, signer
    assert receiver.receive(signed_request(pki, signer=other_holder(pki))).outcome == "5"
    assert inbox.count() == 3


def test_the_receiver_refuses_to_run_without_a_pin(pki: Pki, inbox: Inbox) -> None:
    with pytest.raises(ConfigurationError) as err:
        make_receiver(pki, inbox, signers=None)
    assert err.value.setting == "notifications.signer_subjects"
    assert "anpr notifications signer" in str(err.value)
    with pytest.raises(ConfigurationError):
        make_receiver(pki, inbox, signers=SignerPins())


def test_signer_discovery_reports_who_signed_and_stores_nothing(pki: Pki, inbox: Inbox) -> None:
    seen: list[SignerSeen] = []
    receiver = make_receiver(pki, inbox, signers=None, on_signer=seen.append)
    receipt = receiver.receive(signed_request(pki))
    assert receipt.outcome is ReplyCode.COMMUNICATION_ERROR  # ANPR will send it again
    assert receiver.receive(signed_request(pki, signer=other_holder(pki))).outcome == "7"
    assert receiver.receive(b"<not-a-push/>").outcome == "7"
    assert [s.certificate for s in seen[:2]] == [
        pki.notifications.certificate,
        other_holder(pki).certificate,
    ]
    assert seen[0].verdict is None  # both chain to the CA
    assert seen[1].verdict is None
    assert seen[2].certificate is None
    assert "MalformedFrame" in (seen[2].verdict or "")
    assert inbox.count() == 0


# --------------------------------------------------------------------------- point 13


def test_stale_pushes_are_answered_5(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox
) -> None:
    now = dt.datetime.now(dt.UTC)
    cases = {
        "no Timestamp, 400 days old": (
            signed_request(
                pki,
                id_notifica="9200000001",
                sent_at=now - dt.timedelta(days=400),
                timestamp_ttl=None,
            ),
            "no wsu:Timestamp",
        ),
        "created 26 min ago, not yet expired": (
            signed_request(
                pki,
                id_notifica="9200000002",
                sent_at=now - dt.timedelta(minutes=26),
                timestamp_ttl=3600,
            ),
            "more than 1500 s",
        ),
        "expired": (
            signed_request(
                pki,
                id_notifica="9200000003",
                sent_at=now - dt.timedelta(minutes=10),
                timestamp_ttl=300,
            ),
            "expired",
        ),
    }
    envelope = etree.fromstring(signed_request(pki, id_notifica="9200000004"))
    expires = security_of(envelope).find(f"{{{WSU}}}Timestamp/{{{WSU}}}Expires")
    assert expires is not None
    timestamp = expires.getparent()
    assert timestamp is not None
    timestamp.remove(expires)
    cases["Created without Expires"] = (
        resign(envelope, pki.notifications.key_source(), assertion=False),
        "no Expires",
    )
    for what, (body, reason) in cases.items():
        receipt = receiver.receive(body)
        assert receipt.outcome is ReplyCode.NOT_CONFORMING, what
        assert "TimestampRejected" in (receipt.reason or ""), what
        assert reason in (receipt.reason or ""), what
    assert inbox.count() == 0
    # A redelivery signed 20 minutes ago with a long Expires is inside ANPR's schedule.
    late = signed_request(
        pki, id_notifica="9200000005", sent_at=now - dt.timedelta(minutes=20), timestamp_ttl=3600
    )
    assert receiver.receive(late).outcome is ReplyCode.ACQUIRED


# --------------------------------------------------------------------------- point 11


def _as_mtom(request: bytes, part: bytes, encoding: str) -> tuple[bytes, str]:
    root = etree.fromstring(request)
    contenuto = root.find(f".//{{{N000}}}RichiestaN000/contenuto")
    assert contenuto is not None
    contenuto.text = None
    etree.SubElement(contenuto, f"{{{XOP}}}Include", href="cid:part-1%40anpr")
    body, content_type = build_related(
        etree.tostring(root), {"part-1@anpr": ("application/octet-stream", part)}
    )
    if encoding != "binary":
        body = body.replace(
            b"Content-Transfer-Encoding: binary\r\nContent-ID: <part-1@anpr>",
            f"Content-Transfer-Encoding: {encoding}\r\nContent-ID: <part-1@anpr>".encode(),
        )
    return body, content_type


def test_invalid_base64_in_an_mtom_part_is_answered_5(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox
) -> None:
    request = signed_request(pki)
    contenuto = etree.fromstring(request).findtext(f".//{{{N000}}}RichiestaN000/contenuto") or ""
    genuine, content_type = _as_mtom(request, contenuto.encode(), "base64")
    assert receiver.receive(genuine, content_type).outcome is ReplyCode.ACQUIRED
    broken, content_type = _as_mtom(signed_request(pki, id_notifica="2"), b"QUJD=x", "base64")
    receipt = receiver.receive(broken, content_type)
    assert receipt.outcome is ReplyCode.NOT_CONFORMING
    assert "one of its parts cannot be read" in (receipt.reason or "")
    assert "MTOM part '<part-1@anpr>' is not valid base64" in (receipt.reason or "")
    assert inbox.count() == 1


def test_a_certificate_with_a_duplicated_extension_is_answered_5(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox
) -> None:
    envelope = etree.fromstring(signed_request(pki))
    bst = security_of(envelope).find(f"{{{WSSE}}}BinarySecurityToken")
    assert bst is not None
    der = duplicated_extension_certificate(pki.notifications, pki.anpr_ca)
    bst.text = base64.b64encode(der).decode()
    receipt = receiver.receive(etree.tostring(envelope))
    assert receipt.outcome is ReplyCode.NOT_CONFORMING
    assert "UntrustedCertificate" in (receipt.reason or "")
    assert "DuplicateExtension" in (receipt.reason or "")
    assert inbox.count() == 0


# --------------------------------------------------------------------------- fuzzing


@functools.cache
def genuine_push(pki: Pki) -> bytes:
    return signed_request(pki, id_notifica="9300000001")


def _mutate_bytes(data: bytes, edits: list[tuple[int, bytes]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, replacement in edits:
        at = position % max(len(out), 1)
        out[at : at + len(replacement)] = replacement
    return bytes(out[:cut] if cut is not None else out)


def _mutate_tree(data: bytes, choices: list[tuple[int, int, str]]) -> bytes:
    root = etree.fromstring(data)
    for index, action, text in choices:
        elements = [e for e in root.iter() if isinstance(e.tag, str)]
        element = elements[index % len(elements)]
        parent = element.getparent()
        if action == 0 and parent is not None:
            parent.remove(element)
        elif action == 1 and parent is not None:
            parent.append(etree.fromstring(etree.tostring(element)))
        elif action == 2:
            element.text = text
        elif action == 3:
            element.set(f"{{{WSU}}}Id", text.replace(" ", "") or "x")
        elif action == 4 and parent is not None:
            root.append(element)  # moved next to the Body
    return etree.tostring(root)


def _mutate_certificate(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    root = etree.fromstring(data)
    bst = security_of(root).find(f"{{{WSSE}}}BinarySecurityToken")
    assert bst is not None
    der = bytearray(base64.b64decode(bst.text or ""))
    for position, value in flips:
        der[position % len(der)] = value
    bst.text = base64.b64encode(bytes(der)).decode()
    return etree.tostring(root)


_XML_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", min_codepoint=0x20, exclude_characters="\ufffe\uffff"),
    max_size=40,
)


def _tree_edits(actions: int) -> st.SearchStrategy[list[tuple[int, int, str]]]:
    """1-3 edits of :func:`_mutate_tree`: (which element, which of ``actions``, a text)."""
    edit = st.tuples(st.integers(0, 200), st.integers(0, actions - 1), _XML_TEXT)
    return st.lists(edit, min_size=1, max_size=3)


@st.composite
def hostile_bodies(draw: st.DrawFn, pki: Pki) -> tuple[bytes, str | None]:
    genuine = genuine_push(pki)
    kind = draw(
        st.sampled_from(["bytes", "tree", "certificate", "signed-content", "signed-tree", "mtom"])
    )
    if kind == "bytes":
        edits = draw(
            st.lists(
                st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=8)), max_size=4
            )
        )
        cut = draw(st.none() | st.integers(0, len(genuine)))
        return _mutate_bytes(genuine, edits, cut), None
    if kind == "tree":
        return _mutate_tree(genuine, draw(_tree_edits(actions=5))), None
    if kind == "signed-tree":
        # The Body mutated, then signed again by ANPR's (test) key: what the verifier lets
        # through must still be read with typed errors.
        choices = draw(_tree_edits(actions=4))  # no move: it would leave the Body
        envelope = etree.fromstring(genuine)
        body = envelope.find(f"{{{SOAP}}}Body")
        assert body is not None
        request = body[0]
        mutated = etree.fromstring(_mutate_tree(etree.tostring(request), choices))
        body.replace(request, mutated)
        return resign(envelope, pki.notifications.key_source(), assertion=False), None
    if kind == "certificate":
        flips = draw(
            st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), min_size=1, max_size=4)
        )
        return _mutate_certificate(genuine, flips), None
    if kind == "signed-content":
        # Authenticated by ANPR's (test) key, so that decryption and decoding are reached.
        contenuto = draw(
            st.binary(max_size=300)
            | st.builds(
                _mutate_bytes,
                st.just(n010_payload()),
                st.lists(st.tuples(st.integers(0, 2000), st.binary(min_size=1, max_size=4))),
                st.none() | st.integers(0, 600),
            ).map(lambda plain: b"\x00" + plain)
        )
        if contenuto[:1] == b"\x00":  # a mutated plaintext, properly encrypted
            return signed_request(pki, contenuto[1:], id_notifica="9300000002"), None
        return signed_request(pki, contenuto, recipient=None, id_notifica="9300000003"), None
    part = draw(st.binary(max_size=64))
    encoding = draw(st.sampled_from(["base64", "binary", "quoted-printable"]))
    return _as_mtom(genuine, part, encoding)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_variants_of_a_genuine_push_get_a_typed_answer(
    pki: Pki, receiver: NotificationReceiver, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    body, content_type = data.draw(hostile_bodies(pki))
    headers = {**HEADERS, "Content-Type": content_type or HEADERS["Content-Type"]}
    with caplog.at_level(logging.ERROR, logger="anpr_client.notifications"):
        caplog.clear()
        response = WsgiTransport(receiver).send(HttpRequest("http://127.0.0.1/n000", body, headers))
    assert response.status in (200, 413)
    outcome = outcome_of(response.body)
    # 7 would make ANPR retry a message that cannot get better; 1 needs a valid signature.
    assert outcome in {"1", "5", "6"}, (outcome, caplog.text)
    assert "unexpected failure" not in caplog.text
    if outcome == "1":
        assert receiver.receive(body, content_type).outcome is ReplyCode.ACQUIRED


def test_the_fuzzer_reaches_past_the_signature(pki: Pki, receiver: NotificationReceiver) -> None:
    """The strategies are not all refused at the first check: the signed-content ones are
    decrypted and decoded (a sanity check of the fuzzer itself)."""
    receipt = receiver.receive(signed_request(pki, b"\x30\x03\x02\x01\x00", recipient=None))
    assert receipt.outcome is ReplyCode.NOT_CONFORMING
    assert "EnvelopedData" in (receipt.reason or "")
