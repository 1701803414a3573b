"""The 4005 poller: 31-day windows, "not ready", pages, EN122, checkpoint, resume, quarantine,
and the bounds of a pull (pages, requests, decompressed bytes per page)."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
from pathlib import Path

import pytest
from lxml import etree

from anpr_client.errors.exceptions import (
    AnprRejected,
    ConfigurationError,
    NotificationError,
    ProtocolError,
    PullLimitError,
    ServerUnavailable,
)
from anpr_client.notifications import (
    EntryState,
    Inbox,
    Poller,
    ResidenceChanged,
    decode_notification,
    read_notifications,
)
from anpr_client.settings import PullSettings, Settings, load_settings
from anpr_client.simulator.notifications import java_gzip
from tests.notifications.fake4005 import Fake4005, FakeClock, Sent, b64, published_document
from tests.notifications.support import CF_2, n010_payload

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
SKEW = dt.timedelta(seconds=120)


def poller(
    fake: Fake4005, inbox: Inbox, limits: PullSettings | None = None, **kwargs: object
) -> Poller:
    return Poller(
        fake.client(limits),
        inbox,
        clock=fake.clock,
        sleep=fake.clock.sleep,
        skew=120,
        poll_interval=5,
        **kwargs,  # type: ignore[arg-type]
    )


def spread(count: int, start: dt.datetime, step: dt.timedelta) -> list[Sent]:
    return [Sent(str(9_000_000 + i), start + i * step) for i in range(count)]


def item(id_: str, kind: str, *parts: str) -> str:
    return (
        f"<idOperazioneANPR>{id_}</idOperazioneANPR><statoLavorazione>7</statoLavorazione>"
        f"<tipoOperazione>{kind}</tipoOperazione>" + "".join(parts)
    )


def test_windows_of_at_most_31_days_up_to_server_time_minus_skew(inbox: Inbox) -> None:
    fake = Fake4005(FakeClock(NOW), notifications=spread(70, NOW - 70 * DAY, DAY))
    since = NOW - 70 * DAY
    report = poller(fake, inbox).pull(since)
    periods = [(e.start, e.end) for e in fake.extractions]
    assert len(periods) == 3
    assert periods[0][0] == since
    for (_, end), (following, _) in itertools.pairwise(periods):
        assert end == following  # contiguous: nothing skipped
    assert all(end - start <= dt.timedelta(days=31) for start, end in periods)
    assert periods[-1][1] == NOW - SKEW
    assert report.windows == periods
    assert report.complete
    assert report.added == 70 == inbox.count()
    assert report.pages == 3
    cp = inbox.checkpoint("058091")
    assert cp.pending_id is None
    assert cp.covered_until == NOW - SKEW
    # The next pull starts where this one ended; ANPR answers EN122 (nothing), and the
    # empty window is covered.
    fake.clock.now += dt.timedelta(hours=1)
    again = poller(fake, inbox).pull()
    assert fake.extractions[-1].start == cp.covered_until
    assert again.added == 0
    assert again.windows == [(cp.covered_until, fake.clock.now - SKEW)]
    assert again.requests == []  # no extraction to follow
    assert inbox.checkpoint("058091").covered_until == fake.clock.now - SKEW


def test_asks_the_content_of_every_notification(inbox: Inbox) -> None:
    fake = Fake4005(FakeClock(NOW), notifications=spread(1, NOW - DAY, DAY))
    poller(fake, inbox).pull(NOW - 2 * DAY)
    assert fake.details == ["RISPOSTA"]
    poller(fake, inbox, detail="TUTTO").pull(NOW - 2 * DAY)
    assert fake.details[-1] == "TUTTO"


def test_never_asks_before_data_disponibilita_and_honours_not_ready(inbox: Inbox) -> None:
    fake = Fake4005(FakeClock(NOW), notifications=spread(3, NOW - 3 * DAY, DAY))
    fake.delay = dt.timedelta(seconds=40)
    fake.late = 2  # ready later than first announced, twice
    report = poller(fake, inbox).pull(NOW - 5 * DAY)
    assert fake.early == []
    assert len(fake.checks) == 3  # two "not ready" answers, then the results
    assert report.added == 3
    assert report.calls == 4
    assert sum(fake.clock.slept) >= 120


def test_no_wait_stops_and_the_next_pull_resumes_the_same_extraction(inbox: Inbox) -> None:
    fake = Fake4005(FakeClock(NOW), notifications=spread(4, NOW - 4 * DAY, DAY))
    fake.delay = dt.timedelta(minutes=10)
    report = poller(fake, inbox).pull(NOW - 5 * DAY, wait=False)
    assert not report.complete
    assert report.waiting_until == fake.extractions[0].ready_at
    assert fake.checks == []  # not asked before dataDisponibilita
    cp = inbox.checkpoint("058091")
    assert cp.pending_id == fake.extractions[0].id
    assert inbox.count() == 0
    fake.clock.now += dt.timedelta(minutes=11)
    fake.notifications.append(Sent("9999999", fake.clock.now - dt.timedelta(minutes=5)))
    resumed = poller(fake, inbox).pull(wait=False)  # a new process: state from the inbox only
    first, second = fake.extractions  # the first was finished, not requested again;
    assert second.start == first.end  # the time elapsed since is the next window
    assert {(id_, page) for id_, page, _ in fake.checks} == {(first.id, 1)}
    assert resumed.windows == [(first.start, first.end)]
    assert resumed.added == 4
    assert resumed.waiting_until == second.ready_at  # and that one is not ready yet
    assert inbox.checkpoint("058091").pending_id == second.id


def test_crash_between_pages_resumes_without_skipping_or_duplicating(inbox: Inbox) -> None:
    fake = Fake4005(FakeClock(NOW), notifications=spread(5, NOW - 5 * DAY, DAY), page_size=2)
    fake.fail_pages = {(1, 2)}
    with pytest.raises(ServerUnavailable):
        poller(fake, inbox).pull(NOW - 6 * DAY)
    assert inbox.count() == 2  # page 1 committed with its checkpoint
    assert inbox.checkpoint("058091").pending_page == 2
    report = poller(fake, inbox).pull()
    first = fake.extractions[0]
    assert all(e.start >= first.end for e in fake.extractions[1:])  # first window not redone
    assert [page for id_, page, _ in fake.checks if id_ == first.id] == [1, 2, 2, 3]
    assert report.added == 3
    assert sorted(e.id_notifica for e in inbox.entries()) == [n.id for n in fake.notifications]


def test_an_extraction_anpr_forgot_is_requested_again(inbox: Inbox) -> None:
    fake = Fake4005(FakeClock(NOW), notifications=spread(2, NOW - 2 * DAY, DAY))
    fake.delay = dt.timedelta(hours=1)
    poller(fake, inbox).pull(NOW - 3 * DAY, wait=False)
    (first,) = fake.extractions
    fake.forgotten.add(first.id)
    fake.clock.now += dt.timedelta(hours=2)
    with pytest.raises(AnprRejected):
        poller(fake, inbox).pull(wait=False)
    cp = inbox.checkpoint("058091")
    assert cp.pending_id is None
    assert cp.covered_until is None  # the window was not covered
    fake.delay = dt.timedelta(seconds=10)
    report = poller(fake, inbox).pull(NOW - 3 * DAY)
    assert fake.extractions[1].start == first.start
    assert report.added == 2


@pytest.mark.parametrize("gz", [True, False])
def test_gz_and_xml_results_and_push_pull_deduplication(inbox: Inbox, gz: bool) -> None:
    fake = Fake4005(FakeClock(NOW), notifications=spread(3, NOW - 3 * DAY, DAY), gz=gz)
    pushed = decode_notification(
        "N010", etree.fromstring(n010_payload()), id_notifica=fake.notifications[0].id
    )
    inbox.add(pushed, channel="push")
    report = poller(fake, inbox).pull(NOW - 4 * DAY)
    assert report.received == 3
    assert report.added == 2
    assert [e.channel for e in inbox.entries()] == ["push", "pull", "pull"]
    assert all(isinstance(e.event, ResidenceChanged) for e in inbox.entries())
    pulled = inbox.entries()[1]
    assert pulled.raw == published_document(n010_payload())  # the bare document, as received
    assert pulled.event is not None
    assert (pulled.event.recipient, pulled.event.sender, pulled.event.sent_at) == (
        "058091",
        None,
        None,
    )


def test_an_undecodable_notification_is_quarantined_and_holds_the_checkpoint(
    inbox: Inbox,
) -> None:
    broken = (
        n010_payload()
        .replace(b"<generalitaSoggetto>", b"<altro>")
        .replace(b"</generalitaSoggetto>", b"</altro>")
    )
    bad = Sent("9100", NOW - DAY, payload=broken)
    fake = Fake4005(FakeClock(NOW), notifications=[bad, Sent("9101", NOW - DAY, CF_2)])
    report = poller(fake, inbox).pull(NOW - 2 * DAY)
    assert (report.received, report.added, report.invalid) == (2, 1, 1)
    (quarantined,) = inbox.entries(state=EntryState.QUARANTINED)
    assert quarantined.key == ("N010", "9100")
    assert "generalitaSoggetto" in (quarantined.reason or "")
    assert b"<contenutoRisposta>" in quarantined.raw  # the item as received
    assert inbox.entries(state=EntryState.PENDING)[0].codice_fiscale == CF_2
    # The window is held: covered_until does not move past the quarantined item.
    assert report.held == [("N010", "9100")]
    assert report.held_from == NOW - 2 * DAY
    cp = inbox.checkpoint("058091")
    assert (cp.covered_until, cp.pending_id, cp.held_from) == (None, None, NOW - 2 * DAY)

    # The next pull asks for the held window again; ANPR still sends it broken: held again.
    fake.clock.now += DAY
    again = poller(fake, inbox).pull()
    assert fake.extractions[-1].start == NOW - 2 * DAY
    assert again.held == [("N010", "9100")]
    assert inbox.checkpoint("058091").covered_until is None

    # Released by the operator: kept, never dispatched, and the poller moves on.
    assert inbox.release("N010", "9100")
    assert not inbox.release("N010", "9100")
    assert inbox.get("N010", "9100").state is EntryState.RELEASED  # type: ignore[union-attr]
    moved = poller(fake, inbox).pull()
    assert moved.held == []
    assert moved.held_from is None
    assert inbox.checkpoint("058091").covered_until == moved.windows[-1][1] > NOW


def test_a_quarantined_item_that_arrives_decodable_replaces_the_quarantine(inbox: Inbox) -> None:
    bad = Sent(
        "9200", NOW - DAY, item=item("9200", "N010", "<contenutoRisposta>!!</contenutoRisposta>")
    )
    fake = Fake4005(FakeClock(NOW), notifications=[bad])
    first = poller(fake, inbox).pull(NOW - 2 * DAY)
    assert first.held == [("N010", "9200")]
    # ANPR regenerates the result (as it did in italia/anpr#1313, #1386).
    fake.notifications = [Sent("9200", NOW - DAY)]
    fake.clock.now += dt.timedelta(hours=1)
    fixed = poller(fake, inbox).pull()
    assert fixed.held == []
    entry = inbox.get("N010", "9200")
    assert entry is not None
    assert entry.state is EntryState.PENDING
    assert isinstance(entry.event, ResidenceChanged)
    assert entry.reason is None
    assert inbox.checkpoint("058091").covered_until == fixed.windows[-1][1] > NOW


def test_a_broken_copy_of_a_notification_already_pushed_holds_nothing(inbox: Inbox) -> None:
    pushed = decode_notification("N010", etree.fromstring(n010_payload()), id_notifica="9300")
    inbox.add(pushed, channel="push")
    bad = Sent(
        "9300", NOW - DAY, item=item("9300", "N010", "<contenutoRisposta>!!</contenutoRisposta>")
    )
    report = poller(Fake4005(FakeClock(NOW), notifications=[bad]), inbox).pull(NOW - 2 * DAY)
    assert (report.invalid, report.held) == (1, [])
    assert inbox.get("N010", "9300").state is EntryState.PENDING  # type: ignore[union-attr]
    assert inbox.checkpoint("058091").covered_until == NOW - SKEW


def content(data: bytes | str, fmt: str | None = None) -> str:
    text = data if isinstance(data, str) else b64(data)
    out = f"<contenutoRisposta>{text}</contenutoRisposta>"
    return out + (f"<formatoRisposta>{fmt}</formatoRisposta>" if fmt else "")


ENTITIES = b'<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>'
HOSTILE = {
    "bad base64": (content("not*base64"), "not base64"),
    "not gzip": (content(b"plain", "gz"), "not a gzip stream"),
    "truncated gzip": (content(java_gzip(b"<a/>" * 50)[:-12], "gz"), "truncated"),
    "gzip bomb": (content(gzip.compress(b" " * 3_000_000), "gz"), "beyond 1000000"),
    "bad XML": (content(java_gzip(b"<p:NotificaN010>"), "gz"), "XML"),
    "entities": (content(ENTITIES, "xml"), "XML"),
    "unknown format": (content(b"<a/>", "zip"), "'zip' is unknown"),
    "no content": ("", "no contenutoRisposta"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_or_broken_items_are_quarantined_and_the_checkpoint_stays(
    inbox: Inbox, case: str
) -> None:
    fake = Fake4005(FakeClock(NOW), notifications=[Sent("9400", NOW - 3 * DAY)])
    poller(fake, inbox).pull(NOW - 4 * DAY)
    before = inbox.checkpoint("058091")
    assert before.covered_until == NOW - SKEW
    content, reason = HOSTILE[case]
    fake.clock.now += DAY
    sent_at = fake.clock.now - dt.timedelta(hours=2)
    fake.notifications += [
        Sent("9401", sent_at, item=item("9401", "N031", content)),
        Sent("9402", sent_at, CF_2),  # a good one beside it is stored
    ]
    report = poller(fake, inbox, max_result_bytes=1_000_000).pull()
    (quarantined,) = inbox.entries(state=EntryState.QUARANTINED)
    assert quarantined.key == ("N031", "9401")
    assert reason in (quarantined.reason or ""), quarantined.reason
    assert inbox.get("N010", "9402") is not None
    assert report.held == [("N031", "9401")]
    after = inbox.checkpoint("058091")
    assert after.covered_until == before.covered_until  # not moved past the broken item
    assert after.pending_id is None
    assert after.held_from == before.covered_until


def test_an_unknown_kind_with_garbage_is_quarantined_and_with_xml_kept(inbox: Inbox) -> None:
    garbage = Sent("9500", NOW - DAY, item=item("9500", "X999", content(b"garbage", "xml")))
    known = Sent("9501", NOW - DAY, item=item("9501", "X999", content(b"<Nuovo/>", "xml")))
    no_id = Sent("0", NOW - DAY, item="<tipoOperazione>N010</tipoOperazione>")
    report = poller(Fake4005(FakeClock(NOW), notifications=[garbage, known, no_id]), inbox).pull(
        NOW - 2 * DAY
    )
    assert report.invalid == 2
    reasons = {e.kind: e.reason for e in inbox.entries(state=EntryState.QUARANTINED)}
    assert "well-formed XML" in (reasons["X999"] or "")
    assert "idOperazioneANPR is missing" in (reasons["N010"] or "")
    kept = inbox.get("X999", "9501")
    assert kept is not None
    assert kept.event is not None
    assert kept.raw == b"<Nuovo/>"


def test_a_page_decompressing_beyond_the_limit_is_refused_and_nothing_moves(inbox: Inbox) -> None:
    fake = Fake4005(FakeClock(NOW), notifications=spread(1, NOW - 3 * DAY, DAY))
    poller(fake, inbox).pull(NOW - 4 * DAY)
    before = inbox.checkpoint("058091")
    chunk = b"<a>" + b" " * 400_000 + b"</a>"  # each under the item limit, 2.4 MB in all
    fake.clock.now += DAY
    gz = content(java_gzip(chunk), "gz")
    fake.notifications += [
        Sent(str(i), fake.clock.now - DAY / 2, item=item(str(i), "5008", gz))
        for i in range(9600, 9606)
    ]
    count = inbox.count()
    limits = PullSettings(max_page_bytes=2_000_000)
    with pytest.raises(PullLimitError) as refused:
        poller(fake, inbox, limits).pull()
    assert refused.value.field == "notifications.pull.max_page_bytes"
    assert inbox.count() == count  # nothing of the page stored
    after = inbox.checkpoint("058091")
    assert after.covered_until == before.covered_until
    assert after.pending_page == 1  # the same page again, once the limit is raised
    report = poller(fake, inbox, PullSettings(max_page_bytes=4_000_000)).pull()
    assert report.added == 6


def test_hostile_paging_stops_at_the_page_bound(inbox: Inbox) -> None:
    fake = Fake4005(FakeClock(NOW), notifications=spread(1, NOW - DAY, DAY), stuck_paging=True)
    with pytest.raises(PullLimitError) as stopped:
        poller(fake, inbox, PullSettings(max_pages=5)).pull(NOW - 2 * DAY)
    assert stopped.value.field == "notifications.pull.max_pages"
    assert len(fake.checks) == 5
    cp = inbox.checkpoint("058091")
    assert cp.covered_until is None  # the window is not covered
    assert cp.pending_page == 6  # pages read so far are committed; the rest is not skipped


def test_a_page_that_is_not_the_one_asked_is_a_protocol_error(inbox: Inbox) -> None:
    fake = Fake4005(
        FakeClock(NOW), notifications=spread(3, NOW - 3 * DAY, DAY), page_size=1, wrong_page=True
    )
    with pytest.raises(ProtocolError, match="not the page 2"):
        poller(fake, inbox).pull(NOW - 4 * DAY)
    assert inbox.checkpoint("058091").covered_until is None
    assert inbox.checkpoint("058091").pending_page == 2


def test_an_answer_about_another_extraction_is_a_protocol_error(inbox: Inbox) -> None:
    fake = Fake4005(FakeClock(NOW), notifications=spread(1, NOW - DAY, DAY), wrong_echo=True)
    with pytest.raises(ProtocolError, match="about extraction"):
        poller(fake, inbox).pull(NOW - 2 * DAY)
    assert inbox.count() == 0
    assert inbox.checkpoint("058091").covered_until is None


def test_a_job_never_ready_stops_at_the_request_bound(inbox: Inbox) -> None:
    fake = Fake4005(FakeClock(NOW), notifications=spread(1, NOW - DAY, DAY), never_ready=True)
    fake.delay = dt.timedelta(seconds=1)
    with pytest.raises(PullLimitError) as stopped:
        poller(fake, inbox, PullSettings(max_requests=10)).pull(NOW - 2 * DAY, max_wait=10**6)
    assert stopped.value.field == "notifications.pull.max_requests"
    assert len(fake.extractions) + len(fake.checks) == 10
    assert inbox.checkpoint("058091").pending_id == fake.extractions[0].id  # resumable


def test_refuses_what_anpr_would_refuse(inbox: Inbox) -> None:
    fake = Fake4005(FakeClock(NOW))
    with pytest.raises(NotificationError) as err:
        poller(fake, inbox).pull()
    assert err.value.field == "since"
    with pytest.raises(NotificationError) as err:
        poller(fake, inbox).pull(NOW - 181 * DAY)
    assert err.value.rule == "within the last 180 days"
    with pytest.raises(NotificationError):
        poller(fake, inbox, max_window=dt.timedelta(days=32))
    with pytest.raises(NotificationError) as err:
        poller(fake, inbox, stato_lavorazione="2")  # italia/anpr#1273
    assert err.value.field == "stato_lavorazione"
    with pytest.raises(NotificationError) as err:
        poller(fake, inbox, detail="ID")  # the notifications' content is needed
    assert err.value.field == "detail"
    assert fake.extractions == []
    # A future "until" is clamped to the server's time minus the skew.
    poller(fake, inbox).pull(NOW - DAY, until=NOW + DAY)
    assert fake.extractions[0].end == NOW - SKEW


def test_read_notifications_reads_an_answer_and_refuses_the_invented_document() -> None:
    fake = Fake4005(FakeClock(NOW))
    extraction = fake.extractions  # unused: build one answer by hand
    assert extraction == []
    answer = (
        b'<a:RispostaMultipla4005 xmlns:a="http://sogei.it/ANPR/4000estrazione">'
        + Sent("1", NOW).elenco(gz=True).encode()
        + b"</a:RispostaMultipla4005>"
    )
    events, quarantined = read_notifications(answer, recipient="058091")
    assert [e.key for e in events] == [("N010", "1")]
    assert quarantined == []
    invented = b"<notifiche><notifica><tipoNotifica>N010</tipoNotifica></notifica></notifiche>"
    with pytest.raises(ProtocolError, match="no 4005 answer"):
        read_notifications(invented)
    with pytest.raises(ProtocolError):
        read_notifications(b'<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>')
    with pytest.warns(DeprecationWarning, match="compressed"):
        read_notifications(answer, compressed=True)


def test_the_bounds_are_settings(tmp_path: Path) -> None:
    config = tmp_path / "anpr.toml"
    config.write_text(
        'codice_istat = "058091"\n[notifications.pull]\nmax_pages = 3\nmax_requests = 9\n'
        "max_page_bytes = 1024\n",
        encoding="utf-8",
    )
    limits = load_settings(config).notifications.pull
    assert (limits.max_pages, limits.max_requests, limits.max_page_bytes) == (3, 9, 1024)
    assert PullSettings() == Settings(codice_istat="058091").notifications.pull
    for bad in ("max_pages = 0", 'max_requests = "9"', "max_page_bytes = true", "other = 1"):
        config.write_text(
            f'codice_istat = "058091"\n[notifications.pull]\n{bad}\n', encoding="utf-8"
        )
        with pytest.raises(ConfigurationError) as refused:
            load_settings(config)
        assert (refused.value.setting or "").startswith("notifications.pull."), bad
