"""Issue 4, item 4: racing decisions credit each request exactly once.

The sequential refusals (approve an approved request, cancel a rejected one, ...) are in
tests/unit/test_requests.py; here the same rules hold while 4 to 8 threads decide each
request at the same instant.
"""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal
from typing import Any

from billing_core import InvalidTransition, Ledger
from tests.hardening.books import (
    audit_counts,
    audit_problems,
    cast,
    counts,
    fingerprint,
    history_rewritten,
    in_threads,
    one,
    replay_problems,
    rows,
)


def open_requests(ledger: Ledger, people: dict[str, Any], n: int) -> list[tuple[int, Decimal, Any]]:
    """n pending requests over the workspaces: (id, amount, requester)."""
    made = []
    for i in range(n):
        space = people["spaces"][i % len(people["spaces"])]
        requester = people["members"][space][0]
        amount = Decimal(i + 1)
        made.append((ledger.request_credits(requester, space, amount).id, amount, requester))
    return made


def race(
    ledger: Ledger, threads: int, requests: list[tuple[int, Decimal, Any]], decide: Any
) -> list[list[tuple[int, str]]]:
    """Every thread decides every request; all threads meet at a barrier before each one."""

    def work(n: int, barrier: threading.Barrier) -> list[tuple[int, str]]:
        seen = []
        for request_id, _, requester in requests:
            barrier.wait()
            try:
                verdict = decide(n, request_id, requester)
                seen.append((request_id, verdict))
            except InvalidTransition:
                seen.append((request_id, "refused"))
            except Exception as error:  # noqa: BLE001 - anything else is a finding
                seen.append((request_id, f"{type(error).__name__}: {error}"))
        return seen

    return in_threads(threads, work)  # type: ignore[return-value]


def approving(ledger: Ledger, admins: list[Any]) -> Any:
    return lambda n, request_id, _: ledger.approve_request(admins[n], request_id) and "approved"


def test_racing_admins_approve_each_request_exactly_once(size, tally, new_ledger) -> None:
    rounds, requests_each, threads = size.pick((1, 10, 4), (3, 50, 8))
    for _ in range(rounds):
        ledger = new_ledger()
        try:
            people = cast(ledger, 5, admins=threads)
            requests = open_requests(ledger, people, requests_each)
            outcomes = race(ledger, threads, requests, approving(ledger, people["admins"]))
            flat = [o for thread in outcomes for o in thread]
            wins = Counter(r for r, v in flat if v == "approved")
            verdicts = Counter(v for _, v in flat)
            tally.problems([f"request {r} approved {n} times" for r, n in wins.items() if n != 1])
            tally.problems([f"{n} x {v}" for v, n in verdicts.items() if v not in ("approved", "refused")])
            if verdicts["approved"] != requests_each:
                tally.problem(f"{verdicts['approved']} approvals of {requests_each} requests")
            if verdicts["refused"] != requests_each * (threads - 1):
                tally.problem(
                    f"{verdicts['refused']} InvalidTransition, expected {requests_each * (threads - 1)}"
                )
            total = sum(a for _, a, _ in requests)
            credited = one(ledger, "SELECT coalesce(sum(amount), 0) FROM entries WHERE kind = 'credit'")
            if credited != total or one(ledger, "SELECT sum(balance) FROM wallets") != total:
                tally.problem(f"{credited} credits landed for {total} requested")
            if audit_counts(ledger)["request.approved"] != requests_each:
                tally.problem("request.approved audit rows differ from the approvals")
            tally.problems(replay_problems(ledger) + audit_problems(ledger))
            ledger.verify()
        finally:
            ledger.close()
        tally.add(runs=1, operations=requests_each * threads)
    tally.assert_clean()


VERBS = ("approved", "rejected", "cancelled")


def test_racing_decisions_settle_each_request_once_and_then_refuse_all(size, tally, new_ledger) -> None:
    """Approve, reject and cancel race for each request: one wins, the state is the winner's,
    a credit exists only if approval won. Then every further decision, raced again, is
    refused and writes nothing."""
    requests_each, threads = size.pick((12, 6), (50, 8))
    ledger = new_ledger()
    try:
        people = cast(ledger, 4, admins=2)
        requests = open_requests(ledger, people, requests_each)
        admins = people["admins"]

        def decide(n: int, request_id: int, requester: Any) -> str:
            verdict = VERBS[(n + request_id) % 3]
            if verdict == "approved":
                ledger.approve_request(admins[n % 2], request_id)
            elif verdict == "rejected":
                ledger.reject_request(admins[n % 2], request_id, f"thread {n}")
            else:
                ledger.cancel_request(requester if n % 2 else admins[0], request_id)
            return verdict

        flat = [o for t in race(ledger, threads, requests, decide) for o in t]
        winners: dict[int, list[str]] = {}
        for request_id, verdict in flat:
            if verdict in VERBS:
                winners.setdefault(request_id, []).append(verdict)
            elif verdict != "refused":
                tally.problem(f"request {request_id}: {verdict}")
        status = dict(rows(ledger, "SELECT id, status FROM credit_requests"))
        credited = Counter(
            r for (r,) in rows(ledger, "SELECT request_id FROM entries WHERE request_id IS NOT NULL")
        )
        for request_id, _, _ in requests:
            won = winners.get(request_id, [])
            if len(won) != 1:
                tally.problem(f"request {request_id} was decided {len(won)} times: {won}")
                continue
            if status[request_id] != won[0]:
                tally.problem(f"request {request_id} won by {won[0]} but is {status[request_id]}")
            if credited[request_id] != (1 if won[0] == "approved" else 0):
                tally.problem(f"request {request_id} ({won[0]}) has {credited[request_id]} credits")
        tally.add(runs=1, operations=len(flat))

        # every decided request now refuses every decision, even raced, and nothing is written
        written, history = counts(ledger), fingerprint(ledger)
        again = [o for t in race(ledger, threads, requests, decide) for o in t]
        tally.problems([f"request {r} decided again: {v}" for r, v in again if v != "refused"])
        if counts(ledger) != written:
            tally.problem("a refused decision wrote something")
        tally.problems(history_rewritten(history, fingerprint(ledger)))
        tally.problems(replay_problems(ledger) + audit_problems(ledger))
        ledger.verify()
        tally.add(runs=1, operations=len(again))
    finally:
        ledger.close()
    tally.assert_clean()
