"""Issue 4, item 8: history is immutable and every state change is audited exactly once.

- Statically: no SQL anywhere in billing_core updates, deletes, replaces, truncates, drops
  or alters the append-only tables (the scanner is tested on bad examples first).
- At run time: on a copy of the six-month demo ledger, every kind of operation, allowed
  and refused, leaves every existing journal, posting and audit row as it was.
- Each state-changing operation writes exactly one audit row naming its actor, subject
  and workspace; refused operations and no-ops write none.
(The counts after the races are checked in each race test with books.audit_problems.)
"""

from __future__ import annotations

import ast
import re
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import billing_core
from billing_core import BillingError, Ledger
from billing_core.schema import SYSTEM_USER_ID
from tests.conftest import DEMO_UNTIL, FakeClock
from tests.hardening.books import (
    audit_counts,
    audit_problems,
    counts,
    fingerprint,
    history_rewritten,
    rows,
)

APPEND_ONLY = ("entries", "postings", "audit_log", "idempotency_keys")
# Schema migrations that change an append-only table's shape, each keeping every row:
# migration 2 re-keys the idempotency keys by workspace (a copy, then a swap).
MIGRATION_CHANGES = {
    # migration 2 rebuilt the keys' table; migration 5 adds postings.grant_id (rows written
    # before it keep NULL: they name no grant); migration 6 adds entries' nullable `corrects`
    # column (ADD COLUMN: no row is changed; tests/unit/test_admin_credits.py checks corrections)
    # migration 7 (issue 15) adds nullable usage columns to entries: no stored row changes
    "schema.py": {"DROP TABLE idempotency_keys", "ALTER TABLE idempotency_keys", "ALTER TABLE postings",
                  "ALTER TABLE entries"},
    "schema_postgres.py": {"ALTER TABLE idempotency_keys"},
}
# a table: one of APPEND_ONLY (perhaps quoted, perhaps main.), or an f-string hole `{}`
_TABLE = r"(?:(?:\"?main\"?\.)?\"?(?:" + "|".join(APPEND_ONLY) + r")\b\"?|\{\})"
FORBIDDEN = [
    re.compile(p.format(_TABLE), re.IGNORECASE)
    for p in (
        r"\bUPDATE\s+{}",
        r"\bDELETE\s+FROM\s+{}",
        r"\bTRUNCATE\s+(?:TABLE\s+)?{}",
        r"\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?{}",
        r"\bALTER\s+TABLE\s+{}",
        r"\bINSERT\s+OR\s+REPLACE\s+INTO\s+{}",
        r"\bREPLACE\s+INTO\s+{}",
        r"\bINSERT\s+INTO\s+{}[^;]*?\bON\s+CONFLICT\b[^;]*?\bDO\s+UPDATE\b",
        r"\bCOPY\s+{}\s+FROM\b",
    )
]


def _known_names(tree: ast.Module) -> dict[str, list[str]]:
    """Loop variables that run over a module-level tuple or list of string literals:
    `for name in _SCRATCH:` with `_SCRATCH = ("a", "b")` gives {"name": ["a", "b"]}."""
    constants = {
        target.id: [e.value for e in node.value.elts]
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Tuple | ast.List)
        and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.value.elts)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    return {
        node.target.id: constants[node.iter.id]
        for node in ast.walk(tree)
        if isinstance(node, ast.For)
        and isinstance(node.target, ast.Name)
        and isinstance(node.iter, ast.Name)
        and node.iter.id in constants
    }


def sql_texts(source: str) -> list[tuple[int, str]]:
    """Every string literal in a module, by line. An f-string's holes become `{}`, except a
    loop variable over a constant tuple of names, which is tried with each of its values."""
    tree = ast.parse(source)
    known = _known_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            texts = [""]
            for part in node.values:
                if isinstance(part, ast.Constant):
                    texts = [t + str(part.value) for t in texts]
                elif (
                    isinstance(part, ast.FormattedValue)
                    and isinstance(part.value, ast.Name)
                    and part.value.id in known
                ):
                    texts = [t + v for t in texts for v in known[part.value.id]]
                else:
                    texts = [t + "{}" for t in texts]
            found += [(node.lineno, t) for t in texts]
    return found


def rewrites_history(source: str) -> list[str]:
    hits = []
    for line, text in sql_texts(source):
        flat = " ".join(text.split())
        hits += [f"line {line}: {m.group(0)[:80]}" for p in FORBIDDEN if (m := p.search(flat))]
    return hits


@pytest.mark.parametrize(
    "bad",
    [
        'cur.execute("UPDATE entries SET amount = 0")',
        'cur.execute("""\n  delete   from\n postings where 1""")',
        'cur.execute(f"UPDATE {table} SET x = 1")',
        'cur.execute("INSERT OR REPLACE INTO audit_log VALUES (1)")',
        'cur.execute("INSERT INTO entries SELECT * FROM x ON CONFLICT (id) DO UPDATE SET amount = 1")',
        'cur.execute("TRUNCATE idempotency_keys")',
        'cur.execute("DROP TABLE IF EXISTS main.entries")',
        'cur.execute("ALTER TABLE idempotency_keys DROP COLUMN amount")',
    ],
)
def test_the_history_scanner_catches_rewrites(bad: str) -> None:
    assert rewrites_history(bad)


