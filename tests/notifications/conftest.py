"""Fixtures of the notification tests (helpers live in :mod:`tests.notifications.support`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from anpr_client.notifications import Inbox, NotificationReceiver
from anpr_client.simulator.pki import Pki
from tests.notifications.support import make_receiver, shared_pki


@pytest.fixture(scope="session")
def pki() -> Pki:
    return shared_pki()


@pytest.fixture(params=("sqlite", "postgresql"))
def inbox_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's inbox lives: a SQLite file, or a schema of the session's PostgreSQL
    cluster (``postgres``, see ``tests/postgres.py``): the inbox suites run on both."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres").fresh_url("inbox"))
    return str(tmp_path / "inbox.sqlite")


@pytest.fixture
def inbox(inbox_location: str) -> Iterator[Inbox]:
    with Inbox(inbox_location, durable=False) as box:
        yield box


@pytest.fixture
def receiver(pki: Pki, inbox: Inbox) -> NotificationReceiver:
    return make_receiver(pki, inbox)


# The client tests' HTTPS loopback server (a stub ANPR for ``anpr notifications pull``).
from tests.client.support import ca, loopback  # noqa: E402

__all__ = ["ca", "inbox", "inbox_location", "loopback", "pki", "receiver"]
