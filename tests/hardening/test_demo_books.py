"""The seeded demo ledger obeys the rules a live ledger does (issue 4, items 1-2 on the demo).

`make run` shows people the demo; its history must be one the ledger could have written:
replayed in journal order, no wallet ever goes below zero.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import billing_core
from tests.hardening.books import audit_problems, replay_problems


def test_the_demo_journal_never_overdraws_when_replayed(demo_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "demo.duckdb"
    shutil.copy(demo_file, copy)
    ledger = billing_core.open_ledger(str(copy))
    try:
        ledger.verify()
        assert not audit_problems(ledger)
        assert not replay_problems(ledger)
    finally:
        ledger.close()
