"""The N000 receiver's acceptance: outcome codes, exactly-once storage, hostile input."""

from __future__ import annotations

import base64
import logging
import sqlite3
import time
import tracemalloc

import pytest
from lxml import etree

from anpr_client.logs import NOTIFICATIONS_LOGGER
from anpr_client.notifications import (
    Inbox,
    NotificationReceiver,
    ReplyCode,
    ResidenceChanged,
)
from anpr_client.security.cms import encrypt_enveloped
from anpr_client.security.policy import NOTIFICATION_POLICY
from anpr_client.simulator.pki import Pki
from anpr_client.soap.mtom import build_related
from anpr_client.transport import HttpRequest, HttpResponse, WsgiTransport
from tests.notifications.support import (
    CF_1,
    ISTAT_A,
    ISTAT_B,
    N000,
    foreign_signer,
    make_receiver,
    n010_payload,
    outcome_of,
    replace_contenuto,
    signed_request,
)

URL = "http://127.0.0.1/anpr/n000"
XOP = "http://www.w3.org/2004/08/xop/include"
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def post(receiver: NotificationReceiver, body: bytes, **headers: str) -> HttpResponse:
    return WsgiTransport(receiver).send(HttpRequest(URL, body, {**HEADERS, **headers}))


def test_valid_notification_is_acquired_once(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox
) -> None:
    response = post(receiver, signed_request(pki))
    assert response.status == 200
    assert response.content_type.startswith("text/xml")
    assert outcome_of(response.body) == "1"
    (entry,) = inbox.entries()
    assert entry.key == ("N010", "9000000001")
    assert entry.channel == "push"
    assert entry.state == "pending"
    event = entry.event
    assert isinstance(event, ResidenceChanged)
    assert event.subject.codice_fiscale == CF_1
    assert event.requesting_comune.codice_istat == ISTAT_B
    assert event.id_operazione_anpr == "700000001"
    assert event.recipient == ISTAT_A
    assert str(event.effective_date) == "2026-11-20"


def test_the_receiver_logs_one_line_per_push_without_personal_data(
    pki: Pki, receiver: NotificationReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="anpr_client")
    assert outcome_of(post(receiver, signed_request(pki)).body) == "1"
    (line,) = [r for r in caplog.records if r.name == NOTIFICATIONS_LOGGER]
    assert line.levelno == logging.INFO
    assert line.getMessage().startswith("notification N010 9000000001: outcome 1 elapsed=")
    assert line.__dict__["outcome"] == "1"
    assert isinstance(line.__dict__["elapsed_ms"], int)
    assert CF_1 not in caplog.text


def test_redelivery_is_acknowledged_and_stored_once(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox
) -> None:
    first = signed_request(pki)
    again = signed_request(pki)  # ANPR re-signs and re-encrypts each attempt
    assert first != again
    assert outcome_of(post(receiver, first).body) == "1"
    receipt = receiver.receive(again)
    assert receipt.outcome is ReplyCode.ACQUIRED
    assert receipt.duplicate
    assert outcome_of(post(receiver, first).body) == "1"
    assert inbox.count() == 1


def test_a_push_replaces_a_quarantined_pulled_copy_of_the_same_notification(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox
) -> None:
    """A pulled copy that could not be decoded holds its 4005 window; the same notification
    pushed decodable is taken in charge (answered 1 with its event), not taken for a
    duplicate of the broken copy."""
    from anpr_client.notifications.inbox import EntryState, InvalidNotification

    broken = InvalidNotification("N010", "9000000001", ISTAT_A, None, None, b"<x/>", "broken")
    inbox.add_many([], invalid=[broken])
    assert inbox.get("N010", "9000000001").state is EntryState.QUARANTINED  # type: ignore[union-attr]
    receipt = receiver.receive(signed_request(pki, id_notifica="9000000001"))
    assert receipt.outcome is ReplyCode.ACQUIRED
    assert not receipt.duplicate
    stored = inbox.get("N010", "9000000001")
    assert stored is not None
    assert stored.event is not None
    assert stored.state is EntryState.PENDING


def test_tampered_signature_is_refused(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox
) -> None:
    root = etree.fromstring(signed_request(pki))
    value = root.find(".//{http://www.w3.org/2000/09/xmldsig#}SignatureValue")
    assert value is not None
    assert value.text
    raw = bytearray(base64.b64decode(value.text))
    raw[10] ^= 0x01
    value.text = base64.b64encode(bytes(raw)).decode()
    assert outcome_of(post(receiver, etree.tostring(root)).body) == "5"
    assert inbox.count() == 0


