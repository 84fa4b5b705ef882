"""Bulk usage ingest: `Ledger.consume_many` and `billing ingest FILE`.

The reference for every outcome is `consume` called once per event in order of
occurred_at (ties in input order); several tests replay the batch that way on a
second ledger and compare.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import billing_core
from billing_core import (
    IdempotencyConflict,
    InsufficientCredits,
    InvalidAmount,
    InvalidInput,
    Ledger,
    NotFound,
    PermissionDenied,
    User,
    WalletInactive,
    ingest,
)
from billing_core.cli import main
from billing_core.money import classify_amount
from billing_core.store_duckdb import DuckDatabase
from tests.conftest import fund

T0 = datetime(2026, 11, 1, 9, 0, 0)
FOUNDED = datetime(2025, 1, 1)  # when the tests' workspaces were set up


def events(*rows: tuple[object, ...], keys: list[str | None] | None = None) -> pd.DataFrame:
    """(workspace, amount, feature, minutes after T0) rows -> an events frame."""
    frame = pd.DataFrame(
        {
            "workspace": [r[0] for r in rows],
            "amount": pd.Series([r[1] for r in rows], dtype=object),
            "feature": [r[2] for r in rows],
            "description": [f"event {i}" for i in range(len(rows))],
            "occurred_at": [T0 + timedelta(minutes=float(str(r[3]))) for r in rows],
        }
    )
    if keys is not None:
        frame["idempotency_key"] = keys
    return frame


def balance(ledger: Ledger, actor: User, workspace_id: int) -> Decimal:
    return ledger.wallet(actor, workspace_id).balance


def sequential(ledger: Ledger, actor: User, frame: pd.DataFrame) -> list[str]:
    """Feed `frame` to `consume` one event at a time, in occurred_at order (ties by row);
    the outcome of each row, in input order: posted, skipped or rejected."""
    outcomes = ["?"] * len(frame)
    with ledger.db.reading() as cur:
        seen = {int(r[0]) for r in cur.execute("SELECT id FROM entries").fetchall()}
    keys = list(frame["idempotency_key"]) if "idempotency_key" in frame else [None] * len(frame)
    keys = [None if pd.isna(k) else k for k in keys]  # pandas holds a missing text as NaN
    order = sorted(range(len(frame)), key=lambda i: (frame["occurred_at"].iloc[i], i))
    for i in order:
        try:
            entry = ledger.consume(
                actor,
                int(frame["workspace"].iloc[i]),
                frame["amount"].iloc[i],
                feature=frame["feature"].iloc[i],
                description=frame["description"].iloc[i],
                idempotency_key=keys[i],
            )
        except (
            InsufficientCredits,
            WalletInactive,
            IdempotencyConflict,
            InvalidInput,
            NotFound,
            PermissionDenied,
        ):
            outcomes[i] = "rejected"
            continue
        outcomes[i] = "skipped" if entry.id in seen else "posted"
        seen.add(entry.id)
    return outcomes


def outcomes_of(result: billing_core.IngestResult) -> list[str]:
    out = ["posted"] * result.received
    for row in result.rejected["row"]:
        out[row] = "rejected"
    for row in result.skipped["row"]:
        out[row] = "skipped"
    return out


def backdate(book: Ledger) -> None:
    """The workspaces were set up long before the usage the tests bill them for (ingest
    refuses an event dated before its workspace existed)."""
    with book.db.writing() as cur:
        cur.execute("UPDATE workspaces SET created_at = ?", [FOUNDED])


@pytest.fixture
def people(people: dict[str, object], ledger: Ledger) -> dict[str, object]:
    backdate(ledger)
    return people


@pytest.fixture
def twin(new_ledger: Callable[..., Ledger]) -> Ledger:
    """A second ledger with the same people, workspaces and funding, fed by `consume`."""
    return new_ledger()


def mirror(book: Ledger) -> dict[str, object]:
    admin = book.add_user("ada@example.com", "Ada", admin=True)
    acme = book.create_workspace("Acme")
    beta = book.create_workspace("Beta")
    backdate(book)
    return {"admin": admin, "acme": acme, "beta": beta}


# ------------------------------------------------------------------ balance decisions
def test_an_overdraw_in_the_middle_refuses_only_that_event_as_sequential_consume_would(
    ledger: Ledger, people: dict, twin: Ledger
) -> None:
    admin, acme, beta = people["admin"], people["acme"].id, people["beta"].id
    other = mirror(twin)
    for book, who, a, b in ((ledger, admin, acme, beta), (twin, other["admin"], acme, beta)):
        fund(book, who, a, "100")
        fund(book, who, b, "10")
    frame = events(
        (acme, "40", "chat", 5),
        (acme, "50", "chat", 1),
        (acme, "30", "chat", 3),  # 50 + 30 = 80; this one would make 120: refused
        (acme, "15", "chat", 4),  # 95 after it: fits, though a larger one was refused before
        (acme, "5", "chat", 9),  # exactly the 5 left
        (acme, "0.0001", "chat", 10),  # nothing left
        (beta, "10", "chat", 2),
    )
    result = ledger.consume_many(admin, frame)
    expected = sequential(twin, other["admin"], frame)

    assert outcomes_of(result) == expected == [
        "rejected", "posted", "posted", "posted", "posted", "rejected", "posted"
    ]  # fmt: skip
    assert balance(ledger, admin, acme) == balance(twin, other["admin"], acme) == Decimal(0)
    assert balance(ledger, admin, beta) == balance(twin, other["admin"], beta) == Decimal(0)
    assert (result.received, result.posted, result.rejected_count) == (7, 5, 2)
    assert result.total_posted == Decimal("110")
    assert set(result.rejected["reason"]) == {"insufficient credits"}
    ledger.verify()


def test_a_workspace_whose_events_all_fit_posts_them_all(ledger: Ledger, people: dict) -> None:
    acme = people["acme"].id
    fund(ledger, people["admin"], acme, "1000")
    frame = events(*[(acme, "1.25", "chat", i) for i in range(400)])
    result = ledger.consume_many(people["admin"], frame)
    assert result.posted == 400 and result.rejected.empty and result.skipped.empty
    assert balance(ledger, people["admin"], acme) == Decimal(500)
    ledger.verify()


def test_entries_take_ids_and_created_at_in_occurred_at_order(ledger: Ledger, people: dict) -> None:
    acme = people["acme"].id
    fund(ledger, people["admin"], acme, "1000")
    paris = timezone(timedelta(hours=1))
    frame = pd.DataFrame(
        {
            "workspace": [acme] * 4,
            "amount": ["1", "2", "3", "4"],
            "feature": ["chat"] * 4,
            "description": ["d", "c", "b", "a"],
            # the second is 09:30 in Paris: 08:30 UTC, the earliest; the last two tie
            "occurred_at": [
                datetime(2026, 1, 1, 9, 0),
                datetime(2026, 1, 1, 9, 30, tzinfo=paris),
                datetime(2026, 1, 1, 10, 0),
                datetime(2026, 1, 1, 10, 0),
            ],
        }
    )
    ledger.consume_many(people["admin"], frame)
    items = ledger.history(people["admin"], acme, limit=10, kind="debit").items
    got = [(t.amount, t.created_at) for t in sorted(items, key=lambda t: t.id)]
    assert got == [
        (Decimal("2"), datetime(2026, 1, 1, 8, 30, tzinfo=UTC)),
        (Decimal("1"), datetime(2026, 1, 1, 9, 0, tzinfo=UTC)),
        (Decimal("3"), datetime(2026, 1, 1, 10, 0, tzinfo=UTC)),
        (Decimal("4"), datetime(2026, 1, 1, 10, 0, tzinfo=UTC)),
    ]
    assert all(t.actor_id == people["admin"].id for t in items)


def test_many_events_in_several_arrow_chunks_keep_their_order(ledger: Ledger, people: dict) -> None:
    acme, beta = people["acme"].id, people["beta"].id
    fund(ledger, people["admin"], acme, "1000000")
    fund(ledger, people["admin"], beta, "100")
    n = 30_000
    minutes = [(i * 7919) % n for i in range(n)]  # a permutation: shuffled times
    table = pa.table(
        {
            "workspace_id": pa.array([acme if i % 3 else beta for i in range(n)], pa.int64()),
            "amount": pa.array([Decimal("0.5")] * n, pa.decimal128(10, 2)),
            "feature": ["chat"] * n,
            "description": [f"e{i}" for i in range(n)],
            "occurred_at": pa.array([T0 + timedelta(minutes=m) for m in minutes], pa.timestamp("us")),
        }
    )
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=4_096))
    result = ledger.consume_many(people["admin"], chunked)
    assert result.posted == 20_000 + 200 and result.rejected_count == n // 3 - 200
    with ledger.db.reading() as cur:
        rows = cur.execute("SELECT id, created_at FROM entries WHERE kind = 'debit' ORDER BY id").fetchall()
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)
    assert balance(ledger, people["admin"], beta) == Decimal(0)
    # After a bulk load, as `billing migrate` does and README (Backups) asks after a restore:
    # a PostgreSQL table written in one go has no planner statistics until autovacuum comes
    # by, and verify()'s entry/audit check is then planned as a nested loop over 20,000 x
    # 20,000 rows (a minute here, instead of a fraction of a second).
    ledger.db.refresh_statistics()
    ledger.verify()


# ------------------------------------------------------------------------ duplicates
def test_a_key_repeated_in_the_batch_posts_once_and_skips_the_rest(ledger: Ledger, people: dict) -> None:
    acme = people["acme"].id
    fund(ledger, people["admin"], acme, "100")
    frame = events(
        (acme, "10", "chat", 2),
        (acme, "10", "chat", 1),  # the first by time: this one posts
        (acme, "10", "chat", 3),
        (acme, "7", "chat", 4),
        keys=["k", "k", " k ", None],  # keys are stripped as consume strips them
    )
    result = ledger.consume_many(people["admin"], frame)
    assert result.posted == 2 and result.skipped_duplicates == 2
    assert sorted(result.skipped["row"]) == [0, 2]
    assert set(result.skipped["idempotency_key"]) == {"k"}
    assert balance(ledger, people["admin"], acme) == Decimal(83)


@pytest.mark.parametrize("keys", [["live", "file"], ["live", "file", "file"]], ids=["unique", "repeated"])
def test_keys_already_in_the_ledger_are_skipped(ledger: Ledger, people: dict, keys: list[str]) -> None:
    acme = people["acme"].id
    fund(ledger, people["admin"], acme, "100")
    ledger.consume(people["admin"], acme, "5", feature="chat", description="live", idempotency_key="live")
    frame = events(*[(acme, "5" if k == "live" else "6", "chat", 0) for k in keys], keys=keys)
    first = ledger.consume_many(people["admin"], frame)
    assert (first.posted, first.skipped_duplicates) == (1, len(keys) - 1)
    again = ledger.consume_many(people["admin"], frame)  # the same file twice
    assert (again.posted, again.skipped_duplicates, again.rejected_count) == (0, len(keys), 0)
    assert list(again.skipped["idempotency_key"]) == keys
    assert balance(ledger, people["admin"], acme) == Decimal(89)
    ledger.verify()


def test_a_repeat_of_a_refused_event_is_refused_for_the_same_reason(ledger: Ledger, people: dict) -> None:
    acme, beta = people["acme"].id, people["beta"].id
    fund(ledger, people["admin"], acme, "10")
    fund(ledger, people["admin"], beta, "10")
    ledger.set_wallet_status(people["admin"], beta, "inactive")
    frame = events(
        (acme, "50", "chat", 0),
        (acme, "50", "chat", 1),
        (beta, "1", "chat", 2),
        (beta, "1", "chat", 3),
        keys=["big", "big", "off", "off"],
    )
    result = ledger.consume_many(people["admin"], frame)
    assert result.skipped.empty
    assert list(result.rejected["reason"]) == ["insufficient credits"] * 2 + ["wallet inactive"] * 2


def test_a_key_reused_for_a_different_charge_is_rejected(ledger: Ledger, people: dict) -> None:
    acme, beta = people["acme"].id, people["beta"].id
    fund(ledger, people["admin"], acme, "100")
    fund(ledger, people["admin"], beta, "100")
    ledger.consume_many(people["admin"], events((acme, "5", "chat", 0), keys=["old"]))
    frame = events(
        (acme, "6", "chat", 1),  # against the ledger: a different amount
        (acme, "5", "search", 2),  # a different feature
        (beta, "5", "chat", 3),  # another workspace's key of the same name: its own, posts
        (acme, "1", "chat", 4),  # within the batch: posts ...
        (acme, "2", "chat", 5),  # ... then the same key for 2: refused
        keys=["old", "old", "old", "new", "new"],
    )
    result = ledger.consume_many(people["admin"], frame)
    assert outcomes_of(result) == ["rejected", "rejected", "posted", "posted", "rejected"]
    assert set(result.rejected["reason"]) == {"idempotency key reused for a different charge"}
    assert balance(ledger, people["admin"], acme) == Decimal(94)
    assert balance(ledger, people["admin"], beta) == Decimal(95)


def test_a_key_whose_first_use_was_refused_is_free_for_a_later_event(
    ledger: Ledger, people: dict, twin: Ledger
) -> None:
    """As with `consume`: a refused debit records no key, so a later, smaller debit with
    the same key posts; an identical later one is refused for the same reason."""
    acme = people["acme"].id
    other = mirror(twin)
    fund(ledger, people["admin"], acme, "10")
    fund(twin, other["admin"], acme, "10")
    frame = events(
        (acme, "50", "chat", 0),
        (acme, "50", "chat", 1),
        (acme, "4", "chat", 2),
        (acme, "4", "chat", 3),
        keys=["k", "k", "k", "k"],
    )
    result = ledger.consume_many(people["admin"], frame)
    assert outcomes_of(result) == sequential(twin, other["admin"], frame)
    assert outcomes_of(result) == ["rejected", "rejected", "posted", "skipped"]
    assert balance(ledger, people["admin"], acme) == Decimal(6)


# ----------------------------------------------------------------- validation by row
def test_inactive_wallet_rows_are_rejected(ledger: Ledger, people: dict) -> None:
    acme, beta = people["acme"].id, people["beta"].id
    fund(ledger, people["admin"], acme, "100")
    fund(ledger, people["admin"], beta, "100")
    ledger.set_wallet_status(people["admin"], beta, "inactive")
    result = ledger.consume_many(people["admin"], events((acme, "1", "chat", 0), (beta, "1", "chat", 1)))
    assert result.posted == 1
    assert result.rejected.to_dict("records") == [
        {"row": 1, "workspace": str(beta), "amount": "1", "reason": "wallet inactive"}
    ]
    # also when a key reused for different charges sends the wallet down the one-by-one path
    tangled = events((beta, "1", "chat", 0), (beta, "2", "chat", 1), keys=["k", "k"])
    assert outcomes_of(ledger.consume_many(people["admin"], tangled)) == ["rejected", "rejected"]
    assert balance(ledger, people["admin"], beta) == Decimal(100)


def test_unknown_workspaces_are_rejected_and_names_are_resolved(ledger: Ledger, people: dict) -> None:
    acme = people["acme"].id
    fund(ledger, people["admin"], acme, "100")
    frame = events(("acme", "1", "chat", 0), ("Nowhere", "1", "chat", 1), ("999", "1", "chat", 2))
    frame.loc[3] = [" Acme ", "2", "chat", "x", T0]
    result = ledger.consume_many(people["admin"], frame)
    assert outcomes_of(result) == ["posted", "rejected", "rejected", "posted"]
    assert set(result.rejected["reason"]) == {"unknown workspace"}
    assert list(result.rejected["workspace"]) == ["Nowhere", "999"]
    assert balance(ledger, people["admin"], acme) == Decimal(97)


def test_a_member_posts_only_to_their_own_workspaces(ledger: Ledger, people: dict) -> None:
    acme, beta = people["acme"].id, people["beta"].id
    fund(ledger, people["admin"], acme, "100")
    fund(ledger, people["admin"], beta, "100")
    result = ledger.consume_many(people["alice"], events((acme, "1", "chat", 0), (beta, "1", "chat", 1)))
    assert outcomes_of(result) == ["posted", "rejected"]
    assert list(result.rejected["reason"]) == ["not a member of this workspace"]
    assert balance(ledger, people["admin"], beta) == Decimal(100)
    with ledger.db.reading() as cur:
        row = cur.execute("SELECT actor_id FROM entries WHERE kind = 'debit'").fetchone()
    assert row is not None and row[0] == people["alice"].id


@pytest.mark.parametrize(
    "actor",
    [None, "alice", User(id=999, email="ghost@example.com", name="Ghost", is_admin=True)],
)
def test_no_signed_in_actor_refuses_the_whole_call(ledger: Ledger, people: dict, actor: object) -> None:
    fund(ledger, people["admin"], people["acme"].id, "100")
    with pytest.raises(PermissionDenied):
        ledger.consume_many(actor, events((people["acme"].id, "1", "chat", 0)))
    assert balance(ledger, people["admin"], people["acme"].id) == Decimal(100)


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (1.5, "amount is a float"),
        ("abc", "amount is not a plain number"),
        ("-1", "amount must be greater than zero"),
        ("0", "amount must be greater than zero"),
        ("0.0000", "amount must be greater than zero"),
        ("1e3", "amount is not a plain number"),
        ("0.00001", "amount has more than 4 decimal places"),
        ("1000000000.0001", "amount is over 1,000,000,000 credits"),
        ("99999999999999999999999", "amount is over 1,000,000,000 credits"),
        (Decimal("-2"), "amount must be greater than zero"),
        (Decimal("NaN"), "amount is not a finite number"),
        (True, "amount is not a plain number"),
        ("", "amount missing"),
        (None, "amount missing"),
    ],
)
def test_bad_amounts_are_reported_and_skipped_while_good_rows_post(
    ledger: Ledger, people: dict, amount: object, reason: str
) -> None:
    acme = people["acme"].id
    fund(ledger, people["admin"], acme, "100")
    frame = events((acme, "2.5", "chat", 0), (acme, amount, "chat", 1), (acme, 3, "chat", 2))
    result = ledger.consume_many(people["admin"], frame)
    assert outcomes_of(result) == ["posted", "rejected", "posted"]
    assert result.rejected["reason"].iloc[0].startswith(reason)
    assert balance(ledger, people["admin"], acme) == Decimal("94.5")


@pytest.mark.parametrize(
    "column",
    [
        pa.array(["2.5", " 3 ", "0007.50", "abc", "1.23456", "-4"]),
        pa.array([Decimal("2.5"), Decimal("3"), Decimal("7.5"), Decimal(0), Decimal("1.23456"), Decimal(-4)]),
        pa.array([2, 3, 7, 0, 10**12, -4], pa.int64()),
    ],
    ids=["text", "decimal", "integer"],
)
def test_typed_amount_columns_are_parsed_exactly(ledger: Ledger, people: dict, column: pa.Array) -> None:
    """Good: 2.5 (or 2), 3, 7.5 (or 7); refused: zero, too precise or too big, negative."""
    acme = people["acme"].id
    fund(ledger, people["admin"], acme, "100")
    n = len(column)
    table = pa.table(
        {
            "workspace": [acme] * n,
            "amount": column,
            "feature": ["chat"] * n,
            "description": ["d"] * n,
            "occurred_at": pa.array([T0] * n, pa.timestamp("us")),
        }
    )
    result = ledger.consume_many(people["admin"], table)
    assert result.posted == 3 and result.rejected_count == 3
    spent = Decimal(12) if pa.types.is_integer(column.type) else Decimal(13)
    assert balance(ledger, people["admin"], acme) == Decimal(100) - spent


def test_a_float_amount_column_is_refused_whole(ledger: Ledger, people: dict) -> None:
    acme = people["acme"].id
    fund(ledger, people["admin"], acme, "100")
    frame = events((acme, "1", "chat", 0))
    frame["amount"] = [1.0]
    with pytest.raises(InvalidAmount, match="floating-point"):
        ledger.consume_many(people["admin"], frame)
    assert balance(ledger, people["admin"], acme) == Decimal(100)


def test_amount_text_is_read_by_arrow_as_parse_amount_reads_it() -> None:
    """The vectorised path (Arrow parses the common shape, the rest goes cell by cell)
    agrees with parse_amount on every text, and gives money.py's reason when it refuses."""
    cases = ["1", "12.5", " 7 ", ".5", "5.", "1,000", "1e3", "0x10", "١", "+1", "1.00000", "0", "-0",
             "\t3\n", "1000000000", "1000000000.0001", "0.0001", "0.00001", ""]
    frame = pd.DataFrame({"workspace": [1] * len(cases), "amount": cases, "feature": ["f"] * len(cases),
                          "description": ["d"] * len(cases), "occurred_at": [T0] * len(cases)})
    table = ingest.normalize(frame)
    for text, amount, note in zip(cases, table.column("amount").to_pylist(),
                                  table.column("amount_note").to_pylist(), strict=True):
        expected, problem = classify_amount(text)
        assert amount == expected, text
        assert note == (problem.reason if problem else None), text


