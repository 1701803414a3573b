"""The 4005 poller: 31-day windows, "not ready", pages, gz, checkpoint and resume."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools

import pytest
from lxml import etree

from anpr_client.errors.exceptions import (
    AnprRejected,
    NotificationError,
    ProtocolError,
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
from tests.notifications.fake4005 import Fake4005, FakeClock, Sent
from tests.notifications.support import CF_2, n010_payload

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def poller(fake: Fake4005, inbox: Inbox, **kwargs: object) -> Poller:
    return Poller(
        fake.client(),
        inbox,
        clock=fake.clock,
        sleep=fake.clock.sleep,
        skew=120,
        poll_interval=5,
        **kwargs,  # type: ignore[arg-type]
    )


def spread(count: int, start: dt.datetime, step: dt.timedelta) -> list[Sent]:
    return [Sent(str(9_000_000 + i), start + i * step) for i in range(count)]


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
    assert periods[-1][1] == NOW - dt.timedelta(seconds=120)
    assert report.windows == periods
    assert report.complete
    assert report.added == 70 == inbox.count()
    cp = inbox.checkpoint("058091")
    assert cp.pending_id is None
    assert cp.covered_until == NOW - dt.timedelta(seconds=120)
    # The next pull starts where this one ended and finds nothing new.
    fake.clock.now += dt.timedelta(hours=1)
    again = poller(fake, inbox).pull()
    assert fake.extractions[-1].start == cp.covered_until
    assert again.added == 0


def test_never_asks_before_data_disponibilita_and_honours_not_ready(inbox: Inbox) -> None:
    fake = Fake4005(FakeClock(NOW), notifications=spread(3, NOW - 3 * DAY, DAY))
    fake.delay = dt.timedelta(seconds=40)
    fake.late = 2  # ready later than first announced, twice
    report = poller(fake, inbox).pull(NOW - 5 * DAY)
    assert fake.early == []
    assert len(fake.checks) == 3  # two "not ready" answers, then the results
    assert report.added == 3
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


def test_gz_results_and_push_pull_deduplication(inbox: Inbox) -> None:
    fake = Fake4005(FakeClock(NOW), notifications=spread(3, NOW - 3 * DAY, DAY), gz=True)
    pushed = decode_notification(
        "N010", etree.fromstring(n010_payload()), id_notifica=fake.notifications[0].id
    )
    inbox.add(pushed, channel="push")
    report = poller(fake, inbox).pull(NOW - 4 * DAY)
    assert report.received == 3
    assert report.added == 2
    assert [e.channel for e in inbox.entries()] == ["push", "pull", "pull"]
    assert all(isinstance(e.event, ResidenceChanged) for e in inbox.entries())


def test_undecodable_notifications_are_kept_as_invalid(inbox: Inbox) -> None:
    bad = Sent("9100", NOW - DAY, payload=b"<ns:NotificaN010 xmlns:ns='urn:x'/>")
    fake = Fake4005(FakeClock(NOW), notifications=[bad, Sent("9101", NOW - DAY, CF_2)])
    report = poller(fake, inbox).pull(NOW - 2 * DAY)
    assert (report.received, report.added, report.invalid) == (2, 1, 1)
    (invalid,) = inbox.entries(state=EntryState.INVALID)
    assert invalid.id_notifica == "9100"
    assert "generalitaSoggetto" in (invalid.last_error or "")
    assert inbox.entries(state=EntryState.PENDING)[0].codice_fiscale == CF_2


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
    assert fake.extractions == []
    # A future "until" is clamped to the server's time minus the skew.
    poller(fake, inbox).pull(NOW - DAY, until=NOW + DAY)
    assert fake.extractions[0].end == NOW - dt.timedelta(seconds=120)


def test_result_documents_read_tolerantly_and_zip_bombs_refused() -> None:
    document = Fake4005.document([Sent("1", NOW)])
    events, invalid = read_notifications(gzip.compress(document))  # sniffed
    assert [e.id_notifica for e in events] == ["1"]
    assert invalid == []
    wrapped = (
        b"<risultato xmlns='urn:any'>" + document.replace(b"<notifiche>", b"") + b"</risultato>"
    )
    wrapped = wrapped.replace(b"</notifiche>", b"")
    assert len(read_notifications(wrapped)[0]) == 1
    bomb = gzip.compress(b"<notifiche>" + b" " * 5_000_000 + b"</notifiche>")
    with pytest.raises(ProtocolError):
        read_notifications(bomb, compressed=True, max_bytes=1_000_000)
    with pytest.raises(ProtocolError):
        read_notifications(b'<!DOCTYPE x [<!ENTITY e "e">]><notifiche>&e;</notifiche>')
