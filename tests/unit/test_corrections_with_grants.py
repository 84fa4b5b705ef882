"""Corrections move grants like any movement (issues 11 and 14). Correcting a credit takes
the amount first from the grant that credit made, the rest in the draw-down order;
correcting a debit gives each draw back to its grant while that grant is live, and the
share of an expired grant comes back as a new grant of the same kind and priority that
never expires. verify() holds after each. Every test runs on DuckDB and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal

import pytest

from billing_core import EntryKind, InvalidInput, Ledger, RequestStatus
from billing_core.models import GrantKind
from tests.hardening.books import audit_problems, replay_problems
from tests.unit.conftest import GRANTS_NOW

NOW = GRANTS_NOW  # the `book` fixture's clock (tests/unit/conftest.py)


def grant(ledger: Ledger, p: dict, amount: str, **terms: object) -> tuple[int, int]:
    """A grant by the admin: (its transaction, the grant's id)."""
    entry = ledger.grant_credits(p["admin"], p["space"], amount, description="g", **terms)  # type: ignore[arg-type]
    (made,) = ledger.draws(p["admin"], entry.id)
    return entry.id, made.grant_id


def spend(ledger: Ledger, p: dict, amount: str) -> tuple[int, dict[int, Decimal]]:
    """A debit: (its transaction, {grant id: amount drawn})."""
    entry = ledger.consume(p["alice"], p["space"], amount, feature="AI", description="use")
    return entry.id, {d.grant_id: d.amount for d in ledger.draws(p["alice"], entry.id)}


def moved(ledger: Ledger, p: dict, entry_id: int) -> dict[int, Decimal]:
    return {d.grant_id: d.amount for d in ledger.draws(p["admin"], entry_id)}


def remaining(ledger: Ledger, p: dict) -> dict[int, Decimal]:
    return {g.id: g.remaining for g in ledger.grants(p["admin"], p["space"], include_spent=True)}


def checked(ledger: Ledger) -> None:
    ledger.verify()
    assert not audit_problems(ledger)
    assert not replay_problems(ledger)


def test_correcting_a_credit_takes_from_its_own_grant_first_then_in_order(book: tuple) -> None:
    ledger, _, p = book
    _, promo = grant(ledger, p, "10", kind="promotional")
    credit, purchased = grant(ledger, p, "30")
    _, spent = spend(ledger, p, "25")
    assert spent == {promo: Decimal(10), purchased: Decimal(15)}
    _, later = grant(ledger, p, "40")  # purchased, never expires, newer than `purchased`
    _, promo2 = grant(ledger, p, "10", kind="promotional")
    fix = ledger.correct_entry(p["admin"], credit, reason="granted in error")
    assert (fix.kind, fix.amount, fix.corrects) == (EntryKind.DEBIT, Decimal(30), credit)
    # what is left of its own grant first (15), the rest by the order: promotional, then oldest
    assert moved(ledger, p, fix.id) == {purchased: Decimal(15), promo2: Decimal(10), later: Decimal(5)}
    assert remaining(ledger, p) == {later: Decimal(35), purchased: 0, promo2: 0, promo: 0}
    assert ledger.wallet(p["admin"], p["space"]).balance == Decimal(35)
    checked(ledger)


def test_correcting_a_credit_whose_grant_expired_draws_in_the_normal_order(book: tuple) -> None:
    ledger, clock, p = book
    credit, _ = grant(ledger, p, "10", expires_at=NOW + timedelta(days=2))
    _, kept = grant(ledger, p, "50")
    clock.now = NOW + timedelta(days=3)
    assert [t.amount for t in ledger.expire_due()] == [Decimal(10)]
    fix = ledger.correct_entry(p["admin"], credit, reason="should not have been granted")
    assert moved(ledger, p, fix.id) == {kept: Decimal(10)}  # nothing was left of its own grant
    assert ledger.wallet(p["admin"], p["space"]).balance == Decimal(40)
    checked(ledger)


def test_correcting_a_credit_is_refused_when_the_wallet_is_short(book: tuple) -> None:
    ledger, _, p = book
    credit, _ = grant(ledger, p, "10")
    spend(ledger, p, "4")
    with pytest.raises(InvalidInput, match="below zero"):
        ledger.correct_entry(p["admin"], credit, reason="take it back")
    checked(ledger)


def test_correcting_a_debit_gives_each_draw_back_to_its_live_grant(book: tuple) -> None:
    ledger, _, p = book
    _, promo = grant(ledger, p, "10", kind="promotional", expires_at=NOW + timedelta(days=10))
    _, purchased = grant(ledger, p, "20")
    debit, spent = spend(ledger, p, "15")
    assert spent == {promo: Decimal(10), purchased: Decimal(5)}
    grants_before = len(ledger.grants(p["admin"], p["space"], include_spent=True))
    fix = ledger.correct_entry(p["admin"], debit, reason="charged by mistake")
    assert (fix.kind, fix.amount, fix.corrects, fix.feature) == (EntryKind.CREDIT, Decimal(15), debit, "AI")
    assert moved(ledger, p, fix.id) == {promo: Decimal(10), purchased: Decimal(5)}
    held = {g.id: g for g in ledger.grants(p["admin"], p["space"])}
    assert (held[promo].remaining, held[purchased].remaining) == (Decimal(10), Decimal(20))
    assert held[promo].expires_at == (NOW + timedelta(days=10)).replace(tzinfo=UTC)  # as it was
    assert len(ledger.grants(p["admin"], p["space"], include_spent=True)) == grants_before  # no new one
    checked(ledger)
    # the promotional grant given back is drawn first again, and still expires
    assert spend(ledger, p, "3")[1] == {promo: Decimal(3)}
    checked(ledger)


def test_the_share_of_an_expired_grant_comes_back_as_a_grant_that_never_expires(book: tuple) -> None:
    ledger, clock, p = book
    _, promo = grant(ledger, p, "10", kind="promotional", priority=3, expires_at=NOW + timedelta(days=5))
    _, purchased = grant(ledger, p, "20")
    debit, spent = spend(ledger, p, "6")
    assert spent == {promo: Decimal(6)}
    clock.now = NOW + timedelta(days=6)
    (expiry,) = ledger.expire_due()  # the promotional grant's last 4 leave the wallet
    assert (expiry.kind, expiry.amount) == (EntryKind.EXPIRY, Decimal(4))
    fix = ledger.correct_entry(p["admin"], debit, reason="refund")
    (back,) = ledger.draws(p["admin"], fix.id)
    assert back.grant_id not in (promo, purchased) and back.amount == Decimal(6)
    made = {g.id: g for g in ledger.grants(p["admin"], p["space"])}[back.grant_id]
    assert (made.kind, made.priority, made.amount, made.remaining, made.expires_at) == (
        GrantKind.PROMOTIONAL, 3, Decimal(6), Decimal(6), None)
    assert made.source == f"correction:{fix.id}" and made.entry_id == fix.id
    assert ledger.wallet(p["admin"], p["space"]).balance == Decimal(26)
    checked(ledger)
    clock.now = NOW + timedelta(days=400)
    assert ledger.expire_due() == []  # it never expires
    assert spend(ledger, p, "7")[1] == {made.id: Decimal(6), purchased: Decimal(1)}  # priority 3 first
    checked(ledger)


def test_a_debit_over_a_live_and_an_expired_grant_is_split_between_them(book: tuple) -> None:
    ledger, clock, p = book
    _, promo = grant(ledger, p, "10", kind="promotional", expires_at=NOW + timedelta(days=5))
    _, purchased = grant(ledger, p, "20")
    debit, spent = spend(ledger, p, "12")
    assert spent == {promo: Decimal(10), purchased: Decimal(2)}
    clock.now = NOW + timedelta(days=5)  # the promotional grant's expiry (nothing was left of it)
    assert ledger.expire_due() == []
    fix = ledger.correct_entry(p["admin"], debit, reason="refund")
    back = moved(ledger, p, fix.id)
    new = [g for g in back if g not in (promo, purchased)]
    assert len(new) == 1 and back == {purchased: Decimal(2), new[0]: Decimal(10)}
    held = {g.id: g for g in ledger.grants(p["admin"], p["space"], include_spent=True)}
    assert held[promo].remaining == 0  # an expired grant is never refilled
    assert (held[new[0]].kind, held[new[0]].expires_at) == (GrantKind.PROMOTIONAL, None)
    assert held[purchased].remaining == Decimal(20)
    checked(ledger)


def test_an_expiry_is_corrected_by_a_grant_that_never_expires(book: tuple) -> None:
    ledger, clock, p = book
    _, short = grant(ledger, p, "10", expires_at=NOW + timedelta(days=1))
    clock.now = NOW + timedelta(days=2)
    (expiry,) = ledger.expire_due()
    fix = ledger.correct_entry(p["admin"], expiry.id, reason="the customer was promised an extension")
    assert (fix.kind, fix.amount) == (EntryKind.CREDIT, Decimal(10))
    (back,) = ledger.draws(p["admin"], fix.id)
    assert back.grant_id != short and back.grant_expires_at is None
    assert ledger.wallet(p["admin"], p["space"]).balance == Decimal(10)
    checked(ledger)


def test_verify_sees_a_correction_that_gives_credits_to_a_grant_its_debit_never_drew(book: tuple) -> None:
    from billing_core.audit import AuditAction
    from billing_core.errors import LedgerCorrupt
    from billing_core.journal import Movement, Return, append, lock_wallet

    ledger, _, p = book
    _, first = grant(ledger, p, "10")
    _, second = grant(ledger, p, "10")
    debit, spent = spend(ledger, p, "4")
    assert spent == {first: Decimal(4)}
    with ledger.db.writing() as cur:
        wallet = lock_wallet(ledger.db, cur, p["space"])
        movement = Movement(p["space"], EntryKind.CREDIT, Decimal(4), "forged", None, p["admin"].id,
                            AuditAction.CORRECT, corrects=debit,
                            returns=(Return(Decimal(4), GrantKind.PURCHASED, 20, second),))
        append(ledger.db, cur, {p["space"]: wallet}, [movement], at=ledger.db.clock())
    with pytest.raises(LedgerCorrupt, match="names no grant"):
        ledger.verify()


def test_an_admin_grant_carries_its_kind_and_expiry(book: tuple) -> None:
    ledger, _, p = book
    outcome = ledger.grant(p["admin"], p["space"], "50", reason="launch promotion", kind="promotional",
                           expires_at=NOW + timedelta(days=30))
    assert outcome.entry is not None
    (made,) = ledger.draws(p["admin"], outcome.entry.id)
    assert made.grant_kind is GrantKind.PROMOTIONAL
    assert made.grant_expires_at == (NOW + timedelta(days=30)).replace(tzinfo=UTC)
    with pytest.raises(InvalidInput):
        ledger.grant(p["admin"], p["space"], "5", reason="x", expires_at=NOW - timedelta(days=1))
    with pytest.raises(InvalidInput):
        ledger.grant(p["admin"], p["space"], "5", reason="x", kind="free")
    checked(ledger)


def test_an_admin_grant_above_the_limit_is_never_approved_by_a_standing_approval(book: tuple) -> None:
    ledger, _, p = book
    ledger.set_credit_policy(p["admin"], p["space"], approve_up_to="50000", approve_per_month="100000")
    small = ledger.request_credits(p["alice"], p["space"], "20")
    assert small.status is RequestStatus.APPROVED and small.by_policy  # the policy works
    outcome = ledger.grant(p["admin"], p["space"], "20000", reason="annual contract")
    assert outcome.request is not None and outcome.request.status is RequestStatus.PENDING
    approved = ledger.approve_request(p["admin2"], outcome.request.id, kind="promotional",
                                      expires_at=NOW + timedelta(days=90))
    assert approved.status is RequestStatus.APPROVED and not approved.by_policy
    assert approved.entry_id is not None
    (made,) = ledger.draws(p["admin"], approved.entry_id)
    assert (made.grant_kind, made.grant_source) == (GrantKind.PROMOTIONAL, f"request:{approved.id}")
    checked(ledger)
