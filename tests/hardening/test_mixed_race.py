"""Issue 4, items 2 and 8: a mixed race of every money movement, checked against the journal.

Threads consume (some with fresh idempotency keys; replays are raced in
test_idempotency.py), request, approve, reject,
cancel and grant at random on several wallets while a reader runs `verify()` throughout.
Afterwards the outcomes the threads saw must be exactly what the ledger holds: replaying
the committed entries reproduces every balance, every entry sums to zero, each request
was decided at most once, the audit log has one row per change, and no row written
before the race was changed.
"""

from __future__ import annotations

import random
import threading
import traceback
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from billing_core import (
    BillingError,
    InsufficientCredits,
    InvalidTransition,
    LedgerCorrupt,
    WalletInactive,
)
from tests.hardening.books import (
    audit_counts,
    audit_problems,
    cast,
    fingerprint,
    history_rewritten,
    in_threads,
    replay_problems,
    rows,
)

EXPECTED = (InsufficientCredits, WalletInactive, InvalidTransition)


def where(error: BaseException) -> str:
    """The innermost billing_core frame of an error (or of the error it replaced)."""
    cause = error.__context__ or error
    frames = [f for f in traceback.extract_tb(cause.__traceback__) if "billing_core" in f.filename]
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames[-3:]))


def amount(rng: random.Random, top: int) -> Decimal:
    return Decimal(rng.randint(1, top * 10_000)).scaleb(-4)