def test_times_with_a_zone_are_read_as_that_instant_whatever_duckdbs_time_zone(
    ledger: Ledger, people: dict
) -> None:
    if not isinstance(ledger.db, DuckDatabase):
        pytest.skip("about the DuckDB write session's time zone (the server store's ingest uses a fresh one)")
    acme = people["acme"].id
    fund(ledger, people["admin"], acme, "100")
    ledger.db._writer.execute("SET TimeZone = 'America/New_York'")  # the ledger's write session
    frame = events((acme, "1", "chat", 0), (acme, "2", "chat", 0))
    frame["occurred_at"] = ["2026-01-01T10:00:00+02:00", "2026-01-01 10:00:00"]
    ledger.consume_many(people["admin"], frame)
    items = ledger.history(people["admin"], acme, limit=2, kind="debit").items
    assert sorted((t.amount, t.created_at.hour) for t in items) == [(Decimal(1), 8), (Decimal(2), 10)]


def test_text_is_stripped_of_what_str_strip_strips() -> None:
    assert ingest.events.SPACE == "".join(c for c in map(chr, range(0x110000)) if c.isspace())


def test_text_and_time_rules_are_reasons(ledger: Ledger, people: dict) -> None:
    acme = people["acme"].id
    fund(ledger, people["admin"], acme, "100")
    frame = pd.DataFrame(
        {
            "workspace": [acme] * 8,
            "amount": ["1"] * 8,
            "feature": ["chat", "   ", "x" * 101, "chat", "chat", "chat", "chat", "a\x00b"],
            "description": ["ok", "ok", "ok", "", "d" * 501, "ok", "ok", "ok"],
            "occurred_at": [
                "2026-01-01T10:00:00+02:00",
                "2026-01-01",
                "2026-01-01",
                "2026-01-01",
                "2026-01-01",
                None,
                "yesterday",
                "2026-01-01",
            ],
        }
    )
    result = ledger.consume_many(people["admin"], frame)
    assert outcomes_of(result)[0] == "posted"
    assert list(result.rejected["reason"]) == [
        "feature missing",
        "feature too long (over 100 characters)",
        "description missing",
        "description too long (over 500 characters)",
        "occurred_at missing",
        "occurred_at is not a date and time",
        "feature contains a NUL character",
    ]
    entry = ledger.history(people["admin"], acme, limit=1, kind="debit").items[0]
    assert entry.created_at == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def test_dates_out_of_range_are_reasons(ledger: Ledger, people: dict) -> None:
    """Usage from the far future or before the workspace existed is refused, row by row; a
    sender's clock a few minutes ahead is tolerated."""
    acme = people["acme"].id
    fund(ledger, people["admin"], acme, "100")
    now = ledger.db.clock()
    frame = pd.DataFrame(
        {
            "workspace": [acme] * 6,
            "amount": ["1"] * 6,
            "feature": ["chat"] * 6,
            "description": ["ok"] * 6,
            "occurred_at": [
                now + timedelta(minutes=4),
                now + timedelta(minutes=6),
                datetime(9999, 12, 31, 23, 59),
                datetime(1, 1, 1),
                FOUNDED - timedelta(seconds=1),
                FOUNDED,
            ],
        }
    )
    result = ledger.consume_many(people["admin"], frame)
    assert outcomes_of(result) == ["posted", "rejected", "rejected", "rejected", "rejected", "posted"]
    future = "occurred_at is in the future (more than 5 minutes ahead of the ledger's clock)"
    early = "occurred_at is before the workspace existed"
    assert list(result.rejected["reason"]) == [future, future, early, early]
    assert balance(ledger, people["admin"], acme) == Decimal(98)


