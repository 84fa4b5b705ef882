"""Grants: the draw-down order, traceability, expiry exactly once and in time order, and
expiries kept apart from spend. Every test runs on DuckDB and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from billing_core import EntryKind, InsufficientCredits, InvalidInput, Ledger, LedgerCorrupt
from billing_core.models import GrantKind
from tests.conftest import FakeClock
from tests.hardening.books import audit_problems, replay_problems, rows
from tests.unit.conftest import GRANTS_NOW

NOW = GRANTS_NOW  # the `book` fixture's clock (tests/unit/conftest.py)


def grant(ledger: Ledger, p: dict, amount: str, **terms: object) -> int:
    """A grant by the admin; returns the grant's id."""
    entry = ledger.grant_credits(p["admin"], p["space"], amount, description="g", **terms)  # type: ignore[arg-type]
    (made,) = ledger.draws(p["admin"], entry.id)
    return made.grant_id


def spend(ledger: Ledger, p: dict, amount: str) -> list[tuple[int, Decimal]]:
    """A debit; returns its draws as (grant id, amount)."""
    entry = ledger.consume(p["alice"], p["space"], amount, feature="AI", description="use")
    return [(d.grant_id, d.amount) for d in ledger.draws(p["alice"], entry.id)]


def test_debits_draw_by_priority_then_soonest_expiry_then_oldest(book: tuple) -> None:
    ledger, clock, p = book
    old = grant(ledger, p, "10")  # purchased, never expires, oldest
    late = grant(ledger, p, "10", expires_at=NOW + timedelta(days=20))
    soon = grant(ledger, p, "10", expires_at=NOW + timedelta(days=5))
    newer = grant(ledger, p, "10")  # purchased, never expires, newer
    promo = grant(ledger, p, "10", kind="promotional", expires_at=NOW + timedelta(days=30))
    urgent = grant(ledger, p, "10", priority=1)  # purchased, but first by its priority
    assert [g.id for g in ledger.grants(p["alice"], p["space"])] == [urgent, promo, soon, late, old, newer]
    assert spend(ledger, p, "15") == [(urgent, Decimal(10)), (promo, Decimal(5))]
    assert spend(ledger, p, "30") == [(promo, Decimal(5)), (soon, Decimal(10)), (late, Decimal(10)),
                                      (old, Decimal(5))]
    assert spend(ledger, p, "15") == [(old, Decimal(5)), (newer, Decimal(10))]
    assert ledger.grants(p["alice"], p["space"]) == []
    with pytest.raises(InsufficientCredits):
        spend(ledger, p, "0.0001")
    ledger.verify()


def test_every_debit_is_traced_to_the_grants_that_paid_and_every_grant_to_its_debits(book: tuple) -> None:
    ledger, clock, p = book
    grants = [grant(ledger, p, amount, kind=kind) for amount, kind in
              (("7.5", "purchased"), ("3.25", "promotional"), ("11", "purchased"), ("0.0001", "promotional"))]
    debits = []
    for amount in ("1.2", "4.0001", "2.5", "9", "3.3"):
        entry = ledger.consume(p["alice"], p["space"], amount, feature="AI", description="use")
        draws = ledger.draws(p["alice"], entry.id)
        assert sum((d.amount for d in draws), Decimal(0)) == entry.amount  # the draws sum to the debit
        assert all(d.kind is EntryKind.DEBIT and d.transaction_id == entry.id for d in draws)
        debits.append(entry.id)
    used: dict[int, Decimal] = {}
    for grant_id in grants:
        history = ledger.grant_draws(p["alice"], grant_id)
        assert history[0].kind is EntryKind.CREDIT  # the credit that made it comes first
        for d in history[1:]:
            assert d.kind is EntryKind.DEBIT and d.transaction_id in debits
            used[d.transaction_id] = used.get(d.transaction_id, Decimal(0)) + d.amount
        held = {g.id: g for g in ledger.grants(p["admin"], p["space"], include_spent=True)}[grant_id]
        assert held.amount - sum((d.amount for d in history[1:]), Decimal(0)) == held.remaining
    totals = dict(rows(ledger, "SELECT id, amount FROM entries WHERE kind = 'debit'"))
    assert used == totals  # each debit, seen from the grants, sums to itself
    ledger.verify()