def test_no_code_path_rewrites_the_append_only_tables() -> None:
    package = Path(billing_core.__file__).parent
    hits = {
        p.name: unexpected
        for p in sorted(package.rglob("*.py"))
        if (unexpected := [
            h for h in rewrites_history(p.read_text(encoding="utf-8"))
            if h.split(": ", 1)[1] not in MIGRATION_CHANGES.get(p.name, set())
        ])
    }
    assert not hits, hits
    # the allowed upsert is the daily rollup, which verify() recomputes from the journal
    assert rewrites_history('x = "INSERT INTO daily_rollups VALUES (1) ON CONFLICT DO UPDATE SET a=1"') == []
    assert rewrites_history('T = ("scratch",)\nfor t in T:\n    cur.execute(f"DROP TABLE {t}")') == []


# ------------------------------------------------------------------ at run time
@pytest.fixture
def demo(demo_file: Path, tmp_path: Path) -> Any:
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_file, path)
    clock = FakeClock()
    clock.now = clock.now.replace(year=DEMO_UNTIL.year, month=DEMO_UNTIL.month, day=DEMO_UNTIL.day)
    ledger = billing_core.open_ledger(str(path), clock=clock)
    yield ledger, path
    ledger.close()


def every_kind_of_operation(ledger: Ledger) -> int:
    """Allowed and refused calls of every write; returns how many were made."""
    admin = ledger.user_by_email("ada@example.com")
    other_admin = ledger.user_by_email("grace@example.com")
    member = ledger.user_by_email("alan@example.com")
    assert admin and other_admin and member
    mine = ledger.workspaces(member)[0].id
    theirs = next(w.id for w in ledger.workspaces(admin) if w.id != mine)
    calls: list[Callable[[], object]] = [
        lambda: ledger.consume(member, mine, "1.5", feature="AI chat", description="x"),
        lambda: ledger.consume(member, mine, "2", feature="AI chat", description="x", idempotency_key="a"),
        lambda: ledger.consume(member, mine, "2", feature="AI chat", description="x", idempotency_key="a"),
        lambda: ledger.consume(member, mine, "3", feature="AI chat", description="x", idempotency_key="a"),
        lambda: ledger.consume(member, theirs, "1", feature="AI chat", description="x"),
        lambda: ledger.consume(member, mine, "999999999", feature="AI chat", description="x"),
        lambda: ledger.grant_credits(admin, theirs, "10", description="goodwill"),
        lambda: ledger.grant_credits(member, mine, "10", description="self-service"),
        lambda: ledger.set_wallet_status(admin, theirs, "inactive"),
        lambda: ledger.consume(admin, theirs, "1", feature="AI chat", description="x"),
        lambda: ledger.set_wallet_status(admin, theirs, "active"),
        lambda: ledger.set_wallet_status(admin, theirs, "active"),
    ]
    for n, verdict in enumerate(["approve", "reject", "cancel", "self-approve"]):
        request = ledger.request_credits(
            member if verdict != "self-approve" else admin, mine, str(10 + n), note=verdict
        )
        calls += {
            "approve": [
                lambda r=request: ledger.approve_request(admin, r.id),
                lambda r=request: ledger.approve_request(other_admin, r.id),
            ],
            "reject": [
                lambda r=request: ledger.reject_request(admin, r.id, "no"),
                lambda r=request: ledger.cancel_request(member, r.id),
            ],
            "cancel": [
                lambda r=request: ledger.approve_request(member, r.id),
                lambda r=request: ledger.cancel_request(member, r.id),
                lambda r=request: ledger.reject_request(admin, r.id, "late"),
            ],
            "self-approve": [lambda r=request: ledger.approve_request(admin, r.id)],
        }[verdict]
    for call in calls:
        try:
            call()
        except BillingError:
            pass
    return len(calls) + 4


def test_no_operation_changes_a_row_already_written(demo, tally) -> None:
    ledger, path = demo
    before = fingerprint(ledger)
    made = every_kind_of_operation(ledger)
    ledger.checkpoint()
    ledger.close()
    reopened = billing_core.open_ledger(str(path))
    try:
        after = fingerprint(reopened)
        tally.problems(history_rewritten(before, after))
        tally.problems(audit_problems(reopened))  # (the demo's replay: test_demo_books.py)
        reopened.verify()
        tally.add(runs=1, operations=made)
        assert len(after) > len(before)
    finally:
        reopened.close()
    tally.assert_clean()