def test_text_that_cannot_be_stored_is_a_reason_not_a_crash(ledger: Ledger, people: dict) -> None:
    acme = people["acme"].id
    fund(ledger, people["admin"], acme, "100")
    frame = events((acme, "1", "chat", 0), (acme, "2", "chat", 1), ("bad\ud800", "bad\udfff", "chat", 2))
    frame["description"] = pd.Series(["ok", "lone \ud800 surrogate", "ok"], dtype=object)
    result = ledger.consume_many(people["admin"], frame)
    assert outcomes_of(result) == ["posted", "rejected", "rejected"]
    assert result.rejected.to_dict("list") == {
        "row": [1, 2],
        "workspace": [str(acme), "bad\\ud800"],
        "amount": ["2", "bad\\udfff"],
        "reason": ["description contains characters that are not valid text", "amount is not a plain number"],
    }
    with pytest.raises(InvalidInput):  # as `consume` decides
        ledger.consume(people["admin"], acme, "2", feature="chat", description="lone \ud800 surrogate")


def test_missing_columns_are_refused_with_their_names(ledger: Ledger, people: dict) -> None:
    frame = events((people["acme"].id, "1", "chat", 0)).drop(columns=["feature", "occurred_at"])
    with pytest.raises(InvalidInput, match="feature, occurred_at"):
        ledger.consume_many(people["admin"], frame)


