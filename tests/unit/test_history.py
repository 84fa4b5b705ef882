from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

from billing_core import EntryKind, InvalidInput, Ledger, PermissionDenied
from tests.conftest import FakeClock, fund


@pytest.fixture
def clocked(new_ledger: Callable[..., Ledger]) -> tuple[Ledger, FakeClock]:
    clock = FakeClock(datetime(2026, 11, 1, 9, 0))
    return new_ledger(clock=clock), clock


def setup_history(ledger: Ledger, clock: FakeClock, n: int) -> tuple:
    admin = ledger.add_user("ada@example.com", "Ada", admin=True)
    member = ledger.add_user("m@example.com", "Mem")
    space = ledger.create_workspace("Acme")
    ledger.add_member(space.id, member.id)
    fund(ledger, admin, space.id, "100000")
    for i in range(n):
        clock.now += timedelta(hours=1)
        ledger.consume(
            member,
            space.id,
            str(i % 7 + 1),
            feature="AI chat" if i % 2 else "Exports",
            description=f"use {i}",
        )
    return admin, member, space


def test_pages_walk_the_whole_history_newest_first(clocked: tuple) -> None:
    ledger, clock = clocked
    _, member, space = setup_history(ledger, clock, 120)
    seen, cursor = [], None
    while True:
        page = ledger.history(member, space.id, limit=50, cursor=cursor)
        seen += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == 121
    assert [t.id for t in seen] == sorted((t.id for t in seen), reverse=True)
    assert seen[-1].kind is EntryKind.CREDIT
    assert len({t.id for t in seen}) == 121


def test_filters_by_kind_text_and_dates(clocked: tuple) -> None:
    ledger, clock = clocked
    _, member, space = setup_history(ledger, clock, 48)
    credits = ledger.history(member, space.id, kind="credit").items
    assert [t.kind for t in credits] == [EntryKind.CREDIT]
    exports = ledger.history(member, space.id, search="EXPORTS", limit=500).items
    assert len(exports) == 24 and all(t.feature == "Exports" for t in exports)
    assert [t.description for t in ledger.history(member, space.id, search="use 47").items] == ["use 47"]
    day = ledger.history(member, space.id, since=date(2026, 11, 2), until=date(2026, 11, 2), limit=500)
    assert {t.created_at.date() for t in day.items} == {date(2026, 11, 2)}
    assert len(day.items) == 24


def test_search_text_is_not_sql(clocked: tuple) -> None:
    ledger, clock = clocked
    _, member, space = setup_history(ledger, clock, 3)
    assert ledger.history(member, space.id, search="' OR 1=1 --").items == []
    assert ledger.history(member, space.id, search="%").items == []


@pytest.mark.parametrize(
    "cursor", ["abc", "before:-1", "before:", "before:1e3", "before:99999999999999999999", "1"]
)
def test_bad_cursor_is_refused(ledger: Ledger, people: dict, cursor: str) -> None:
    with pytest.raises(InvalidInput, match="cursor"):
        ledger.history(people["alice"], people["acme"].id, cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1, 501, True, "10"])
def test_bad_limit_is_refused(ledger: Ledger, people: dict, limit: object) -> None:
    with pytest.raises(InvalidInput):
        ledger.history(people["alice"], people["acme"].id, limit=limit)  # type: ignore[arg-type]


def test_empty_history_has_no_cursor(ledger: Ledger, people: dict) -> None:
    page = ledger.history(people["alice"], people["acme"].id)
    assert page.items == [] and page.next_cursor is None


def test_history_amounts_are_exact_decimals(ledger: Ledger, people: dict) -> None:
    fund(ledger, people["admin"], people["acme"].id, "0.3")
    ledger.consume(people["alice"], people["acme"].id, "0.1", feature="AI", description="x")
    ledger.consume(people["alice"], people["acme"].id, "0.2", feature="AI", description="x")
    items = ledger.history(people["alice"], people["acme"].id).items
    assert [t.amount for t in items] == [Decimal("0.2"), Decimal("0.1"), Decimal("0.3")]
    assert ledger.wallet(people["alice"], people["acme"].id).balance == 0