def audit_delta(ledger: Ledger, call: Callable[[], object]) -> tuple[Counter[str], list[tuple[Any, ...]]]:
    top = rows(ledger, "SELECT coalesce(max(id), 0) FROM audit_log")[0][0]
    before = audit_counts(ledger)
    try:
        call()
    except BillingError:
        pass
    added = rows(
        ledger,
        "SELECT action, actor_id, subject, workspace_id FROM audit_log WHERE id > ? ORDER BY id",
        [top],
    )
    return audit_counts(ledger) - before, added


def test_each_state_change_writes_its_audit_rows_naming_its_actor(ledger: Ledger, people: dict) -> None:
    admin, admin2, alice, bob = (people[k] for k in ("admin", "admin2", "alice", "bob"))
    acme, beta = people["acme"].id, people["beta"].id
    ledger.grant_credits(admin, acme, "100", description="funding")
    pending = [ledger.request_credits(alice, acme, "5") for _ in range(3)]
    state: dict[str, Any] = {}
    consume = lambda: ledger.consume(alice, acme, "1", feature="AI", description="x")  # noqa: E731
    grant = lambda: ledger.grant_credits(admin2, beta, "3", description="g")  # noqa: E731
    changes: list[tuple[str, Callable[[], object], str, int, int | None]] = [
        ("wallet.consume", consume, "entry", alice.id, acme),
        ("wallet.grant", grant, "entry", admin2.id, beta),
        (
            "wallet.status",
            lambda: ledger.set_wallet_status(admin, beta, "inactive"),
            "wallet",
            admin.id,
            beta,
        ),
        ("request.create", lambda: ledger.request_credits(bob, beta, "9"), "request", bob.id, beta),
        (
            "request.approved",
            lambda: ledger.approve_request(admin2, pending[0].id),
            "request",
            admin2.id,
            acme,
        ),
        (
            "request.rejected",
            lambda: ledger.reject_request(admin, pending[1].id, "no"),
            "request",
            admin.id,
            acme,
        ),
        ("request.cancelled", lambda: ledger.cancel_request(alice, pending[2].id), "request", alice.id, acme),
        (
            "user.add",
            lambda: state.update(u=ledger.add_user("dan@example.com", "Dan")),
            "user",
            SYSTEM_USER_ID,
            None,
        ),
        (
            "workspace.create",
            lambda: state.update(w=ledger.create_workspace("Gamma")),
            "workspace",
            SYSTEM_USER_ID,
            None,
        ),
        (
            "membership.add",
            lambda: ledger.add_member(state["w"].id, state["u"].id),
            "user",
            SYSTEM_USER_ID,
            None,
        ),
    ]
    for action, call, subject, actor, workspace in changes:
        delta, added = audit_delta(ledger, call)
        # an approval is two changes in one transaction: the request's status, and the
        # credit it moves into the wallet (a movement, audited as every movement is)
        also = Counter({"wallet.top_up": 1}) if action == "request.approved" else Counter()
        assert delta == Counter({action: 1}) + also, (action, delta)
        mine = [row for row in added if row[0] == action]
        ((got_action, got_actor, got_subject, got_workspace),) = mine
        assert {row[1] for row in added} == {actor}, (action, added)
        assert got_subject.startswith(f"{subject}:"), (action, got_subject)
        if workspace is not None:
            assert {row[3] for row in added} == {workspace}, (action, added)
    assert not audit_problems(ledger)


def test_refusals_and_no_ops_write_no_audit_row(ledger: Ledger, people: dict) -> None:
    admin, alice, bob = people["admin"], people["alice"], people["bob"]
    acme = people["acme"].id
    ledger.grant_credits(admin, acme, "10", description="funding")
    ledger.consume(alice, acme, "1", feature="AI", description="x", idempotency_key="k")
    decided = ledger.request_credits(alice, acme, "5")
    ledger.reject_request(admin, decided.id, "no")
    mine = ledger.request_credits(admin, acme, "5")
    nothing = [
        lambda: ledger.consume(alice, acme, "1", feature="AI", description="x", idempotency_key="k"),
        lambda: ledger.consume(alice, acme, "1000", feature="AI", description="x"),
        lambda: ledger.consume(bob, acme, "1", feature="AI", description="x"),
        lambda: ledger.consume(alice, acme, "abc", feature="AI", description="x"),
        lambda: ledger.consume(alice, acme, "2", feature="AI", description="x", idempotency_key="k"),
        lambda: ledger.grant_credits(alice, acme, "1", description="x"),
        lambda: ledger.set_wallet_status(admin, acme, "active"),
        lambda: ledger.set_wallet_status(admin, acme, "paused"),
        lambda: ledger.approve_request(admin, decided.id),
        lambda: ledger.approve_request(admin, mine.id),
        lambda: ledger.cancel_request(bob, mine.id),
        lambda: ledger.reject_request(admin, 404, "no"),
        lambda: ledger.add_member(acme, alice.id),
        lambda: ledger.add_user("alice@example.com", "Alice again"),
        lambda: ledger.create_workspace("acme"),
    ]
    for call in nothing:
        written = counts(ledger)
        delta, _ = audit_delta(ledger, call)
        assert delta == Counter() and counts(ledger) == written
