"""Checks of a ledger's books from the outside, shared by the hardening tests.

Each check returns a list of problems (empty when all is well) so a test can count
them in its tally before asserting; none of them changes the ledger.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from billing_core import Ledger, User

ACTIONS = (
    "wallet.consume",
    "wallet.grant",
    "wallet.top_up",
    "wallet.expire",
    "wallet.correct",
    "wallet.status",
    "request.create",
    "request.approved",
    "request.rejected",
    "request.cancelled",
    "user.add",
    "user.deactivate",
    "user.reactivate",
    "user.promote",
    "user.demote",
    "user.password_link",
    "user.password_set",
    "user.password_change",
    "session.start",
    "session.end",
    "workspace.create",
    "workspace.rename",
    "workspace.archive",
    "membership.add",
    "ledger.recover",
    "ledger.restore",
    "ledger.export",
    "membership.remove",
    "notifications.set",
    "webhook.add",
    "webhook.remove",
    "delivery.retry",
    "thresholds.set",
    "policy.change",
    "price.set",
    "workspace.link",
)


def rows(ledger: Ledger, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """A read straight from the ledger's tables (the one place tests touch SQL)."""
    with ledger.db.reading() as cur:
        return cur.execute(sql, list(params)).fetchall()


def one(ledger: Ledger, sql: str, params: Sequence[object] = ()) -> Any:
    return rows(ledger, sql, params)[0][0]


def counts(ledger: Ledger) -> tuple[int, ...]:
    """Row counts of every table a write can touch: equal before and after = nothing written."""
    return tuple(
        rows(
            ledger,
            """
        SELECT (SELECT count(*) FROM entries), (SELECT count(*) FROM postings),
               (SELECT count(*) FROM audit_log), (SELECT count(*) FROM credit_requests),
               (SELECT count(*) FROM credit_requests WHERE status <> 'pending'),
               (SELECT count(*) FROM idempotency_keys), (SELECT count(*) FROM users),
               (SELECT count(*) FROM workspaces), (SELECT count(*) FROM memberships),
               (SELECT sum(balance) FROM wallets),
               (SELECT count(*) FROM wallets WHERE status <> 'active')
    """,
        )[0]
    )


def audit_counts(ledger: Ledger) -> Counter[str]:
    return Counter({a: n for a, n in rows(ledger, "SELECT action, count(*) FROM audit_log GROUP BY 1")})