def test_a_grant_expires_once_at_its_expiry_as_an_expiry_entry_by_the_system(book: tuple) -> None:
    ledger, clock, p = book
    keep = grant(ledger, p, "100")
    promo = grant(ledger, p, "40", kind="promotional", expires_at=NOW + timedelta(days=3))
    spend(ledger, p, "15")
    clock.now = NOW + timedelta(days=3)  # the very moment: expired
    (expiry,) = ledger.expire_due()
    assert (expiry.kind, expiry.amount, expiry.actor_id) == (EntryKind.EXPIRY, Decimal(25), 0)
    assert expiry.created_at == (NOW + timedelta(days=3)).replace(tzinfo=UTC)
    assert ledger.expire_due() == []  # twice: nothing more
    assert [(d.grant_id, d.amount) for d in ledger.draws(p["alice"], expiry.id)] == [(promo, Decimal(25))]
    assert ledger.wallet(p["alice"], p["space"]).balance == Decimal(100)
    assert [g.id for g in ledger.grants(p["alice"], p["space"])] == [keep]
    spent = {g.id: g for g in ledger.grants(p["alice"], p["space"], include_spent=True)}[promo]
    assert spent.expired and spent.remaining == 0 and spent.expired_entry_id == expiry.id
    history = ledger.history(p["alice"], p["space"])
    assert history.items[0].id == expiry.id and history.items[0].kind is EntryKind.EXPIRY
    assert [t.id for t in ledger.history(p["alice"], p["space"], kind="expiry").items] == [expiry.id]
    ledger.verify()
    assert audit_problems(ledger) == [] and replay_problems(ledger) == []


def test_a_debit_never_draws_on_an_expired_grant_however_late_the_job_is(book: tuple) -> None:
    ledger, clock, p = book
    grant(ledger, p, "10", kind="promotional", expires_at=NOW + timedelta(hours=1))
    grant(ledger, p, "5")
    clock.now = NOW + timedelta(days=2)  # no expiry job ran
    with pytest.raises(InsufficientCredits, match="5.00"):
        spend(ledger, p, "6")  # the promotion's 10 left first: only 5 are there
    kinds = [t.kind for t in ledger.history(p["alice"], p["space"]).items]
    assert kinds == [EntryKind.EXPIRY, EntryKind.CREDIT, EntryKind.CREDIT]  # the refusal still expired it
    assert spend(ledger, p, "5")[0][1] == Decimal(5)
    assert ledger.expire_due() == []
    ledger.verify()


def test_catching_up_after_downtime_expires_in_time_order_each_dated_at_its_expiry(book: tuple) -> None:
    ledger, clock, p = book
    ends = [NOW + timedelta(days=d) for d in (9, 2, 5, 2)]
    made = [grant(ledger, p, str(10 + i), expires_at=e) for i, e in enumerate(ends)]
    clock.now = NOW + timedelta(days=6)
    partial = ledger.expire_due(now=NOW + timedelta(days=3))  # up to a point in the past
    assert [t.created_at for t in partial] == [ends[1].replace(tzinfo=UTC)] * 2
    rest = ledger.expire_due()
    assert [t.created_at for t in rest] == [ends[2].replace(tzinfo=UTC)]
    expired = rows(ledger, """SELECT e.created_at, p.grant_id FROM entries e
                              JOIN postings p ON p.entry_id = e.id AND p.grant_id IS NOT NULL
                              WHERE e.kind = 'expiry' ORDER BY e.id""")
    assert [g for _, g in expired] == [made[1], made[3], made[2]]  # by expiry, then by grant
    assert [w for w, _ in expired] == sorted(w for w, _ in expired)
    with pytest.raises(InvalidInput):
        ledger.expire_due(now=NOW + timedelta(days=7))  # not ahead of the ledger's clock
    ledger.verify()