# ------------------------------------------------------------- the books and the audit
def test_rollups_and_audit_agree_with_the_posted_debits(ledger: Ledger, people: dict) -> None:
    acme, beta = people["acme"].id, people["beta"].id
    fund(ledger, people["admin"], acme, "50")
    fund(ledger, people["admin"], beta, "50")
    frame = events(
        *[(acme if i % 2 else beta, "3", "chat" if i % 3 else "search", i * 60) for i in range(40)]
    )
    result = ledger.consume_many(people["carol"], frame)
    assert result.posted == 32 and result.rejected_count == 8
    report = ledger.verify()  # includes the rollups against the entries
    assert report.ok
    with ledger.db.reading() as cur:
        days = cur.execute(
            """
            SELECT day, sum(debit_count), sum(debits) FROM daily_rollups
            WHERE feature IS NOT NULL AND debit_count > 0 GROUP BY day ORDER BY day
            """
        ).fetchall()
        audit = cur.execute(
            """
            SELECT a.subject, a.actor_id, a.workspace_id, a.after, e.id, e.actor_id, e.workspace_id
            FROM audit_log a FULL JOIN (SELECT * FROM entries WHERE kind = 'debit') e
              ON a.subject = 'entry:' || e.id
            WHERE a.action = 'wallet.consume' OR e.id IS NOT NULL
            """
        ).fetchall()
    assert [(d[0].day, d[1]) for d in days] == [(1, 15), (2, 17)]  # hourly from Nov 1, 09:00
    assert sum(d[2] for d in days) == Decimal(96)
    assert len(audit) == 32
    for subject, actor, workspace, after, entry_id, entry_actor, entry_workspace in audit:
        assert subject == f"entry:{entry_id}" and actor == entry_actor == people["carol"].id
        assert workspace == entry_workspace and json.loads(after)["amount"] == "3.0000"