def audit_problems(ledger: Ledger) -> list[str]:
    """Every state change has exactly one audit row naming the right actor, and no more.

    Cross-checks the audit log against the tables it describes: one `wallet.consume` per
    debit entry, one `wallet.grant` per direct credit and one `wallet.top_up` per approved
    request's credit (subject `entry:<id>`, same actor),
    one `request.create` per request (actor = requester), one `request.<status>` per decided
    request (actor = decider), one row per user, workspace and membership.
    """
    problems: list[str] = []
    unknown = rows(
        ledger, "SELECT DISTINCT action FROM audit_log WHERE action NOT IN (SELECT unnest(?::VARCHAR[]))",
        [list(ACTIONS)],
    )
    if unknown:
        problems.append(f"audit actions outside the known set: {[r[0] for r in unknown]}")
    nobody = one(ledger, "SELECT count(*) FROM audit_log WHERE actor_id IS NULL")
    if nobody:
        problems.append(f"{nobody} audit rows name no actor")
    checks = {
        "debit entries without exactly one wallet.consume row by their actor": """
            SELECT e.id FROM entries e LEFT JOIN audit_log a
              ON a.action = 'wallet.consume' AND a.subject = 'entry:' || e.id
             AND a.actor_id = e.actor_id AND a.workspace_id = e.workspace_id
            WHERE e.kind = 'debit' AND e.corrects IS NULL GROUP BY e.id HAVING count(a.id) <> 1 LIMIT 10""",
        "direct credits without exactly one wallet.grant row by their actor": """
            SELECT e.id FROM entries e LEFT JOIN audit_log a
              ON a.action = 'wallet.grant' AND a.subject = 'entry:' || e.id
             AND a.actor_id = e.actor_id AND a.workspace_id = e.workspace_id
            WHERE e.kind = 'credit' AND e.request_id IS NULL AND e.corrects IS NULL
            GROUP BY e.id HAVING count(a.id) <> 1 LIMIT 10""",
        "corrections without exactly one wallet.correct row by their actor": """
            SELECT e.id FROM entries e LEFT JOIN audit_log a
              ON a.action = 'wallet.correct' AND a.subject = 'entry:' || e.id
             AND a.actor_id = e.actor_id AND a.workspace_id = e.workspace_id
            WHERE e.corrects IS NOT NULL GROUP BY e.id HAVING count(a.id) <> 1 LIMIT 10""",
        "approved requests' credits without exactly one wallet.top_up row by their decider": """
            SELECT e.id FROM entries e LEFT JOIN audit_log a
              ON a.action = 'wallet.top_up' AND a.subject = 'entry:' || e.id
             AND a.actor_id = e.actor_id AND a.workspace_id = e.workspace_id
            WHERE e.kind = 'credit' AND e.request_id IS NOT NULL
            GROUP BY e.id HAVING count(a.id) <> 1 LIMIT 10""",
        "expiry entries without exactly one wallet.expire row by the system": """
            SELECT e.id FROM entries e LEFT JOIN audit_log a
              ON a.action = 'wallet.expire' AND a.subject = 'entry:' || e.id
             AND a.actor_id = 0 AND e.actor_id = 0 AND a.workspace_id = e.workspace_id
            WHERE e.kind = 'expiry' GROUP BY e.id HAVING count(a.id) <> 1 LIMIT 10""",
        "wallet.consume/grant/expire rows that name no matching entry": """
            SELECT a.id FROM audit_log a LEFT JOIN entries e
              ON a.subject = 'entry:' || e.id AND e.actor_id = a.actor_id
             AND e.kind = CASE a.action WHEN 'wallet.consume' THEN 'debit'
                                        WHEN 'wallet.expire' THEN 'expiry' ELSE 'credit' END
            WHERE a.action IN ('wallet.consume', 'wallet.grant', 'wallet.expire') AND e.id IS NULL
            LIMIT 10""",
        "policy changes without their policy": """
            SELECT a.id FROM audit_log a
            LEFT JOIN credit_policies p ON a.subject = 'policy:' || p.workspace_id
            WHERE a.action = 'policy.change' AND p.workspace_id IS NULL LIMIT 10""",
        "requests without exactly one request.create row by their requester": """
            SELECT r.id FROM credit_requests r LEFT JOIN audit_log a
              ON a.action = 'request.create' AND a.subject = 'request:' || r.id
             AND a.actor_id = r.requested_by
            GROUP BY r.id HAVING count(a.id) <> 1 LIMIT 10""",
        "decided requests without exactly one decision row by their decider": """
            SELECT r.id FROM credit_requests r LEFT JOIN audit_log a
              ON a.action = 'request.' || r.status AND a.subject = 'request:' || r.id
             AND a.actor_id = r.decided_by
            WHERE r.status <> 'pending' GROUP BY r.id HAVING count(a.id) <> 1 LIMIT 10""",
        "decision rows for a request that is not in that state": """
            SELECT a.id FROM audit_log a LEFT JOIN credit_requests r
              ON a.subject = 'request:' || r.id AND a.action = 'request.' || r.status
            WHERE a.action IN ('request.approved', 'request.rejected', 'request.cancelled')
              AND r.id IS NULL LIMIT 10""",
        "request.create rows without their request": """
            SELECT a.id FROM audit_log a LEFT JOIN credit_requests r ON a.subject = 'request:' || r.id
            WHERE a.action = 'request.create' AND r.id IS NULL LIMIT 10""",
    }
    for label, sql in checks.items():
        found = rows(ledger, sql)
        if found:
            problems.append(f"{label}: {[r[0] for r in found]}")
    pairs = (
        ("user.add", "SELECT count(*) FROM users WHERE id <> 0"),
        ("workspace.create", "SELECT count(*) FROM workspaces"),
        ("workspace.archive", "SELECT count(*) FROM workspaces WHERE archived_at IS NOT NULL"),
    )
    have = audit_counts(ledger)
    for action, sql in pairs:
        if have[action] != one(ledger, sql):
            problems.append(f"{have[action]} {action} audit rows for {one(ledger, sql)} rows")
    members = one(ledger, "SELECT count(*) FROM memberships")
    if have["membership.add"] - have["membership.remove"] != members:
        problems.append(
            f"{have['membership.add']} membership.add less {have['membership.remove']} membership.remove "
            f"audit rows for {members} memberships"
        )
    return problems


