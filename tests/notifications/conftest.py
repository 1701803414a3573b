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


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Inbox]:
    with Inbox(tmp_path / "inbox.sqlite", durable=False) as box:
        yield box


@pytest.fixture
def receiver(pki: Pki, inbox: Inbox) -> NotificationReceiver:
    return make_receiver(pki, inbox)


# The client tests' HTTPS loopback server (a stub ANPR for ``anpr notifications pull``).
from tests.client.support import ca, loopback  # noqa: E402

__all__ = ["ca", "inbox", "loopback", "pki", "receiver"]
