"""End to end against the ANPR simulator (signed requests over TLS on loopback).

For every injected fault, a real 5005 (a person of Comune A moves into a family of Comune B)
ends applied **exactly once** in the simulator's ledger and registry, and the journal tells the
truth. The crash test kills a client process with SIGKILL while the simulator holds its answer
after the commit; ``anpr journal pending`` then shows the operation and ``anpr journal
resolve`` settles it without a duplicate.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from anpr_client.client import Client
from anpr_client.errors.exceptions import ConnectionLost
from anpr_client.journal import (
    Journal,
    RetryPolicy,
    State,
    journaled_call,
    open_journal,
    resolve,
)
from anpr_client.settings import RetrySettings, Timeouts
from anpr_client.simulator import Fault, Person, Simulator, SimulatorConfig
from anpr_client.simulator.identities import SimulatorPki
from anpr_client.simulator.payloads import comune_info, residence

A, B = "015146", "058091"
ROOT = Path(__file__).resolve().parents[2]

# A person leaving a family of A makes the simulator warn A's family (EN226, severity W): the
# operation succeeded; the warnings are not what these tests are about.
pytestmark = pytest.mark.filterwarnings("ignore::anpr_client.errors.AnprWarning")


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("journal-sim-pki") / "pki"
    SimulatorPki.open(directory, (B, A), host="127.0.0.1")
    return directory


def _simulator(pki_dir: Path, state: Path) -> Simulator:
    shutil.copytree(pki_dir, state / "pki")
    return Simulator(SimulatorConfig(state_dir=state, comuni=(B, A), population=60)).start()


@pytest.fixture(scope="module")
def sim(pki_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    s = _simulator(pki_dir, tmp_path_factory.mktemp("journal-sim"))
    try:
        yield s
    finally:
        assert s.internal_errors == ()
        s.close()


@pytest.fixture
def faults(sim: Simulator) -> Iterator[Any]:
    try:
        yield sim.faults
    finally:
        sim.faults.clear()


def _movers(sim: Simulator) -> Iterator[Person]:
    # Family heads would leave their family headless (a warning); move the others.
    for person in sim.store.residents(A):
        if person.relation != "1":
            yield person


_taken: set[str] = set()


def _mover(sim: Simulator) -> Person:
    for person in _movers(sim):
        if person.codice_fiscale not in _taken:
            _taken.add(person.codice_fiscale)
            return person
    raise AssertionError("the simulator ran out of persons to move")


def payload_5005(sim: Simulator, person: Person) -> dict[str, Any]:
    """Move ``person`` (resident in A) into the first family of B."""
    family_id = sim.store.residents(B)[0].household_id
    assert family_id is not None
    family = sim.store.household(family_id)
    assert family is not None
    today = dt.date.today()
    home = residence(family, comune_info(sim.store, B)) | {"dataDecorrenzaResidenza": today}
    return {
        "testataRichiesta": {"dataDecorrenza": today},
        "generalitaSchedaFamiglia": {"idFamigliaConvivenzaANPR": family_id, "tipoScheda": "1"},
        "residenzaFamiglia": [home],
        "datiControllo": {"tipoMutazione": "02", "tipoScheda": "1"},
        "elencoSoggettiFamiglia": [
            {
                "generalita": {
                    "codiceFiscale": {"codFiscale": person.codice_fiscale},
                    "cognome": person.surname,
                    "nome": person.name,
                    "sesso": person.sex,
                    "dataNascita": person.birth_date,
                },
                "legameSoggetto": {"dataDecorrenza": today, "codiceLegame": "99"},
            }
        ],
    }


def _client(
    sim: Simulator, journal: Journal, *, reconcile: bool = False, read: float = 1.0
) -> Client:
    settings = sim.settings(
        B,
        timeouts=Timeouts(connect=5.0, read=read),
        retry=RetrySettings(max_attempts=4, backoff=0.05, max_backoff=0.2, reconcile=reconcile),
    )
    return Client(settings, journal=journal)  # callers close it (with …)


def _applied_once(sim: Simulator, ident: str, person: Person) -> None:
    records = [r for r in sim.ledger.operations(B, "5005") if r.id_operazione_comune == ident]
    assert len(records) == 1
    assert records[0].times_applied == 1
    assert records[0].ok
    moved = sim.store.person(person.codice_fiscale)
    assert moved is not None
    assert moved.comune == B
    # Nothing else was registered for this person: one move, one registration in the ledger.
    assert (
        sum(
            1
            for r in sim.ledger.operations(B, "5005")
            if person.codice_fiscale.encode() in r.request
        )
        == 1
    )


# fault → the attempt states the journal must show (first attempt, …, last)
MATRIX: dict[str, tuple[str, ...]] = {
    "refuse": ("outcome_unknown", "answered"),
    "drop_before_commit": ("outcome_unknown", "answered"),
    "timeout_after_commit": ("outcome_unknown", "answered"),
    "commit_then_lose_response": ("outcome_unknown", "answered"),
    "http_5xx": ("outcome_unknown", "answered"),
    "http_5xx_after_commit": ("outcome_unknown", "answered"),
    "internal_error_from_server": ("outcome_unknown", "answered"),
    "internal_error_from_server_after_commit": ("outcome_unknown", "answered"),
}


@pytest.mark.parametrize("kind", list(MATRIX))
def test_fault_matrix(sim: Simulator, faults: Any, tmp_path: Path, kind: str) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    person = _mover(sim)
    faults.inject(Fault(kind, operation="5005", seconds=3.0))  # type: ignore[arg-type]
    with _client(sim, journal) as client:
        result = client.call("5005", payload_5005(sim, person))
    ident = result.id_operazione_comune or ""
    _applied_once(sim, ident, person)
    record = journal.get(ident)
    assert (record.state, record.outcome, record.resolution) == (State.ANSWERED, "ok", "replay")
    assert tuple(a.state for a in record.attempts) == MATRIX[kind]
    assert {a.id_operazione_comune for a in record.attempts} == {ident}
    ledger = sim.ledger.find(B, id_operazione_comune=ident)
    assert ledger is not None
    assert record.id_operazione_anpr == ledger.id_operazione_anpr == result.id_operazione_anpr
    assert journal.pending() == []


def test_connection_refused_before_anything(pki_dir: Path, tmp_path: Path) -> None:
    # A fresh simulator: a connection-stage fault must meet this client's connection, not a
    # kept-alive one of an earlier test closing.
    sim = _simulator(pki_dir, tmp_path / "state")
    try:
        journal = Journal(tmp_path / "journal.sqlite")
        person = next(_movers(sim))
        sim.faults.inject(Fault("refuse"))  # any operation: dropped before the request is read
        with _client(sim, journal) as client:
            result = client.call("5005", payload_5005(sim, person))
        _applied_once(sim, result.id_operazione_comune or "", person)
        record = journal.get(result.id_operazione_comune or "")
        # The client cannot tell a connection dropped before the request was read from one
        # dropped after: both are "may have reached ANPR", and the resend is safe either way.
        assert record.attempts[0].state in ("not_delivered", "outcome_unknown")
        assert record.attempts[-1].state == "answered"
        assert record.state is State.ANSWERED
    finally:
        sim.close()
        # CPython 3.11's ssl leaves unclosed the SSLSocket of a connection reset before the
        # TLS handshake (SSLSocket._create's pre-handshake recv path): collect it here rather
        # than let the garbage collector blame a later test. Nothing of the journal's.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


def test_en148_while_the_first_is_running(sim: Simulator, faults: Any, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    person = _mover(sim)
    faults.inject(Fault("latency", operation="5005", seconds=1.5))
    with _client(sim, journal, read=0.5) as client:
        result = journaled_call(
            client,
            journal,
            "5005",
            payload_5005(sim, person),
            policy=RetryPolicy(max_attempts=6, backoff=0.5, max_backoff=1.0),
            rng=lambda: 1.0,
        )
    _applied_once(sim, result.id_operazione_comune or "", person)
    states = [a.state for a in journal.get(result.id_operazione_comune or "").attempts]
    assert states[0] == "outcome_unknown"
    assert "in_progress" in states  # EN148: waited instead of giving up or re-registering
    assert states[-1] == "answered"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("commit_then_lose_response", (("send", "outcome_unknown"), ("lookup", "answered"))),
        (
            "drop_before_commit",
            (("send", "outcome_unknown"), ("lookup", "not_found"), ("send", "answered")),
        ),
    ],
)
def test_reconcile_with_3003(
    sim: Simulator, faults: Any, tmp_path: Path, kind: str, expected: tuple[tuple[str, str], ...]
) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    person = _mover(sim)
    faults.inject(Fault(kind, operation="5005"))  # type: ignore[arg-type]
    with _client(sim, journal, reconcile=True) as client:
        result = client.call("5005", payload_5005(sim, person))
    ident = result.id_operazione_comune or ""
    _applied_once(sim, ident, person)
    record = journal.get(ident)
    assert tuple((a.kind, a.state) for a in record.attempts) == expected
    ledger = sim.ledger.find(B, id_operazione_comune=ident)
    assert ledger is not None
    assert record.id_operazione_anpr == ledger.id_operazione_anpr


def test_attempts_run_out_then_resolve(sim: Simulator, faults: Any, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    person = _mover(sim)
    faults.inject(Fault("commit_then_lose_response", operation="5005", times=4))
    with _client(sim, journal) as client:
        with pytest.raises(ConnectionLost) as info:
            client.call("5005", payload_5005(sim, person))
        assert info.value.outcome_unknown
        (record,) = journal.pending()
        assert record.state is State.OUTCOME_UNKNOWN
        done = resolve(client, journal, record)
    assert (done.record.state, done.record.outcome) == (State.RESOLVED, "ok")
    _applied_once(sim, record.id_operazione_comune, person)


# ----------------------------------------------------------------------------- crash

_CHILD = """
import json, sys
from anpr_client import Client
from anpr_client.settings import load_settings
client = Client(load_settings(sys.argv[1]))
client.call("5005", json.load(open(sys.argv[2])))
print("finished")
"""


def _worker(tmp_path: Path, name: str) -> tuple[Path, dict[str, str]]:
    """A folder of its own for a worker process (its working directory and temp), as on
    another machine: workers share the journal's database and nothing else."""
    own = tmp_path / name
    (own / "tmp").mkdir(parents=True)
    env = {**os.environ, "TMPDIR": str(own / "tmp"), "ANPR_ID_MARKS": str(own / "marks.sqlite")}
    return own, env


