"""The attack of issue 15, point 7, end to end against the ANPR simulator: a journal restored
from a backup handed out used ids again, and the next 3002 lookup got the stored answer of
*another person's* lookup (ANPR answers a known id with its first answer, italia/anpr#596).

Now the restored journal refuses to allocate until the rollback is accepted, and the lookup
then gets its own person; where no mark can see the rollback (the whole machine reverted),
the new open's epoch gives it a fresh id all the same.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anpr_client.client import Client
from anpr_client.errors.exceptions import JournalRolledBack
from anpr_client.journal import Journal
from anpr_client.simulator import Simulator, SimulatorConfig
from anpr_client.simulator.identities import SimulatorPki
from tests.simulator.support import payload_3002

B = "058091"
pytestmark = pytest.mark.filterwarnings("ignore::anpr_client.errors.AnprWarning")


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    state = tmp_path_factory.mktemp("restore-sim")
    SimulatorPki.open(state / "pki", (B,), host="127.0.0.1")
    s = Simulator(SimulatorConfig(state_dir=state, comuni=(B,), population=12)).start()
    try:
        yield s
    finally:
        assert s.internal_errors == ()
        s.close()


def _lookup(sim: Simulator, journal: Journal, cf: str) -> tuple[str, str]:
    """A 3002 for ``cf``: (the id it went out with, the codice fiscale ANPR answered with)."""
    with Client(sim.settings(B), journal=journal) as client:
        result = client.call("3002", payload_3002(cf))
    value: Any = result.value
    answered = value["listaSoggetti"]["datiSoggetto"][0]["generalita"]["codiceFiscale"]
    return result.id_operazione_comune or "", answered["codFiscale"]


def _three(sim: Simulator) -> list[str]:
    return [p.codice_fiscale for p in sim.store.residents(B)[:3]]


def test_a_restored_journal_never_gets_another_persons_answer(
    sim: Simulator, tmp_path: Path
) -> None:
    first, second, third = _three(sim)
    path, marks = tmp_path / "journal.sqlite", tmp_path / "state" / "id-marks.sqlite"
    with Journal(path, id_marks=marks) as j:
        assert _lookup(sim, j, first)[1] == first
    shutil.copyfile(path, tmp_path / "backup.sqlite")
    with Journal(path, id_marks=marks) as j:
        used, answered = _lookup(sim, j, second)
        assert answered == second
    shutil.copyfile(tmp_path / "backup.sqlite", path)  # the backup is put back

    with Journal(path, id_marks=marks) as restored:
        with pytest.raises(JournalRolledBack):  # reported, and nothing was sent
            _lookup(sim, restored, third)
        assert restored.accept_rollback()
        ident, answered = _lookup(sim, restored, third)
    assert ident != used
    assert answered == third  # its own person, not the second lookup's stored answer


def test_a_reverted_machine_gets_its_own_answer_too(sim: Simulator, tmp_path: Path) -> None:
    first, second, third = _three(sim)
    path, marks = tmp_path / "journal.sqlite", tmp_path / "id-marks.sqlite"
    with Journal(path, id_marks=marks) as j:
        _lookup(sim, j, first)
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    for f in tmp_path.glob("*.sqlite*"):
        shutil.copyfile(f, snapshot / f.name)
    with Journal(path, id_marks=marks) as j:
        used, _ = _lookup(sim, j, second)
    for f in snapshot.iterdir():  # journal and marks back as they were: nothing to see
        shutil.copyfile(f, tmp_path / f.name)
    with Journal(path, id_marks=marks) as reverted:
        assert reverted.rollbacks() == []
        ident, answered = _lookup(sim, reverted, third)
    assert ident != used  # the same counter, another epoch
    assert answered == third