def test_expiries_are_not_spend_but_the_balance_charts_count_them(book: tuple) -> None:
    ledger, clock, p = book
    grant(ledger, p, "50")
    grant(ledger, p, "30", kind="promotional", expires_at=NOW + timedelta(days=1))
    spend(ledger, p, "10")
    clock.now = NOW + timedelta(days=2)
    ledger.expire_due()
    today, day = clock.now.date(), NOW.date()
    assert ledger.burn_rate(p["alice"], p["space"]).spent == Decimal(10)
    assert sum(ledger.spend_by_feature(p["alice"], day, today)["spent"]) == Decimal(10)
    flows = ledger.credits_vs_debits(p["alice"], day, today)
    by_kind = {k: sum(flows.loc[flows["kind"] == k, "amount"]) for k in ("credit", "debit", "expiry")}
    assert by_kind == {"credit": Decimal(80), "debit": Decimal(10), "expiry": Decimal(20)}
    balances = ledger.balance_over_time(p["alice"], p["space"], day, today)
    assert dict(zip(balances["day"], balances["balance"], strict=True)) == {
        day: Decimal(70), day + timedelta(days=1): Decimal(50), today: Decimal(50),
    }
    overview = ledger.wallet_overview(p["admin"]).iloc[0]
    assert overview["spent"] == Decimal(10) and overview["balance"] == Decimal(50)


def test_the_terms_of_a_grant_are_checked(book: tuple) -> None:
    ledger, clock, p = book
    for terms, message in (
        ({"expires_at": NOW}, "must be in the future"),
        ({"expires_at": NOW - timedelta(days=1)}, "must be in the future"),
        ({"expires_at": date(2027, 1, 1)}, "not a day"),
        ({"expires_at": "2027-01-01"}, "date and time"),
        ({"kind": "free"}, "'purchased' or 'promotional'"),
        ({"priority": -1}, "priority"),
        ({"priority": 1001}, "priority"),
        ({"priority": True}, "priority"),
    ):
        with pytest.raises(InvalidInput, match=message):
            ledger.grant_credits(p["admin"], p["space"], "1", description="x", **terms)
    assert ledger.grants(p["admin"], p["space"], include_spent=True) == []
    aware = datetime(2026, 12, 1, 13, 0, tzinfo=UTC) + timedelta(hours=1)
    grant(ledger, p, "1", expires_at=aware.astimezone())  # an aware time is kept as UTC
    (held,) = ledger.grants(p["admin"], p["space"])
    assert held.expires_at == aware


def test_an_approval_grants_the_kind_and_expiry_the_admin_chose(book: tuple) -> None:
    ledger, clock, p = book
    request = ledger.request_credits(p["alice"], p["space"], "25")
    ends = NOW + timedelta(days=14)
    with pytest.raises(InvalidInput, match="future"):
        ledger.approve_request(p["admin"], request.id, expires_at=NOW - timedelta(seconds=1))
    approved = ledger.approve_request(p["admin"], request.id, "ok", kind=GrantKind.PROMOTIONAL,
                                      expires_at=ends)
    (held,) = ledger.grants(p["alice"], p["space"])
    assert (held.kind, held.priority, held.amount, held.expires_at, held.source, held.entry_id) == (
        GrantKind.PROMOTIONAL, 10, Decimal(25), ends.replace(tzinfo=UTC), f"request:{request.id}",
        approved.entry_id,
    )
    other = ledger.request_credits(p["alice"], p["space"], "5")
    ledger.approve_request(p["admin"], other.id)  # the default: purchased, never expires
    assert [(g.kind, g.expires_at) for g in ledger.grants(p["alice"], p["space"])] == [
        (GrantKind.PROMOTIONAL, ends.replace(tzinfo=UTC)), (GrantKind.PURCHASED, None)]
    ledger.verify()


