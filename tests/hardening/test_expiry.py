"""Expiry exactly once: two expiry jobs and debits racing over the same due grants (two
Ledgers on one PostgreSQL database, like two processes), and an expiry job killed with
SIGKILL while catching up after downtime. Every test runs on DuckDB and on PostgreSQL."""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import billing_core
from billing_core import BillingError, InsufficientCredits, Ledger
from tests.conftest import DEMO_NOW, FakeClock, PostgresForTests
from tests.hardening.books import audit_problems, cast, in_threads, replay_problems, rows

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).resolve().parent / "expiry_child.py"
BEFORE = DEMO_NOW - timedelta(days=20)  # when the grants were made


def grant_due_credits(ledger: Ledger, clock: FakeClock, spaces: list[int], each: int, seed: int) -> None:
    """`each` promotional grants per wallet, made at BEFORE and all due by DEMO_NOW (spread over
    the 15 days before it), and one that is not due yet."""
    rng = random.Random(seed)
    admin = ledger.user_by_email("admin0@example.com")
    clock.now = BEFORE
    for space in spaces:
        for _ in range(each):
            ends = DEMO_NOW - timedelta(hours=rng.randint(0, 360))
            ledger.grant_credits(admin, space, Decimal(rng.randint(1, 400)) / 4, description="promo",
                                 kind="promotional", expires_at=ends)
        ledger.grant_credits(admin, space, "5", description="later", kind="promotional",
                             expires_at=DEMO_NOW + timedelta(days=1))
    clock.now = DEMO_NOW


def expiry_problems(ledger: Ledger) -> list[str]:
    """Every grant due by DEMO_NOW has left its wallet (its remainder expired, once, or it was
    used up) and no other has; then the books' own checks."""
    problems = [
        f"grant {g}: due at {at}, {left} left, expired by {by}"
        for g, at, left, by in rows(
            ledger,
            "SELECT id, expires_at, remaining, expired_entry_id FROM grants "
            "WHERE (expires_at <= ? AND remaining <> 0) OR (expires_at > ? AND expired_entry_id IS NOT NULL)",
            [DEMO_NOW, DEMO_NOW],
        )
    ]
    twice = rows(ledger, """SELECT p.grant_id FROM postings p JOIN entries e ON e.id = p.entry_id
                            WHERE e.kind = 'expiry' AND p.grant_id IS NOT NULL
                            GROUP BY p.grant_id HAVING count(*) > 1""")
    problems += [f"grant {g} expired twice" for (g,) in twice]
    try:
        ledger.verify()
    except BillingError as error:
        problems.append(f"verify(): {error}")
    return problems + audit_problems(ledger) + replay_problems(ledger)


def test_two_expiry_jobs_and_debits_at_once_expire_each_grant_exactly_once(size, tally, twins) -> None:
    for round_ in range(size.pick(1, 8)):
        clock = FakeClock(BEFORE)
        a, b = twins(clock)
        tally.problems([f"round {round_}: {p}" for p in race(a, b, clock, round_, size.pick(6, 20), tally)])
    tally.assert_clean()


def race(a: Ledger, b: Ledger, clock: FakeClock, seed: int, each: int, tally) -> list[str]:
    """Two expiry jobs (one per Ledger) and four debiting threads, started together."""
    people = cast(a, 6, funding="20")
    b.user_by_email("admin0@example.com")
    grant_due_credits(a, clock, people["spaces"], each=each, seed=seed)
    due = rows(a, "SELECT count(*) FROM grants WHERE expires_at <= ?", [DEMO_NOW])[0][0]
    done: list[list[billing_core.Transaction]] = []
    lock = threading.Lock()
    spaces = people["spaces"]

    def work(i: int, barrier: threading.Barrier) -> None:
        book = (a, b)[i % 2]
        barrier.wait()
        if i < 2:  # two expiry jobs
            for _ in range(3):
                expired = book.expire_due()
                with lock:
                    done.append(expired)
            return
        for n in range(10):  # and debits, which expire their wallet's due grants first
            try:
                book.consume(people["admins"][0], spaces[(i + n) % len(spaces)], "0.25",
                             feature="AI", description="racing")
            except InsufficientCredits:
                pass

    in_threads(6, work)
    problems = expiry_problems(a)
    by_jobs = [t.id for batch in done for t in batch]
    if len(by_jobs) != len(set(by_jobs)):
        problems.append("the jobs returned an expiry twice")
    expired = rows(a, "SELECT count(*) FROM entries WHERE kind = 'expiry'")[0][0]
    if expired > due:
        problems.append(f"{expired} expiries for {due} due grants")
    tally.add(runs=1, operations=len(by_jobs) + 4 * 10)
    return problems