def replay_problems(ledger: Ledger) -> list[str]:
    """Replaying the journal in commit order reproduces every balance and never overdraws;
    each entry's postings sum to zero with one platform posting and a wallet side per grant."""
    problems: list[str] = []
    wallets = rows(ledger, "SELECT workspace_id FROM wallets")
    balance: dict[int, Decimal] = {ws: Decimal(0) for (ws,) in wallets}
    for entry_id, ws, kind, amount in rows(
        ledger, "SELECT id, workspace_id, kind, amount FROM entries ORDER BY id"
    ):
        balance[ws] += amount if kind == "credit" else -amount
        if balance[ws] < 0:
            problems.append(f"replaying entry {entry_id} takes workspace {ws} to {balance[ws]}")
    for ws, stored in rows(ledger, "SELECT workspace_id, balance FROM wallets"):
        if stored != balance[ws]:
            problems.append(f"workspace {ws}: stored balance {stored}, replayed {balance[ws]}")
    for entry_id, total, n in rows(
        ledger,
        """
        SELECT e.id, coalesce(sum(p.amount), 0), count(p.entry_id)
        FROM entries e LEFT JOIN postings p ON p.entry_id = e.id
        GROUP BY e.id
        HAVING count(p.entry_id) < 2 OR coalesce(sum(p.amount), 0) <> 0
            OR count(p.entry_id) FILTER (WHERE p.account_id IN (0, 1, 2)) <> 1
        LIMIT 10
    """,
    ):
        problems.append(f"entry {entry_id}: {n} postings summing to {total}")
    return problems


def fingerprint(ledger: Ledger) -> dict[tuple[str, object], int]:
    """A hash of every row of the append-only tables, keyed by (table, row key).

    The hash is md5 of the whole row cast to text, which DuckDB and PostgreSQL both do."""
    found: dict[tuple[str, object], str] = {}
    for table, key in (
        ("entries", "id"),
        ("audit_log", "id"),
        ("postings", "entry_id || ':' || account_id || ':' || coalesce(CAST(grant_id AS VARCHAR), '')"),
    ):
        # table and key come from the constant tuple above
        for k, h in rows(ledger, f"SELECT {key}, md5(CAST(t AS VARCHAR)) FROM {table} t"):  # noqa: S608
            found[(table, k)] = h
    return found


Fingerprint = dict[tuple[str, object], str]


def history_rewritten(before: Fingerprint, after: Fingerprint) -> list[str]:
    """Rows of the append-only tables that changed or vanished between two fingerprints."""
    return [
        f"{table} row {key} was {'changed' if (table, key) in after else 'deleted'}"
        for (table, key), h in before.items()
        if after.get((table, key)) != h
    ]


def in_threads(n: int, work: Callable[[int, threading.Barrier], object]) -> list[object]:
    """Run `work(i, barrier)` in n threads that start together; re-raise the first error."""
    barrier = threading.Barrier(n)
    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(work, i, barrier) for i in range(n)]
        return [f.result() for f in futures]


def cast(
    ledger: Ledger, workspaces: int, *, members_each: int = 1, admins: int = 2, funding: str | None = None
) -> dict[str, Any]:
    """Admins, workspaces W0..Wn-1 with their own members, and an outsider in none."""
    people: dict[str, Any] = {
        "admins": [ledger.add_user(f"admin{i}@example.com", f"Admin {i}", admin=True) for i in range(admins)],
        "spaces": [],
        "members": {},
        "outsider": ledger.add_user("out@example.com", "Outsider"),
    }
    for w in range(workspaces):
        space = ledger.create_workspace(f"W{w}")
        people["spaces"].append(space.id)
        people["members"][space.id] = []
        for m in range(members_each):
            member: User = ledger.add_user(f"m{w}.{m}@example.com", f"Member {w}.{m}")
            ledger.add_member(space.id, member.id)
            people["members"][space.id].append(member)
        if funding:
            ledger.grant_credits(people["admins"][0], space.id, funding, description="funding")
    return people


def in_one_batch(ledger: Ledger, calls: list[Callable[[], object]]) -> list[object]:
    """Start `calls` in threads while the test holds the ledger's write transaction, so a
    group-commit writer finds them all queued at once; each call's result or exception.

    A first, harmless call (the opener) is taken on its own by the writer, which then
    waits for the write lock while the rest queue up behind it.
    """
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as error:  # noqa: BLE001 - returned to the test
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    with ledger.db.writing():
        for thread in threads:
            thread.start()
            time.sleep(0.05)
        time.sleep(0.3)
    for thread in threads:
        thread.join(timeout=60)
    return results
