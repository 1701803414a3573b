"""Crash safety: the receiver process killed between persisting and replying."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from anpr_client.notifications import EntryState, Inbox
from anpr_client.simulator.pki import Pki
from tests.notifications.support import free_port, outcome_of, signed_request, write_settings

CHILD = Path(__file__).with_name("receiver_child.py")


@contextmanager
def child_receiver(
    config: Path, port: int, barrier: Path | None = None
) -> Iterator[subprocess.Popen[str]]:
    args = [sys.executable, str(CHILD), str(config), str(port)]
    if barrier is not None:
        args.append(str(barrier))
    env = {**os.environ, "ANPR_TEST_P12": "p12-password"}
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip() != "ready":
            process.kill()
            _, err = process.communicate(timeout=10)
            pytest.fail(f"the receiver process did not start: {line!r} {err[-2000:]}")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_killed_between_persisting_and_replying_then_redelivered(pki: Pki, tmp_path: Path) -> None:
    files = write_settings(pki, tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}/n000"
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    barrier = tmp_path / "persisted"
    with child_receiver(files.path, port, barrier) as process:
        session = requests.Session()
        try:
            session.post(url, data=signed_request(pki), headers=headers, timeout=(5, 0.5))
            pytest.fail("the receiver answered although it is blocked after persisting")
        except requests.exceptions.ReadTimeout:
            pass  # ANPR sees no answer
        deadline = time.monotonic() + 20
        while not barrier.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert barrier.read_text() == "N010 9000000001 True"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        assert process.returncode == -signal.SIGKILL
    with Inbox(files.store) as box:
        (entry,) = box.entries()  # committed before the crash
        assert entry.state is EntryState.PENDING
    # ANPR retries (a new signature, a new encryption, the same notification).
    port = free_port()
    with child_receiver(files.path, port):
        reply = requests.post(
            f"http://127.0.0.1:{port}/n000", data=signed_request(pki), headers=headers, timeout=20
        )
        assert reply.status_code == 200
        assert outcome_of(reply.content) == "1"
    with Inbox(files.store) as box:
        assert [e.key for e in box.entries()] == [("N010", "9000000001")]
