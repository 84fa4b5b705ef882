"""One writer: whoever makes a movement (a live debit, bulk ingest, an approval, a grant,
the demo), the journal writes the same rows for it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import pandas as pd
import pytest

from billing_core import BillingError, Ledger, LedgerCorrupt
from billing_core.demo import seed_demo
from tests.conftest import FakeClock
from tests.hardening.books import audit_problems, rows

NOW = datetime(2026, 11, 27, 12, 0, 0)
TABLES = {
    "entries": "SELECT * FROM entries ORDER BY id",
    "postings": "SELECT * FROM postings ORDER BY entry_id, amount",
    "daily_rollups": "SELECT workspace_id, feature, day, sum(debits), sum(credits), sum(debit_count), "
    "sum(credit_count) FROM daily_rollups GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    "idempotency_keys": "SELECT * FROM idempotency_keys ORDER BY workspace_id, key",
    "audit_log": "SELECT * FROM audit_log ORDER BY id",
    "wallets": "SELECT * FROM wallets ORDER BY workspace_id",
}


def set_up(book: Ledger) -> dict[str, object]:
    admin = book.add_user("ada@example.com", "Ada", admin=True)
    member = book.add_user("alice@example.com", "Alice")
    space = book.create_workspace("Acme")
    book.add_member(space.id, member.id)
    with book.db.writing() as cur:  # founded before the usage it is billed for
        cur.execute("UPDATE workspaces SET created_at = ?", [datetime(2025, 1, 1)])
    book.grant_credits(admin, space.id, "100", description="funding")
    return {"admin": admin, "member": member, "space": space.id}


def test_live_debits_and_ingested_debits_write_identical_rows(new_ledger: Callable[..., Ledger]) -> None:
    live, bulk = new_ledger(clock=FakeClock(NOW)), new_ledger(clock=FakeClock(NOW))
    a, b = set_up(live), set_up(bulk)
    charges = [("2.5", "AI chat", "k1"), ("1", "Exports", None), ("3.25", "AI chat", "k3")]
    for amount, feature, key in charges:
        live.consume(a["member"], a["space"], amount, feature=feature, description=f"use {amount}",
                     idempotency_key=key)
    result = bulk.consume_many(b["member"], pd.DataFrame({
        "workspace": [b["space"]] * 3,
        "amount": [c[0] for c in charges],
        "feature": [c[1] for c in charges],
        "description": [f"use {c[0]}" for c in charges],
        "occurred_at": [NOW] * 3,
        "idempotency_key": [c[2] for c in charges],
    }))
    assert result.posted == 3
    for table, sql in TABLES.items():
        assert rows(live, sql) == rows(bulk, sql), table
    live.verify()
    bulk.verify()


def test_every_movement_of_the_demo_has_the_audit_row_a_live_one_would(
    new_ledger: Callable[..., Ledger],
) -> None:
    book = new_ledger(clock=FakeClock(NOW))
    seed_demo(book, workspaces=3, months=1, now=NOW)
    book.verify()
    assert audit_problems(book) == []
    balance: dict[int, Decimal] = {}
    for entry_id, workspace_id, kind, amount, before, after in rows(
        book,
        """
        SELECT e.id, e.workspace_id, e.kind, e.amount, a.before, a.after FROM entries e
        JOIN audit_log a ON a.subject = 'entry:' || CAST(e.id AS VARCHAR) ORDER BY e.id
        """,
    ):
        opening = balance.get(workspace_id, Decimal(0))
        closing = opening + amount if kind == "credit" else opening - amount
        balance[workspace_id] = closing
        assert json.loads(before) == {"balance": f"{opening:.4f}"}, entry_id
        assert json.loads(after) == {"balance": f"{closing:.4f}", "amount": f"{amount:.4f}"}, entry_id


def test_verify_finds_an_entry_with_a_second_movement_audit_row_or_none(
    new_ledger: Callable[..., Ledger],
) -> None:
    """The check counts each entry's movement rows by the id in their subject; a subject
    that is not an entry's id (tampered) counts for none."""
    book = new_ledger(clock=FakeClock(NOW))
    people = set_up(book)
    spent = book.consume(people["admin"], people["space"], "1.5", feature="AI", description="d")  # type: ignore[arg-type]
    book.verify()
    with book.db.writing() as cur:
        cur.execute(
            "INSERT INTO audit_log (id, recorded_at, actor_id, action, subject, workspace_id) "
            "VALUES (?, ?, NULL, 'wallet.consume', ?, ?)",
            [book.db.next_id("audit_log"), NOW, f"entry:{spent.id}", people["space"]],
        )
    with pytest.raises(LedgerCorrupt, match=rf"movement audit row \(.*ids: {spent.id}\)"):
        book.verify()
    try:
        with book.db.writing() as cur:  # the entry's own row, and the copy, now name no entry
            cur.execute("UPDATE audit_log SET subject = 'entry:x' || subject WHERE subject = ?",
                        [f"entry:{spent.id}"])
    except BillingError as refused:  # a server's append-only trigger refuses the tampering itself
        assert "append-only" in str(refused)
        return
    with pytest.raises(LedgerCorrupt, match=rf"movement audit row \(.*ids: {spent.id}\)"):
        book.verify()