# ------------------------------------------------------------------------------- SIGKILL


def new_location(store: str, request: pytest.FixtureRequest, tmp_path: Path, n: int) -> str:
    if store == "duckdb":
        where = str(tmp_path / f"expiry-{n}.duckdb")
        billing_core.open_ledger(where, create=True).close()
        return where
    server: PostgresForTests = request.getfixturevalue("postgres")
    name, url = server.fresh()
    request.addfinalizer(lambda: server.drop(name))
    return url


def prepare(where: str, seed: int) -> None:
    clock = FakeClock(BEFORE)
    ledger = billing_core.open_ledger(where, clock=clock)
    try:
        people = cast(ledger, 30, funding="10")
        grant_due_credits(ledger, clock, people["spaces"], each=4, seed=seed)
    finally:
        ledger.close()


def run_and_kill(where: str, log: Path, seed: int, rng: random.Random) -> list[str]:
    """Start the child, kill it (-9) at a random moment of its catching up; its ODD lines."""
    errors = log.with_suffix(f".{seed}.err")
    with errors.open("w") as err:
        child = subprocess.Popen([sys.executable, str(CHILD), where, str(log), str(seed)],
                                 stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        while (line := lines.get(timeout=120)) != "ready":
            if line is None:
                raise AssertionError(f"the child ended early: {errors.read_text()[-2000:]}")
        time.sleep(rng.uniform(0.05, 1.2))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    return [x for x in errors.read_text().splitlines() if x.startswith("ODD")]


def logged_problems(ledger: Ledger, log: Path) -> tuple[int, list[str]]:
    """Every expiry the child saw committed is in the ledger as it was logged."""
    text = log.read_text() if log.exists() else ""
    lines = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]  # a torn last line
    found = {
        entry: (grant, amount)
        for entry, grant, amount in rows(ledger, """SELECT e.id, p.grant_id, e.amount FROM entries e
            JOIN postings p ON p.entry_id = e.id AND p.grant_id IS NOT NULL WHERE e.kind = 'expiry'""")
    }
    problems = []
    for line in lines:
        _, entry, grant, amount = line.split()
        if found.get(int(entry)) != (int(grant), Decimal(amount)):
            problems.append(f"logged {line!r}, the ledger has {found.get(int(entry))}")
    return len(lines), problems


def test_an_expiry_job_killed_while_catching_up_loses_nothing_and_expires_nothing_twice(
    size, tally, store: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    rng = random.Random(5)
    caught_midway = 0
    for run in range(size.pick(2, 12)):
        where = new_location(store, request, tmp_path, run)
        prepare(where, seed=run)
        log = tmp_path / f"expired-{run}.log"
        tally.problems([f"run {run}: {odd}" for odd in run_and_kill(where, log, 100 + run, rng)])
        try:
            ledger = billing_core.open_ledger(where)  # the clock: DEMO_NOW ($BILLING_CLOCK)
        except BillingError as error:
            tally.problem(f"run {run}: the ledger did not reopen: {error}")
            continue
        try:
            logged, problems = logged_problems(ledger, log)
            tally.problems([f"run {run}: {p}" for p in problems])
            try:
                ledger.verify()
            except BillingError as error:
                tally.problem(f"run {run}: verify() after the kill: {error}")
            left = rows(ledger, "SELECT count(*) FROM grants WHERE expires_at <= ? AND remaining > 0",
                        [DEMO_NOW])
            caught_midway += left[0][0] > 0
            ledger.expire_due()  # the next run of the job finishes the catching up
            tally.problems([f"run {run}: {p}" for p in expiry_problems(ledger)])
            tally.add(runs=1, operations=logged)
        finally:
            ledger.close()
    tally.note = f"{caught_midway} of the kills landed with grants still to expire"
    tally.assert_clean()
