"""Issue 4, item 6: SIGKILL a process writing to the ledger; nothing it committed is lost.

`crash_child.py` runs writer threads on a ledger file and logs (fsynced) every call that
returned. The test kills it with SIGKILL at a random moment, or just after it entered a
CHECKPOINT, reopens the file with `open_ledger`, and checks that every logged movement,
request and decision is there as logged, that `verify()` passes and the audit log still
matches, then starts the child again on the same file: crash after crash. At the end the
app itself starts on the recovered ledger.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

import billing_core
from billing_core import BillingError, Ledger
from tests.conftest import signed_in_as
from tests.hardening.books import audit_problems, cast, replay_problems, rows

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).resolve().parent / "crash_child.py"


def prepare(path: Path) -> None:
    ledger = billing_core.open_ledger(str(path), create=True)
    try:
        cast(ledger, 4, members_each=2, funding="2000")
    finally:
        ledger.close()


def run_and_kill(path: Path, log: Path, seed: int, mode: str, rng: random.Random) -> dict[str, object]:
    """Start the child, kill it (-9) at a random moment or inside a checkpoint; what it said."""
    errors = log.with_suffix(f".{seed}.err")
    with errors.open("w") as err:
        child = subprocess.Popen(
            [sys.executable, str(CHILD), str(path), str(log), str(seed), mode],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=ROOT,
        )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.put(line.strip())
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    said: list[str] = []
    try:
        deadline = time.monotonic() + 120
        wanted = "ready" if mode == "run" else "checkpoint"
        skip = 0 if mode == "run" else rng.randint(0, 2)
        while True:
            line = lines.get(timeout=max(1.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"the child ended early: {errors.read_text()[-2000:]}")
            said.append(line)
            if line == wanted:
                if skip == 0:
                    break
                skip -= 1
        time.sleep(rng.uniform(0.2, 1.5) if mode == "run" else rng.uniform(0.0, 0.02))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
        reader.join(timeout=60)
    while (line := lines.get_nowait() if not lines.empty() else None) is not None:
        said.append(line)
    marks = [s for s in said if s.startswith("checkpoint")]
    return {
        "killed_in_checkpoint": bool(marks) and marks[-1] == "checkpoint",
        "checkpoints_refused": marks.count("checkpoint-refused"),
        "odd": [x for x in errors.read_text().splitlines() if x.startswith("ODD")],
        "returncode": child.returncode,
    }


def committed_problems(ledger: Ledger, log: Path) -> tuple[int, list[str]]:
    """Every line of the side log must be in the ledger as logged; (lines, problems)."""
    text = log.read_text() if log.exists() else ""
    lines = text.splitlines()
    if text and not text.endswith("\n"):
        lines = lines[:-1]  # torn by the kill while being written: not confirmed
    entries = {
        i: (k, ws, a) for i, k, ws, a in rows(ledger, "SELECT id, kind, workspace_id, amount FROM entries")
    }
    requests = {
        i: (ws, a, s, e)
        for i, ws, a, s, e in rows(
            ledger, "SELECT id, workspace_id, amount, status, entry_id FROM credit_requests"
        )
    }
    keys = dict(rows(ledger, "SELECT key, entry_id FROM idempotency_keys"))
    problems: list[str] = []
    for line in lines:
        kind, ident, *rest = line.split()
        number = int(ident)
        if kind in ("debit", "credit"):
            expected = (kind, int(rest[0]), Decimal(rest[1]))
            if entries.get(number) != expected:
                problems.append(f"logged {line!r}, ledger has {entries.get(number)}")
            if kind == "debit" and rest[2] != "-" and keys.get(rest[2]) != number:
                problems.append(f"logged {line!r}, key maps to {keys.get(rest[2])}")
        elif kind == "request":
            found = requests.get(number)
            if found is None or found[:2] != (int(rest[0]), Decimal(rest[1])):
                problems.append(f"logged {line!r}, ledger has {found}")
        else:
            found = requests.get(number)
            entry = None if rest[0] == "-" else int(rest[0])
            if found is None or found[2] != kind or found[3] != entry:
                problems.append(f"logged {line!r}, ledger has {found}")
    return len(lines), problems


def crash_cycle(tmp_path: Path, runs: int, mode: str, tally, seed: int) -> tuple[Path, int]:
    path, log = tmp_path / "ledger.duckdb", tmp_path / "committed.log"
    prepare(path)
    rng = random.Random(seed)
    in_checkpoint = 0
    for run in range(runs):
        outcome = run_and_kill(path, log, seed * 1000 + run, mode, rng)
        in_checkpoint += bool(outcome["killed_in_checkpoint"])
        tally.problems([f"run {run}: {o}" for o in outcome["odd"]])  # type: ignore[attr-defined]
        try:
            ledger = billing_core.open_ledger(str(path))
        except BillingError as error:
            tally.problem(f"run {run}: the ledger did not reopen: {error}")
            break
        try:
            logged, problems = committed_problems(ledger, log)
            tally.problems([f"run {run}: {p}" for p in problems])
            try:
                ledger.verify()
            except BillingError as error:
                tally.problem(f"run {run}: verify(): {error}")
            tally.problems([f"run {run}: {p}" for p in replay_problems(ledger) + audit_problems(ledger)])
        finally:
            ledger.close()
        tally.add(runs=1, operations=logged if run == runs - 1 else 0)
    return path, in_checkpoint


def test_sigkill_at_a_random_moment_loses_nothing_committed(
    size, tally, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = crash_cycle(tmp_path, size.pick(2, 50), "run", tally, seed=7)
    app_starts_on(path, monkeypatch, tally)
    tally.assert_clean()


def test_sigkill_inside_a_checkpoint_loses_nothing_committed(size, tally, tmp_path: Path) -> None:
    runs = size.pick(3, 20)
    _, in_checkpoint = crash_cycle(tmp_path, runs, "checkpoint", tally, seed=11)
    tally.note = f"{in_checkpoint}/{runs} kills inside CHECKPOINT"
    # the kill lands within ~20 ms of "checkpoint"; a refused checkpoint (see the xfail
    # test below) ends at once, so not every kill lands inside one, but a quarter must
    if in_checkpoint < max(1, runs // 4):
        tally.problem(f"only {in_checkpoint} of {runs} kills landed inside a checkpoint")
    tally.assert_clean()


def app_starts_on(path: Path, monkeypatch: pytest.MonkeyPatch, tally) -> None:
    """The app (app.py in AppTest, signed in as an admin) renders on the recovered ledger."""
    from streamlit.testing.v1 import AppTest

    from pages import _shared

    monkeypatch.setenv("BILLING_DB", str(path))
    _shared.get_ledger.clear()
    book = _shared.get_ledger()
    try:
        admin = book.user_by_email("admin0@example.com")
        assert admin is not None
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        signed_in_as(at, book, admin)
        at.run()
        if at.exception:
            tally.problem(f"the app failed on the recovered ledger: {at.exception[0].value}")
        elif not at.main.children:
            tally.problem("the app drew nothing on the recovered ledger")
        tally.add(operations=1)
    finally:
        _shared.get_ledger.clear()
        book.close()


def test_a_checkpoint_taken_while_others_read_and_write_succeeds_or_says_why(tmp_path: Path) -> None:
    ledger = billing_core.open_ledger(str(tmp_path / "busy.duckdb"), create=True)
    try:
        people = cast(ledger, 2, funding="100000")
        admin, space = people["admins"][0], people["spaces"][0]
        stop = threading.Event()

        def keep(work: object) -> None:
            while not stop.is_set():
                work()  # type: ignore[operator]

        workers = [
            threading.Thread(target=keep, args=(w,))
            for w in (
                lambda: ledger.grant_credits(admin, space, "1", description="busy"),
                lambda: ledger.requests(admin, status="pending", limit=50),
                lambda: ledger.history(admin, space),
            )
        ]
        for worker in workers:
            worker.start()
        escaped: list[str] = []
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not escaped:
                try:
                    ledger.checkpoint()
                except BillingError:
                    pass  # a refusal the caller can act on is fine
                except Exception as error:  # noqa: BLE001 - the finding
                    escaped.append(f"{type(error).__module__}.{type(error).__name__}: {error}")
                time.sleep(0.02)
        finally:
            stop.set()
            for worker in workers:
                worker.join()
        assert not escaped, escaped
        ledger.verify()
    finally:
        ledger.close()