def test_tampered_content_is_refused(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox
) -> None:
    # Another payload, correctly encrypted for the Comune, but not what ANPR signed.
    forged = encrypt_enveloped(n010_payload(operation="123"), pki.comune.certificate)
    body = replace_contenuto(signed_request(pki), forged)
    receipt = receiver.receive(body)
    assert receipt.outcome is ReplyCode.NOT_CONFORMING
    assert "digest" in (receipt.reason or "").lower()
    assert outcome_of(post(receiver, body).body) == "5"
    # A testata edited after signing fails the same way.
    root = etree.fromstring(signed_request(pki, id_notifica="9000000002"))
    id_el = root.find(f".//{{{N000}}}RichiestaN000/testataNotifica/idOperazioneANPR")
    assert id_el is not None
    id_el.text = "9000000003"
    assert outcome_of(post(receiver, etree.tostring(root)).body) == "5"
    assert inbox.count() == 0


def test_untrusted_or_missing_signature_is_refused(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox
) -> None:
    foreign = signed_request(pki, signer=foreign_signer())
    assert receiver.receive(foreign).outcome is ReplyCode.NOT_CONFORMING
    # Signed by the Comune's own CA (CA Postazioni), not ANPR's "CA Utenti".
    wrong_ca = signed_request(pki, signer=pki.comune)
    assert receiver.receive(wrong_ca).outcome is ReplyCode.NOT_CONFORMING
    root = etree.fromstring(signed_request(pki))
    header = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Header")
    assert header is not None
    root.remove(header)
    assert outcome_of(post(receiver, etree.tostring(root)).body) == "5"
    assert inbox.count() == 0


def test_undecryptable_content_is_refused_with_5(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox
) -> None:
    # Encrypted for another certificate (e.g. a CO-9998 the receiver is not configured with).
    other = foreign_signer().certificate
    receipt = receiver.receive(signed_request(pki, recipient=other))
    assert receipt.outcome is ReplyCode.NOT_CONFORMING
    assert "not encrypted for any configured key" in (receipt.reason or "")
    # Signed garbage in place of a CMS structure.
    receipt = receiver.receive(signed_request(pki, b"not a CMS structure", recipient=None))
    assert receipt.outcome is ReplyCode.NOT_CONFORMING
    assert inbox.count() == 0


def test_empty_payload_is_answered_6(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox
) -> None:
    assert outcome_of(post(receiver, signed_request(pki, b"", recipient=None)).body) == "6"
    # An encrypted but empty plaintext is no data either.
    assert receiver.receive(signed_request(pki, b"  ")).outcome is ReplyCode.NO_DATA
    assert inbox.count() == 0


@pytest.mark.parametrize(
    ("payload", "kind", "reason"),
    [
        (b"<not-xml", "N010", "not acceptable XML"),
        (n010_payload(), "N099", "unknown notification type"),
        (n010_payload(kind="N014"), "N010", "must carry NotificaN010"),
        (n010_payload(effective_date="20/11/2026"), "N010", "dataDecorrenza"),
        (n010_payload(operation="ABC"), "N010", "idOperazioneANPR"),
    ],
)
def test_nonconforming_payloads_are_refused_with_5(
    pki: Pki,
    receiver: NotificationReceiver,
    inbox: Inbox,
    payload: bytes,
    kind: str,
    reason: str,
) -> None:
    receipt = receiver.receive(signed_request(pki, payload, kind=kind))
    assert receipt.outcome is ReplyCode.NOT_CONFORMING
    assert reason in (receipt.reason or "")
    assert inbox.count() == 0


def test_notification_for_another_comune_is_refused(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox
) -> None:
    receipt = receiver.receive(signed_request(pki, cod_destinatario=ISTAT_B))
    assert receipt.outcome is ReplyCode.NOT_CONFORMING
    assert "codDestinatario" in (receipt.reason or "")
    assert inbox.count() == 0


def test_sha1_is_accepted_by_default_and_refusable(pki: Pki, inbox: Inbox) -> None:
    sha1 = signed_request(pki, algorithm="rsa-sha1")
    assert make_receiver(pki, inbox).receive(sha1).outcome is ReplyCode.ACQUIRED
    strict = make_receiver(pki, inbox, policy=NOTIFICATION_POLICY)
    assert strict.receive(signed_request(pki, algorithm="rsa-sha1", id_notifica="2")).outcome == "5"


def test_storage_failure_is_answered_7_and_a_retry_succeeds(
    pki: Pki, tmp_path: pytest.TempPathFactory
) -> None:
    path = tmp_path / "locked.sqlite"  # type: ignore[operator]
    inbox = Inbox(path, durable=False, timeout=0.2)
    receiver = make_receiver(pki, inbox)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the file
    try:
        receipt = receiver.receive(signed_request(pki))
        assert receipt.outcome is ReplyCode.COMMUNICATION_ERROR
        assert "inbox" in (receipt.reason or "")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert receiver.receive(signed_request(pki)).outcome is ReplyCode.ACQUIRED
    assert inbox.count() == 1
    inbox.close()


def test_only_post_is_served(receiver: NotificationReceiver) -> None:
    response = WsgiTransport(receiver).send(HttpRequest(URL, b"", method="GET"))
    assert response.status == 405
    assert response.headers.get("allow") == "POST"


