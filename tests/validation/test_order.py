"""The order of the findings does not depend on the interpreter's string hashing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# Every required field missing, plus one field the batch does not require (precheck-style).
_SCRIPT = """
import json
from datetime import date
from anpr_client.validation.rules import BATCH_REQUIRED, PersonChecker
checker = PersonChecker(today=date(2026, 1, 15))
batch = [f.path for f in checker.check({}) if f.rule == "field.missing"]
wider = [
    f.path
    for f in checker.check({}, required=BATCH_REQUIRED | {"luogo_nascita_nome", "indirizzo"})
    if f.rule == "field.missing"
]
print(json.dumps([batch, wider]))
"""


def _paths(seed: str) -> list[list[str]]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True, env=env
    )
    result: list[list[str]] = json.loads(out.stdout)
    return result


def test_missing_fields_in_declared_order_whatever_the_hash_seed() -> None:
    # several seeds: with five names, two seeds alone could happen to agree on a hash order
    runs = {seed: _paths(seed) for seed in ("0", "1", "2", "3", "12345")}
    declared = ["cognome", "nome", "sesso", "data_nascita", "luogo_nascita"]
    for seed, (batch, wider) in runs.items():
        assert batch == declared, seed
        # the declared fields first, then the others sorted
        assert wider == [*declared[:5], "indirizzo", "luogo_nascita_nome"], seed
