"""Issue 4, item 7: a second process opening the ledger while the app holds it is told
what to do (LedgerUnavailable; the CLI exits 1 with one line), and the app is unharmed.

tests/unit/test_cli.py checks one CLI command against a bare DuckDB holder; here the
holder is a Ledger in the middle of writing, and every command is tried.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import billing_core
from billing_core import InsufficientCredits, Ledger
from tests.hardening.books import audit_problems, cast, one

ROOT = Path(__file__).resolve().parents[2]
OPEN_ELSEWHERE = """
import sys, billing_core
try:
    billing_core.open_ledger(sys.argv[1]).close()
    print("OPENED")
except billing_core.BillingError as error:
    print(type(error).__name__, error, sep="\\n")
"""


@pytest.fixture
def busy_app(tmp_path: Path) -> Iterator[tuple[Path, Ledger]]:
    """A ledger file held by this process, with a thread consuming from it all along."""
    path = tmp_path / "billing.duckdb"
    ledger = billing_core.open_ledger(str(path), create=True)
    people = cast(ledger, 1, funding="1000000")
    space = people["spaces"][0]
    member = people["members"][space][0]
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            try:
                ledger.consume(member, space, "1", feature="AI", description="busy")
            except InsufficientCredits:
                return

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        yield path, ledger
    finally:
        stop.set()
        writer.join()
        ledger.close()


def test_a_second_process_gets_ledger_unavailable_saying_what_to_do(busy_app, tally) -> None:
    path, ledger = busy_app
    before = one(ledger, "SELECT count(*) FROM entries")
    done = subprocess.run(
        [sys.executable, "-c", OPEN_ELSEWHERE, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    kind, _, message = done.stdout.partition("\n")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert kind == "LedgerInUse", done.stdout  # a LedgerUnavailable: the file is held
    assert "in use by another process" in message and "Stop that process" in message, message
    assert str(path) in message
    # the app went on writing throughout, and its books still balance
    assert one(ledger, "SELECT count(*) FROM entries") > before
    ledger.verify()
    assert not audit_problems(ledger)
    tally.add(runs=1, operations=1)


COMMANDS = {
    "init": ["init"],
    "seed": ["seed", "--workspaces", "1", "--months", "1"],
    "consume": ["consume", "1", "5", "--feature", "AI", "--description", "cli"],
    "balance": ["balance", "1"],
    "history": ["history", "1"],
    "verify": ["verify"],
}


def test_every_cli_command_explains_the_lock_in_one_line_and_exits_1(busy_app, tally) -> None:
    path, ledger = busy_app
    running = {
        name: subprocess.Popen(
            [sys.executable, "-m", "billing_core.cli", *args, "--db", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for name, args in COMMANDS.items()
    }
    for name, child in running.items():
        out, err = child.communicate(timeout=120)
        assert child.returncode == 1, (name, child.returncode, out, err)
        assert out == "" and "Traceback" not in err, (name, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("billing: "), (name, err)
        assert "in use by another process" in err and "Stop that process" in err, (name, err)
        tally.add(operations=1)
    ledger.verify()
    tally.add(runs=1)


def test_the_ledger_opens_elsewhere_once_the_app_has_closed_it(tmp_path: Path) -> None:
    path = tmp_path / "billing.duckdb"
    ledger = billing_core.open_ledger(str(path), create=True)
    cast(ledger, 1, funding="10")
    ledger.close()
    done = subprocess.run(
        [sys.executable, "-c", OPEN_ELSEWHERE, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.stdout.strip() == "OPENED", done.stdout + done.stderr


def test_opening_the_same_file_twice_in_one_process_is_refused_and_harms_nothing(tmp_path: Path) -> None:
    """A second Database over one file would share DuckDB's instance but not the write lock
    or the id counters: it is refused, and the first keeps working."""
    path = str(tmp_path / "billing.duckdb")
    first = billing_core.open_ledger(path, create=True)
    try:
        people = cast(first, 1, funding="100")
        space = people["spaces"][0]
        member = people["members"][space][0]
        with pytest.raises(billing_core.LedgerUnavailable, match="already open in this process"):
            billing_core.open_ledger(path)
        first.consume(member, space, "1", feature="AI", description="through the first")
        assert first.wallet(member, space).balance == 99
        first.verify()
    finally:
        first.close()