# --------------------------------------------------------------------------- hostile XML


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b"<x>&lol9;</x></soap:Body></soap:Envelope>"
)

EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b"<x>&xxe;</x></soap:Body></soap:Envelope>"
)


@pytest.mark.parametrize("attack", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "xxe"])
def test_entity_attacks_are_refused_cheaply(
    receiver: NotificationReceiver, inbox: Inbox, attack: bytes
) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    response = post(receiver, attack)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert outcome_of(response.body) == "5"
    assert b"root:" not in response.body
    assert peak < 5_000_000  # a billion laughs expanded would need gigabytes
    assert elapsed < 5
    assert inbox.count() == 0


def test_entity_attack_inside_the_encrypted_payload_is_refused(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox
) -> None:
    inner = b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>'
    receipt = receiver.receive(signed_request(pki, inner))
    assert receipt.outcome is ReplyCode.NOT_CONFORMING
    assert inbox.count() == 0


def test_oversized_body_is_refused_before_reading(pki: Pki, inbox: Inbox) -> None:
    receiver = make_receiver(pki, inbox, max_body_bytes=64 * 1024)

    class Endless:
        """A body that would never end: the receiver must not read past its cap."""

        read_bytes = 0

        def read(self, size: int = -1) -> bytes:
            assert size > 0
            self.read_bytes += size
            return b"<" * size

    captured: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"] = status

    stream = Endless()
    declared = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(10**9), "wsgi.input": stream}
    body = b"".join(receiver(declared, start_response))
    assert captured["status"].startswith("413")
    assert outcome_of(body) == "5"
    assert stream.read_bytes == 0  # refused on the declared length alone
    chunked = {"REQUEST_METHOD": "POST", "wsgi.input": stream}  # no Content-Length
    body = b"".join(receiver(chunked, start_response))
    assert captured["status"].startswith("413")
    assert stream.read_bytes <= 64 * 1024 + 1
    assert receiver.receive(b"<" * (64 * 1024 + 1)).http_status == 413
    assert inbox.count() == 0


def test_mtom_request_is_unpacked_before_verification(
    pki: Pki, receiver: NotificationReceiver, inbox: Inbox
) -> None:
    # ANPR's stack may send contenuto as an MTOM attachment; the signature covers the inline
    # base64 form, which is what the receiver rebuilds before verifying.
    root = etree.fromstring(signed_request(pki))
    contenuto = root.find(f".//{{{N000}}}RichiestaN000/contenuto")
    assert contenuto is not None
    data = base64.b64decode(contenuto.text or "")
    contenuto.text = None
    etree.SubElement(contenuto, f"{{{XOP}}}Include", href="cid:contenuto-1%40anpr")
    body, content_type = build_related(
        etree.tostring(root), {"contenuto-1@anpr": ("application/octet-stream", data)}
    )
    response = post(receiver, body, **{"Content-Type": content_type})
    assert outcome_of(response.body) == "1"
    assert inbox.count() == 1
    tampered, tampered_type = build_related(
        etree.tostring(root), {"contenuto-1@anpr": ("application/octet-stream", data[:-16])}
    )
    receipt = receiver.receive(tampered, tampered_type)
    assert receipt.outcome is ReplyCode.NOT_CONFORMING
    assert "digest" in (receipt.reason or "").lower()


def test_failing_persist_hook_answers_7_and_the_retry_is_acknowledged(
    pki: Pki, inbox: Inbox
) -> None:
    calls: list[bool] = []

    def hook(event: object, new: bool) -> None:
        calls.append(new)
        if len(calls) == 1:
            raise OSError("metrics backend down")

    receiver = make_receiver(pki, inbox, on_persisted=hook)
    assert receiver.receive(signed_request(pki)).outcome is ReplyCode.COMMUNICATION_ERROR
    assert inbox.count() == 1  # stored before the hook ran
    assert receiver.receive(signed_request(pki)).outcome is ReplyCode.ACQUIRED
    assert inbox.count() == 1
    assert receiver.stats == {"1": 1, "5": 0, "6": 0, "7": 1}


def test_build_request_moved_to_the_simulator_and_its_old_name_says_so() -> None:
    """Signing and encrypting a push is ANPR's side: the client side no longer carries it, and
    cannot forward to the simulator (it never imports it)."""
    import anpr_client.notifications

    for old in ("anpr_client.notifications", "anpr_client.notifications.message"):
        with pytest.raises(ImportError, match=r"anpr_client\.simulator\.push\.build_request"):
            exec(f"from {old} import build_request", {})  # noqa: S102
    assert "build_request" not in anpr_client.notifications.__all__


def test_outcome_stays_exported_as_the_old_name_of_reply_code() -> None:
    from anpr_client.notifications import Outcome

    assert Outcome is ReplyCode
    assert ReplyCode("1") is ReplyCode.ACQUIRED