def test_verify_sees_grants_out_of_step_with_the_postings(book: tuple) -> None:
    ledger, clock, p = book
    first = grant(ledger, p, "10")
    grant(ledger, p, "10", kind="promotional", expires_at=NOW + timedelta(days=1))
    spend(ledger, p, "12")
    ledger.verify()
    with ledger.db.writing() as cur:
        cur.execute("UPDATE grants SET remaining = remaining - 1 WHERE id = ?", [first])
    with pytest.raises(LedgerCorrupt, match="remainders do not sum to its balance") as caught:
        ledger.verify()
    assert "differs from its amount less its draws" in str(caught.value)
    with ledger.db.writing() as cur:
        cur.execute("UPDATE grants SET remaining = remaining + 1 WHERE id = ?", [first])
        cur.execute("UPDATE grants SET expired_entry_id = 1 WHERE id = ?", [first])
    with pytest.raises(LedgerCorrupt, match="expired other than once"):
        ledger.verify()


def test_a_ledger_from_before_grants_gets_an_opening_grant_per_funded_wallet(tmp_path) -> None:
    """Migration 5 on a ledger at version 4: balances become opening grants, old entries keep
    their postings (naming no grant), and the books still balance and keep working."""
    import duckdb

    import billing_core
    from billing_core import schema

    where = tmp_path / "v4.duckdb"
    with duckdb.connect(str(where)) as con:
        con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)")
        for number, sql in schema.MIGRATIONS:
            if number >= 5:  # the grants migration: the ledger opens it below
                break
            con.execute(sql)
            if number == 1:
                schema.seed_constants(con)
            con.execute("INSERT INTO schema_version VALUES (?, TIMESTAMP '2026-01-01')", [number])
        con.execute("""
            INSERT INTO users VALUES (1, 'a@x.com', 'A', TRUE, NULL, TIMESTAMP '2026-01-01');
            INSERT INTO workspaces VALUES (1, 'W', 'w', TIMESTAMP '2026-01-01'),
                                          (2, 'V', 'v', TIMESTAMP '2026-01-01');
            INSERT INTO accounts VALUES (3, 'wallet:1', 1), (4, 'wallet:2', 2);
            INSERT INTO wallets VALUES (1, 3, 'active', 7.5, TIMESTAMP '2026-01-02'),
                                       (2, 4, 'active', 0, TIMESTAMP '2026-01-01');
            INSERT INTO entries VALUES (1, 1, 'credit', 10, NULL, 'funding', 1, NULL, TIMESTAMP '2026-01-01'),
                                       (2, 1, 'debit', 2.5, 'AI', 'use', 1, NULL, TIMESTAMP '2026-01-02');
            INSERT INTO postings VALUES (1, 3, 10), (1, 1, -10), (2, 3, -2.5), (2, 2, 2.5);
            INSERT INTO daily_rollups VALUES (1, '', DATE '2026-01-01', 0, 10, 0, 1),
                                             (1, NULL, DATE '2026-01-01', 0, 10, 0, 1),
                                             (1, 'AI', DATE '2026-01-02', 2.5, 0, 1, 0),
                                             (1, NULL, DATE '2026-01-02', 2.5, 0, 1, 0);
            INSERT INTO audit_log VALUES
                (1, TIMESTAMP '2026-01-01', 1, 'wallet.grant', 'entry:1', 1, NULL, NULL),
                (2, TIMESTAMP '2026-01-02', 1, 'wallet.consume', 'entry:2', 1, NULL, NULL);
        """)
    with billing_core.open_ledger(str(where), clock=FakeClock(NOW)) as ledger:
        ledger.verify()
        admin = ledger.user_by_email("a@x.com")
        (opening,) = ledger.grants(admin, 1)
        assert (opening.source, opening.amount, opening.remaining, opening.kind) == (
            "opening", Decimal("7.5"), Decimal("7.5"), GrantKind.PURCHASED)
        assert ledger.grants(admin, 2) == []
        assert ledger.draws(admin, 2) == []  # from before grants: traced to none
        entry = ledger.consume(admin, 1, "3", feature="AI", description="after")
        assert [(d.grant_id, d.amount) for d in ledger.draws(admin, entry.id)] == [(opening.id, Decimal(3))]
        ledger.grant_credits(admin, 2, "4", description="new")
        ledger.verify()
        # an entry written after the migration must name its grant
        with ledger.db.writing() as cur:
            cur.execute("UPDATE legacy_entries SET last_id = 0")
        with pytest.raises(LedgerCorrupt, match="names no grant"):
            ledger.verify()