def test_a_call_with_nothing_to_post_writes_nothing(ledger: Ledger, people: dict) -> None:
    acme = people["acme"].id
    with ledger.db.reading() as cur:
        before = cur.execute("SELECT count(*) FROM audit_log").fetchone()
    result = ledger.consume_many(people["admin"], events((acme, "1", "chat", 0)))
    empty = ledger.consume_many(people["admin"], events())
    assert result.rejected_count == 1 and empty.received == 0
    with ledger.db.reading() as cur:
        assert cur.execute("SELECT count(*) FROM audit_log").fetchone() == before
        assert cur.execute("SELECT count(*) FROM entries WHERE kind = 'debit'").fetchone() == (0,)


# --------------------------------------------------------------------------- property
batch_rows = st.lists(
    st.tuples(
        st.sampled_from([0, 1]),  # which workspace
        st.sampled_from([Decimal("0.5"), Decimal(1), Decimal("2.5"), Decimal(7), Decimal("12.25")]),
        st.sampled_from(["chat", "search"]),
        st.integers(0, 4),  # minutes: many ties
        st.sampled_from([None, None, "k1", "k2", "k3"]),
    ),
    max_size=25,
)


# new_ledger is function-scoped, so hypothesis warns that it is shared by all examples:
# it is a factory, and each example asks it for two fresh ledgers.
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    rows=batch_rows,
    funding=st.tuples(st.integers(0, 40), st.integers(0, 40)),
    inactive=st.booleans(),
    earlier=st.sampled_from([None, "k1", "k2"]),
)
def test_consume_many_matches_consume_called_once_per_event(
    new_ledger: Callable[..., Ledger],
    rows: list[tuple[int, Decimal, str, int, str | None]],
    funding: tuple[int, int],
    inactive: bool,
    earlier: str | None,
) -> None:
    books = [new_ledger() for _ in range(2)]
    try:
        setups = [mirror(book) for book in books]
        for book, setup in zip(books, setups, strict=True):
            spaces = [setup["acme"].id, setup["beta"].id]
            admin = setup["admin"]
            for space, amount in zip(spaces, funding, strict=True):
                if amount:
                    fund(book, admin, space, str(amount))
            if earlier is not None and funding[0] >= 1:
                book.consume(admin, spaces[0], "1", feature="chat", description="x", idempotency_key=earlier)
            if inactive:
                book.set_wallet_status(admin, spaces[1], "inactive")
        frame = events(*[(spaces[w], a, f, m) for w, a, f, m, _ in rows], keys=[r[4] for r in rows])
        result = books[0].consume_many(setups[0]["admin"], frame)
        expected = sequential(books[1], setups[1]["admin"], frame)
        assert outcomes_of(result) == expected
        for space in spaces:
            assert balance(books[0], setups[0]["admin"], space) == balance(
                books[1], setups[1]["admin"], space
            )
        books[0].verify()
    finally:
        for book in books:
            book.close()