def test_windowed_pages_match_a_full_scan_for_busy_and_rare_workspaces(ledger: Ledger) -> None:
    """Pages read id windows that widen as needed: a rare workspace among busy ones
    still gets exactly the rows a plain ORDER BY id DESC scan gives."""
    admin = ledger.add_user("ada@example.com", "Ada", admin=True)
    spaces = [ledger.create_workspace(f"W{i}").id for i in range(8)]
    for space in spaces:
        fund(ledger, admin, space, "100000")
    with ledger.db.writing() as cur:  # 3,000 debits, one workspace in a hundred is the rare one
        n = 3000
        ledger.db.insert_arrow(
            cur,
            "entries",
            pa.table(
                {
                    "id": pa.array(ledger.db.allocate_ids("entries", n)),
                    "workspace_id": pa.array([spaces[0] if i % 100 == 7 else spaces[1] for i in range(n)]),
                    "kind": pa.repeat("debit", n),
                    "amount": pa.repeat(pa.scalar(Decimal(1), pa.decimal128(18, 4)), n),
                    "feature": pa.repeat("AI", n),
                    "description": pa.array([f"x{i}" for i in range(n)]),
                    "actor_id": pa.repeat(pa.scalar(admin.id, pa.int64()), n),
                    "request_id": pa.nulls(n, pa.int64()),
                    "created_at": pa.array([datetime(2026, 11, 1) + timedelta(seconds=i) for i in range(n)]),
                }
            ),
        )
    for space in (spaces[0], spaces[1], spaces[2]):
        with ledger.db.reading() as cur:
            rows = cur.execute(
                "SELECT id FROM entries WHERE workspace_id = ? ORDER BY id DESC", [space]
            ).fetchall()
        expected = [r[0] for r in rows]
        seen, cursor = [], None
        while True:
            page = ledger.history(admin, space, limit=7, cursor=cursor)
            seen += [t.id for t in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == expected


def test_history_frames_stream_the_whole_filtered_history_a_page_at_a_time(clocked: tuple) -> None:
    ledger, clock = clocked
    _, member, space = setup_history(ledger, clock, 120)
    frames = list(ledger.history_frames(member, space.id, page_size=25, search="exports"))
    assert [len(f) for f in frames] == [25, 25, 10]  # never more than a page held at once
    whole = pd.concat(frames, ignore_index=True)
    expected = ledger.history(member, space.id, limit=500, search="exports").items
    assert list(whole["id"]) == [t.id for t in expected]  # newest first, same filter
    assert list(whole.columns) == ["id", "created_at", "type", "amount", "feature", "description"]
    assert set(whole["type"]) == {"debit"} and set(whole["feature"]) == {"Exports"}
    assert all(isinstance(a, Decimal) and a < 0 for a in whole["amount"])
    assert list(whole["amount"]) == [-t.amount for t in expected]
    assert str(whole["created_at"].dtype) == "datetime64[us, UTC]"


def test_history_frames_sign_credits_up_and_debits_down(ledger: Ledger, people: dict) -> None:
    fund(ledger, people["admin"], people["acme"].id, "10.5")
    ledger.consume(people["alice"], people["acme"].id, "0.25", feature="AI", description="x")
    (frame,) = ledger.history_frames(people["alice"], people["acme"].id)
    assert list(frame["amount"]) == [Decimal("-0.2500"), Decimal("10.5000")]
    assert list(frame["type"]) == ["debit", "credit"]


def test_history_frames_check_access_and_filters_like_history(ledger: Ledger, people: dict) -> None:
    with pytest.raises(PermissionDenied):
        next(ledger.history_frames(people["bob"], people["acme"].id))
    with pytest.raises(InvalidInput):
        next(ledger.history_frames(people["alice"], people["acme"].id, kind="refund"))
    (empty,) = ledger.history_frames(people["alice"], people["acme"].id)
    assert empty.empty and list(empty.columns)[:4] == ["id", "created_at", "type", "amount"]
