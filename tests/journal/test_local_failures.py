"""What never left the machine is never retried nor left "may have been applied"; a read-only
operation whose outcome is unknown is not left for resolving."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import trustme

from anpr_client.client import Client
from anpr_client.errors.exceptions import (
    CertificateVerificationError,
    ConfigurationError,
    ConnectionLost,
)
from anpr_client.journal import Journal, OperationRecord, State
from tests.client.support import LoopbackServer, ca, loopback, recorded
from tests.journal.support import FakeAnpr, make_client, payload_3002, payload_5005, settings

__all__ = ["ca", "loopback"]


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.sqlite", durable=False)


def _only(journal: Journal) -> OperationRecord:
    (record,) = list(journal.since(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    return record


def test_a_missing_ca_bundle_is_not_retried_and_recorded_as_not_sent(
    journal: Journal, tmp_path: Path
) -> None:
    cfg = settings(max_attempts=4).replace(ca_bundle=tmp_path / "missing.pem")
    client = Client(cfg, journal=journal)  # the default HTTPS transport, made on first use
    with pytest.raises(ConfigurationError) as info:
        client.call("5005", payload_5005())
    assert info.value.setting == "ca_bundle"
    record = _only(journal)
    assert record.state is State.FAILED_NOT_DELIVERED
    assert record.outcome == "not_applied"
    assert record.resolution == "failed_locally"
    assert len(record.attempts) == 1  # never retried
    assert journal.pending() == []
    assert "may have been applied" not in "\n".join(getattr(info.value, "__notes__", ()))


def test_a_server_certificate_that_does_not_verify_is_not_retried(
    journal: Journal, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.canned.body = recorded("ok_3002.xml")
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    cfg = settings(max_attempts=4).replace(base_url=loopback.url, ca_bundle=other)
    with pytest.raises(CertificateVerificationError) as info:
        Client(cfg, journal=journal).call("5005", payload_5005())
    assert "'ca_bundle'" in str(info.value)
    record = _only(journal)
    assert record.state is State.FAILED_NOT_DELIVERED
    assert len(record.attempts) == 1
    assert loopback.canned.received == []
    assert journal.pending() == []


def test_a_read_only_operation_of_unknown_outcome_needs_no_resolving(journal: Journal) -> None:
    fake = FakeAnpr(script=["lose"] * 4)
    with pytest.raises(ConnectionLost) as info:
        make_client(fake, journal).call("3002", payload_3002())
    record = _only(journal)
    assert (record.state, record.outcome, record.resolution) == (
        State.RESOLVED,
        "not_applied",
        "read_only",
    )
    assert journal.pending() == []
    notes = "\n".join(info.value.__notes__)
    assert "read-only" in notes
    assert "anpr journal resolve" not in notes


def test_an_operation_with_effects_of_unknown_outcome_is_still_pending(journal: Journal) -> None:
    fake = FakeAnpr(script=["lose"] * 4)
    with pytest.raises(ConnectionLost):
        make_client(fake, journal).call("5005", payload_5005())
    (record,) = journal.pending()
    assert record.state is State.OUTCOME_UNKNOWN