# -------------------------------------------------------------------------------- CLI
@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "ledger.duckdb")
    book = billing_core.open_ledger(path, create=True)
    admin = book.system_user()
    for name, amount in (("Acme", "100"), ("Beta", "5")):
        space = book.create_workspace(name)
        book.grant_credits(admin, space.id, amount, description="funding")
    backdate(book)
    book.close()
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


CSV = """workspace,amount,feature,description,occurred_at,idempotency_key
1,10,AI chat,first,2026-01-01T10:00:00Z,a
1,abc,AI chat,bad amount,2026-01-01T10:01:00Z,
acme,5.5,AI chat,by name,2026-01-01 10:02:00+02:00,b
1,10,AI chat,"a duplicate, quoted",2026-01-01T10:03:00Z,a
2,6,AI chat,too much,2026-01-01T10:04:00Z,
9,1,AI chat,unknown,2026-01-01T10:05:00Z,
1,0.00001,AI chat,"multi
line",2026-01-01T10:06:00Z,
"""


def test_cli_ingests_a_csv_reports_bad_rows_and_exits_0(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "usage.csv"
    source.write_text(CSV, encoding="utf-8")
    code, out, err = run(capsys, "ingest", str(source), "--db", db)
    assert code == 0 and err == ""
    assert out == (
        f"Ingested {source}: 7 rows, 2 posted (15.50 en-credits), 1 skipped as duplicates, "
        f"4 rejected (see {source}.rejects.csv).\n"
    )
    rejects = pd.read_csv(f"{source}.rejects.csv", dtype=str)
    assert rejects.to_dict("list") == {
        "row": ["2", "5", "6", "7"],
        "workspace": ["1", "2", "9", "1"],
        "amount": ["abc", "6", "1", "0.00001"],
        "reason": [
            "amount is not a plain number",
            "insufficient credits",
            "unknown workspace",
            "amount has more than 4 decimal places",
        ],
    }
    code, out, _ = run(capsys, "balance", "1", "--db", db)
    assert out.strip() == "Acme: 84.50 en-credits (active)"
    assert run(capsys, "verify", "--db", db)[0] == 0


def test_cli_ingests_in_chunks_with_a_progress_bar(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "usage.csv"
    lines = ["workspace_id,amount,feature,description,occurred_at"]
    lines += [f"1,1,chat,event {i},2026-01-01T10:{i % 60:02d}:00" for i in range(24)]
    lines += ['1,1,chat,"two\nlines",2026-01-01T11:00:00']  # 26 lines for 25 rows: the total is a guess
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects = tmp_path / "out.csv"
    code, out, err = run(
        capsys, "ingest", str(source), "--db", db, "--chunk-rows", "10", "--rejects", str(rejects)
    )
    assert code == 0 and "25 rows, 25 posted (25.00 en-credits)" in out
    bars = err.strip().splitlines()  # not a terminal: a line per chunk, then one at 100%
    assert bars[0].startswith("[" + "#" * 12 + "-" * 18 + "]  38% 10/26 rows; 10 posted")
    assert len(bars) == 4 and bars[-1].startswith("[" + "#" * 30 + "] 100% 25/25 rows")
    assert rejects.read_text() == "row,workspace,amount,reason\n"  # asked for: written even when empty


def test_cli_reads_parquet_and_refuses_a_float_amount_column(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.parquet"
    times = pa.array([datetime(2026, 1, 1)] * 2, pa.timestamp("us"))
    columns = {"workspace": [1, 2], "feature": ["chat"] * 2, "description": ["d"] * 2, "occurred_at": times}
    pq.write_table(pa.table({**columns, "amount": pa.array([Decimal("1.5"), Decimal("9")])}), good)
    code, out, _ = run(capsys, "ingest", str(good), "--db", db)
    assert code == 0 and "2 rows, 1 posted (1.50 en-credits)" in out and "1 rejected" in out
    floats = tmp_path / "floats.parquet"
    pq.write_table(pa.table({**columns, "amount": [1.5, 2.0]}), floats)
    code, out, err = run(capsys, "ingest", str(floats), "--db", db)
    assert code == 1 and out == "" and "floating-point" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a,b\n1,2\n", "lacks the column(s) workspace, amount, feature, description, occurred_at"),
        (b"", "is empty"),
        (b"\xff\xfe\x00\x01binary\x00\x9f", "neither a Parquet file nor a UTF-8 CSV file"),
        (
            b"workspace,amount,feature,description,occurred_at\n1,1,x,y,2026-01-01\n1,2,x\n",
            "Expected 5 columns",
        ),
        (b"PAR1 but not really", "not a readable Parquet file"),
        (None, "Cannot read"),
    ],
)
def test_cli_refuses_a_malformed_file_in_one_line(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    source = tmp_path / "events.csv"
    if content is not None:
        source.write_bytes(content)
    code, out, err = run(capsys, "ingest", str(source), "--db", db)
    assert code == 1 and out == ""
    assert err.startswith("billing: ") and message in err and len(err.strip().splitlines()) == 1
    assert run(capsys, "history", "1", "--db", db)[1].count("debit") == 0


def test_cli_will_not_write_the_rejects_over_the_input(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "usage.csv"
    source.write_text(CSV, encoding="utf-8")
    code, _, err = run(capsys, "ingest", str(source), "--db", db, "--rejects", str(source))
    assert code == 1 and "cannot be the file being ingested" in err
    assert source.read_text(encoding="utf-8") == CSV


def test_cli_reports_a_malformed_row_part_way_and_what_was_already_ingested(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest.files, "CSV_BLOCK", 64)  # parse a few rows at a time
    source = tmp_path / "usage.csv"
    lines = ["workspace,amount,feature,description,occurred_at"]
    lines += [f"1,1,chat,event {i},2026-01-01T10:00:00" for i in range(6)] + ["1,1,chat"]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "ingest", str(source), "--db", db, "--chunk-rows", "2")
    assert code == 1 and out == ""
    message = err.strip().splitlines()[-1]
    assert message.startswith("billing: ") and "Expected 5 columns, got 3" in message
    done = re.search(r"; stopped there: the first (\d+) rows were ingested \((\d+) posted\)", message)
    assert done is not None and done[1] == done[2] and 0 < int(done[1]) < 7  # the chunks before the bad block
    balance_line = run(capsys, "balance", "1", "--db", db)[1].strip()
    assert balance_line == f"Acme: {100 - int(done[1])}.00 en-credits (active)"