def _with_journal(settings_path: Path, journal: str, tmp_path: Path) -> Path:
    """A copy of the simulator's settings whose journal is ``journal`` (a file or a URL)."""
    text = settings_path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^journal = .*$", lambda _: f"journal = {json.dumps(journal)}", text)
    copy = settings_path.with_name("anpr-shared-journal.toml")
    copy.write_text(text, encoding="utf-8")
    return copy


@pytest.mark.slow
def test_sigkill_mid_call_then_pending_and_resolve(
    pki_dir: Path, tmp_path: Path, location: Callable[[str], str], backend: str
) -> None:
    """A worker killed mid-call; another worker — another process in another folder (on
    PostgreSQL: as on another machine) — lists and resolves what it left."""
    sim = _simulator(pki_dir, tmp_path / "state")
    try:
        journal = location("shared")
        settings_path = _with_journal(sim.settings_path(B), journal, tmp_path)
        person = next(_movers(sim))
        payload_file = tmp_path / "payload.json"
        payload_file.write_text(json.dumps(payload_5005(sim, person), default=str))
        # The simulator commits, then holds the answer: the client is killed meanwhile.
        sim.faults.inject(Fault("timeout_after_commit", operation="5005", seconds=5.0))
        own, env = _worker(tmp_path, "worker-killed")
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(settings_path), str(payload_file)],
            cwd=own,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while not sim.ledger.operations(B, "5005"):
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child never reached the simulator"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        out, _ = child.communicate(timeout=10)
        assert b"finished" not in out
        assert child.returncode == -signal.SIGKILL
        (applied,) = sim.ledger.operations(B, "5005")

        own, env = _worker(tmp_path, "worker-resolving")
        env["ANPR_CONFIG"] = str(settings_path)

        def anpr(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-c", _ANPR, *args],
                cwd=own,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )

        shown = anpr("journal", "pending", "--json")
        assert shown.returncode == 0, shown.stderr
        (row,) = json.loads(shown.stdout)
        assert row["idOperazioneComune"] == applied.id_operazione_comune
        assert row["state"] == "sending"  # the crash left "may have reached ANPR"
        assert row["inFlight"] is False  # its process is gone
        assert row["mayHaveReachedAnpr"] is True

        done = anpr("journal", "resolve", "--json")
        assert done.returncode == 0, done.stderr
        (settled,) = json.loads(done.stdout)
        assert (settled["state"], settled["outcome"]) == ("resolved", "ok")
        assert settled["idOperazioneANPR"] == applied.id_operazione_anpr

        records = sim.ledger.operations(B, "5005")
        assert len(records) == 1  # no duplicate registration
        assert records[0].times_applied == 1
        moved = sim.store.person(person.codice_fiscale)
        assert moved is not None
        assert moved.comune == B
        again = anpr("journal", "pending", "--json")
        assert json.loads(again.stdout) == []
        with open_journal(journal) as j:
            record = j.get(applied.id_operazione_comune)
        assert [a.state for a in record.attempts] == ["sending", "answered"]
    finally:
        assert sim.internal_errors == ()
        sim.close()


_ANPR = "from anpr_client.cli.main import main; main()"
