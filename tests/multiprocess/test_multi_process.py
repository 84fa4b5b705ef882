"""Several app processes on one PostgreSQL ledger (issue 6).

PROCESSES processes x THREADS threads at once, each debiting (half of them with an
idempotency key, sent twice) and approving or rejecting the same pending requests.
Afterwards: no wallet below zero, each request decided once (and an approved one
credited once), every debit a process was told about is in the ledger with its
amount, nothing else was added, and `verify()` passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import billing_core
from tests.conftest import REPO_ROOT, PostgresForTests

PROCESSES = 4
THREADS = 8


def _setup(url: str, steps: int) -> tuple[dict[str, Any], dict[int, Decimal]]:
    with billing_core.open_ledger(url) as ledger:
        admins = [ledger.add_user(f"admin{i}@example.com", f"Admin {i}", admin=True) for i in range(3)]
        members: dict[int, list[str]] = {}
        for w in range(4):
            space = ledger.create_workspace(f"Team {w}")
            emails = []
            for m in range(2):
                user = ledger.add_user(f"m{w}{m}@example.com", f"Member {w}{m}")
                ledger.add_member(space.id, user.id)
                emails.append(user.email)
            members[space.id] = emails
            ledger.grant_credits(admins[0], space.id, "150", description="opening balance")
        requests = []
        for i in range(24):
            space = list(members)[i % 4]
            requester = ledger.user_by_email(members[space][i % 2])
            assert requester is not None
            requests.append(ledger.request_credits(requester, space, Decimal(5 + i)).id)
        start = {space: ledger.wallet(admins[0], space).balance for space in members}
    plan = {
        "admins": [a.email for a in admins],
        "members": members,
        "requests": requests,
        "threads": THREADS,
        "steps": steps,
    }
    return plan, start


def test_four_processes_of_eight_threads_debit_and_approve_one_ledger(
    postgres: PostgresForTests, tmp_path: Path
) -> None:
    name, url = postgres.fresh()
    try:
        plan, start = _setup(url, steps=40)
        plan_file = tmp_path / "plan.json"
        plan_file.write_text(json.dumps(plan), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "BILLING_PG_POOL": "6"}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.multiprocess.worker", url, str(plan_file),
                 str(tmp_path / f"out{n}.json"), str(n)],
                cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE, text=True,
            )
            for n in range(PROCESSES)
        ]
        for worker in workers:
            _, err = worker.communicate(timeout=240)
            assert worker.returncode == 0, err[-2000:]
        outcomes = [o for n in range(PROCESSES) for o in json.loads((tmp_path / f"out{n}.json").read_text())]
        _check(url, plan, start, outcomes)
    finally:
        postgres.drop(name)


def _check(url: str, plan: dict[str, Any], start: dict[int, Decimal], outcomes: list[dict[str, Any]]) -> None:
    ops = Counter(o["op"] for o in outcomes)
    refusals = Counter(o["error"] for o in outcomes if o["op"] == "refused")
    # the only refusals: an empty wallet, and a request another process decided first
    assert set(refusals) <= {"InsufficientCredits", "InvalidTransition"}, refusals
    assert not [o for o in outcomes if o["op"] == "crash"], [o for o in outcomes if o["op"] == "crash"][:5]
    assert ops["debit"] > 100 and ops["approved"] > 0, ops  # the run did real work on every path
    debits = {o["entry"]: o for o in outcomes if o["op"] == "debit"}
    assert len(debits) == ops["debit"], "two calls were told the same entry id"
    assert all(o["entry"] == o["first"] for o in outcomes if o["op"] == "replay"), "a replay debited again"
    decided = Counter(o["request"] for o in outcomes if o["op"] in ("approved", "rejected"))
    assert all(n == 1 for n in decided.values()), f"a request was decided twice: {decided.most_common(3)}"
    with billing_core.open_ledger(url) as ledger:
        report = ledger.verify()  # postings balance, balances match, one credit per approval
        with ledger.db.reading() as cur:
            stored = {
                r[0]: r
                for r in cur.execute(
                    "SELECT id, workspace_id, amount FROM entries WHERE kind = 'debit'"
                ).fetchall()
            }
            approved = {
                r[0]: (r[1], r[2], r[3])
                for r in cur.execute(
                    "SELECT id, workspace_id, amount, entry_id FROM credit_requests WHERE status = 'approved'"
                ).fetchall()
            }
            balances = dict(cur.execute("SELECT workspace_id, balance FROM wallets").fetchall())
    # no lost and no extra debit: the ledger holds exactly the debits the callers were told of
    assert set(stored) == set(debits)
    for entry_id, told in debits.items():
        assert stored[entry_id][1] == told["workspace"] and stored[entry_id][2] == Decimal(told["amount"])
    assert {o["request"] for o in outcomes if o["op"] == "approved"} == set(approved)
    for space, opening in start.items():
        spent = sum((Decimal(o["amount"]) for o in debits.values() if o["workspace"] == space), Decimal(0))
        credited = sum((a for ws, a, _ in approved.values() if ws == space), Decimal(0))
        assert balances[space] == opening - spent + credited >= 0
    assert report.entries == len(stored) + len(approved) + len(start)