def test_mixed_race_matches_the_journal(size, tally, new_ledger) -> None:
    wallets, threads, per_thread = size.pick((4, 8, 40), (8, 32, 500))
    ledger = new_ledger()
    try:
        people = cast(ledger, wallets, members_each=2, funding="500")
        admins, spaces, members = people["admins"], people["spaces"], people["members"]
        before = fingerprint(ledger)
        lock = threading.Lock()
        requests: list[tuple[int, int, Any]] = []  # (id, workspace, requester)
        done = threading.Event()
        seen_corrupt: list[str] = []

        def reader() -> None:
            while not done.is_set():
                try:
                    ledger.verify()
                except LedgerCorrupt as error:
                    seen_corrupt.append(str(error))
                tally.add(operations=1)

        def work(n: int, barrier: Any) -> dict[str, Any]:
            rng = random.Random(1_000 + n)
            log: dict[str, Any] = {
                "debits": {},
                "grants": [],
                "created": [],
                "decided": [],
                "odd": [],
                "refused": Counter(),
            }
            barrier.wait()
            for i in range(per_thread):
                roll = rng.random()
                space = rng.choice(spaces)
                try:
                    if roll < 0.50:
                        who = rng.choice(members[space] + admins[:1])
                        value = amount(rng, 30)
                        key = f"t{n}-{i}" if rng.random() < 0.3 else None
                        entry = ledger.consume(
                            who,
                            space,
                            value,
                            feature=rng.choice(["AI", "OCR"]),
                            description=f"thread {n}",
                            idempotency_key=key,
                        )
                        log["debits"][entry.id] = (space, value)
                    elif roll < 0.65:
                        who = rng.choice(members[space])
                        request = ledger.request_credits(who, space, amount(rng, 100), note=f"t{n}")
                        with lock:
                            requests.append((request.id, space, who))
                        log["created"].append(request.id)
                    elif roll < 0.95:
                        with lock:
                            if not requests:
                                continue
                            request_id, ws, requester = rng.choice(requests)
                        verdict = rng.choice(["approved", "approved", "rejected", "cancelled"])
                        admin = rng.choice(admins)
                        if verdict == "approved":
                            decided = ledger.approve_request(admin, request_id)
                        elif verdict == "rejected":
                            decided = ledger.reject_request(admin, request_id, "no budget")
                        else:
                            decided = ledger.cancel_request(requester, request_id)
                        log["decided"].append((request_id, verdict, decided.entry_id))
                    else:
                        entry = ledger.grant_credits(
                            rng.choice(admins), space, amount(rng, 50), description=f"grant {n}"
                        )
                        log["grants"].append(entry.id)
                except EXPECTED as refusal:
                    log["refused"][type(refusal).__name__] += 1
                except Exception as error:  # noqa: BLE001 - anything else is a finding
                    log["odd"].append(f"{type(error).__name__} at {where(error)}: {error}")
            return log

        watcher = threading.Thread(target=reader)
        watcher.start()
        try:
            logs: list[dict[str, Any]] = in_threads(threads, work)  # type: ignore[assignment]
        finally:
            done.set()
            watcher.join()
        tally.add(runs=1, operations=threads * per_thread)
        tally.problems([f"verify() during the race: {e}" for e in seen_corrupt])
        for log in logs:
            tally.problems(log["odd"])

        debits = {k: v for log in logs for k, v in log["debits"].items()}
        stored = {
            i: (ws, a)
            for i, ws, a in rows(ledger, "SELECT id, workspace_id, amount FROM entries WHERE kind = 'debit'")
        }
        if debits != stored:
            tally.problem(f"debits seen by callers {len(debits)} != debit entries {len(stored)}")

        decisions = [d for log in logs for d in log["decided"]]
        per_request = Counter(request_id for request_id, _, _ in decisions)
        tally.problems([f"request {r} decided {n} times" for r, n in per_request.items() if n > 1])
        statuses = dict(rows(ledger, "SELECT id, status FROM credit_requests"))
        credited = dict(rows(ledger, "SELECT request_id, id FROM entries WHERE request_id IS NOT NULL"))
        for request_id, verdict, entry_id in decisions:
            if statuses.get(request_id) != verdict:
                tally.problem(f"request {request_id} was {verdict} but is {statuses.get(request_id)}")
            if verdict == "approved" and credited.get(request_id) != entry_id:
                tally.problem(
                    f"request {request_id} approved as entry {entry_id}, "
                    f"journal has {credited.get(request_id)}"
                )
        approved = {r for r, v, _ in decisions if v == "approved"}
        if set(credited) != approved:
            tally.problem(f"credited requests {sorted(set(credited) ^ approved)} differ")
        created = sorted(r for log in logs for r in log["created"])
        if created != sorted(statuses):
            tally.problem(f"{len(created)} requests created by callers, {len(statuses)} stored")

        grants = sorted(g for log in logs for g in log["grants"])
        direct = [
            i
            for (i,) in rows(
                ledger, "SELECT id FROM entries WHERE kind = 'credit' AND request_id IS NULL ORDER BY id"
            )
        ]
        if direct[wallets:] != grants:  # the first ones are the funding
            tally.problem(f"{len(grants)} grants seen, {len(direct) - wallets} stored")

        expected = Counter(
            {
                "wallet.consume": len(debits),
                "wallet.grant": len(grants) + wallets,
                "request.create": len(created),
                **{f"request.{v}": n for v, n in Counter(v for _, v, _ in decisions).items()},
            }
        )
        have = audit_counts(ledger)
        for action in (
            "wallet.consume",
            "wallet.grant",
            "request.create",
            "request.approved",
            "request.rejected",
            "request.cancelled",
        ):
            if have[action] != expected[action]:
                tally.problem(f"{have[action]} {action} audit rows for {expected[action]} changes")
        tally.problems(replay_problems(ledger) + audit_problems(ledger))
        tally.problems(history_rewritten(before, fingerprint(ledger)))
        refused = sum((log["refused"] for log in logs), Counter())
        tally.note = ", ".join(f"{n} {kind}" for kind, n in sorted(refused.items())) + " (expected)"
        if size.full and not (refused["InsufficientCredits"] and refused["InvalidTransition"]):
            tally.problem(f"the race never hit a refusal: {refused}")  # it must be contended
        try:
            ledger.verify()
        except BillingError as error:
            tally.problem(f"verify(): {error}")
    finally:
        ledger.close()
    tally.assert_clean()
