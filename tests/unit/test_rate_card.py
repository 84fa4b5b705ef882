"""The rate card and usage-based consumption (`set_price`, `prices`, `consume_usage`), on
both stores: versioning, pricing at the right time, the carried remainder, and every rule
`consume` has."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import pytest

from billing_core import (
    IdempotencyConflict,
    InsufficientCredits,
    InvalidAmount,
    InvalidInput,
    Ledger,
    LedgerCorrupt,
    NoPrice,
    PermissionDenied,
    Unit,
    WalletInactive,
)
from billing_core.audit import AuditAction
from tests.conftest import fund

NOW = datetime(2026, 11, 27, 12, 0, 0)  # the FakeClock's start


def test_a_new_price_applies_from_its_date_and_earlier_prices_are_kept(ledger: Ledger, people) -> None:
    admin = people["admin"]
    first = ledger.set_price(admin, "AI chat", "1k_tokens", "2", effective_from=date(2026, 1, 1))
    second = ledger.set_price(admin, "AI chat", Unit.THOUSAND_TOKENS, "2.5", effective_from=date(2026, 6, 1))
    assert [p.id for p in ledger.prices(admin)] == [first.id, second.id]  # the history, both kept
    assert ledger.prices(admin, at=date(2026, 3, 1)) == [first]
    assert ledger.prices(admin, at=date(2026, 7, 1)) == [second]
    assert ledger.prices(admin, at=date(2025, 12, 31)) == []
    assert second.credits_per_unit == Decimal("2.5") and second.unit is Unit.THOUSAND_TOKENS
    trail = ledger.audit_trail(admin, limit=2)
    assert [r.action for r in trail] == [AuditAction.PRICE_SET.value] * 2


def test_only_administrators_set_prices_and_signed_in_people_read_them(ledger: Ledger, people) -> None:
    ledger.set_price(people["admin"], "*", "request", "1")
    with pytest.raises(PermissionDenied, match="administrator"):
        ledger.set_price(people["alice"], "*", "request", "0.01")
    assert [p.credits_per_unit for p in ledger.prices(people["alice"])] == [Decimal(1)]


def test_usage_is_priced_at_the_rate_in_effect_when_it_occurred(ledger: Ledger, people) -> None:
    admin, acme = people["admin"], people["acme"]
    fund(ledger, admin, acme.id, "1000")
    ledger.set_price(admin, "AI chat", "token", "0.002", effective_from=date(2026, 1, 1))
    ledger.set_price(admin, "AI chat", "token", "0.003", effective_from=date(2026, 11, 1))
    old = ledger.consume_usage(admin, acme.id, "AI chat", 1000, unit="token", description="old",
                               occurred_at=datetime(2026, 10, 31, 23, 59))
    new = ledger.consume_usage(admin, acme.id, "AI chat", 1000, unit="token", description="new")
    assert (old.amount, old.rate, old.quantity, old.unit) == (Decimal(2), Decimal("0.002"), 1000, "token")
    assert (new.amount, new.rate) == (Decimal("3.0000"), Decimal("0.003"))
    assert ledger.wallet(admin, acme.id).balance == Decimal("995")
    shown = ledger.history(admin, acme.id, limit=2).items
    assert [(t.quantity, t.unit) for t in shown] == [(1000, "token"), (1000, "token")]
    ledger.verify()


def test_the_default_price_covers_features_without_their_own(ledger: Ledger, people) -> None:
    admin, acme = people["admin"], people["acme"]
    fund(ledger, admin, acme.id, "100")
    ledger.set_price(admin, "*", "image", "0.5", effective_from=date(2026, 1, 1))
    ledger.set_price(admin, "Images HD", "image", "2", effective_from=date(2026, 1, 1))
    images = ledger.consume_usage(admin, acme.id, "Images", 3, unit="image", description="d")
    assert images.amount == Decimal("1.5")
    assert ledger.consume_usage(admin, acme.id, "Images HD", 3, unit="image", description="d").amount == 6


def test_usage_without_a_price_is_refused_and_nothing_is_charged(ledger: Ledger, people) -> None:
    admin, acme = people["admin"], people["acme"]
    fund(ledger, admin, acme.id, "100")
    ledger.set_price(admin, "AI chat", "token", "0.002", effective_from=date(2026, 6, 1))
    with pytest.raises(NoPrice, match="no price for AI chat in second"):
        ledger.consume_usage(admin, acme.id, "AI chat", 10, unit="second", description="d")
    with pytest.raises(NoPrice):  # before the price's date
        ledger.consume_usage(admin, acme.id, "AI chat", 10, unit="token", description="d",
                             occurred_at=datetime(2026, 5, 31))
    with pytest.raises(InvalidInput, match="future"):
        ledger.consume_usage(admin, acme.id, "AI chat", 10, unit="token", description="d",
                             occurred_at=NOW + timedelta(hours=1))
    assert ledger.wallet(admin, acme.id).balance == 100


def test_consume_usage_keeps_every_rule_of_consume(ledger: Ledger, people) -> None:
    admin, alice, bob, acme = people["admin"], people["alice"], people["bob"], people["acme"]
    ledger.set_price(admin, "*", "token", "0.00004", effective_from=date(2026, 1, 1))

    def use(who, quantity, key=None):  # type: ignore[no-untyped-def]
        return ledger.consume_usage(who, acme.id, "AI chat", quantity, unit="token",
                                    description="chat", idempotency_key=key)

    with pytest.raises(InsufficientCredits, match="0 en-credits"):  # blocked at zero, even for 1 token
        use(alice, 1)
    fund(ledger, admin, acme.id, "1")
    with pytest.raises(PermissionDenied):
        use(bob, 1)  # not a member of Acme
    first = use(alice, 1000, key="call-1")
    assert first.amount == Decimal("0.04")
    assert use(alice, 1000, key="call-1") == first  # the same charge again: replayed
    with pytest.raises(IdempotencyConflict):
        use(alice, 999, key="call-1")
    with pytest.raises(InsufficientCredits, match="Not enough credits"):
        use(alice, 100_000)
    ledger.set_wallet_status(admin, acme.id, "inactive")
    with pytest.raises(WalletInactive):
        use(alice, 1)
    assert ledger.wallet(admin, acme.id).balance == Decimal("0.96")
    ledger.verify()


def test_the_remainder_is_carried_per_workspace_and_feature(ledger: Ledger, people) -> None:
    """Over any sequence of events the debits of a pair sum to its exact total rounded once."""
    admin, acme, beta = people["admin"], people["acme"], people["beta"]
    for space in (acme, beta):
        fund(ledger, admin, space.id, "1000")
    ledger.set_price(admin, "*", "token", "0.0000123457", effective_from=date(2026, 1, 1))
    events = [(acme, "AI chat", 7), (acme, "Search", 13), (beta, "AI chat", 5), (acme, "AI chat", 11)] * 25
    for space, feature, tokens in events:
        ledger.consume_usage(admin, space.id, feature, tokens, unit="token", description="d")
    rate = Decimal("0.0000123457")
    for space, feature in ((acme, "AI chat"), (acme, "Search"), (beta, "AI chat")):
        exact = sum(Decimal(q) * rate for s, f, q in events if (s, f) == (space, feature))
        charged = sum(
            t.amount for t in ledger.history(admin, space.id, limit=500).items if t.feature == feature
        )
        assert charged == exact.quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
    ledger.verify()


def test_usage_in_tokens_is_priced_by_a_price_per_thousand_tokens(ledger: Ledger, people) -> None:
    """The usual rate card prices tokens per thousand; a feature reports the tokens it used.
    The debit records the quantity in the unit it was priced in, exactly."""
    admin, acme = people["admin"], people["acme"]
    fund(ledger, admin, acme.id, "1000")
    ledger.set_price(admin, "AI chat", "1k_tokens", "2", effective_from=date(2026, 1, 1))
    charged = ledger.consume_usage(admin, acme.id, "AI chat", 1500, unit="token", description="d",
                                   idempotency_key="call-1")
    assert (charged.amount, charged.quantity, charged.unit, charged.rate) == (
        Decimal("3.0000"), Decimal("1.5"), "1k_tokens", Decimal(2))
    again = ledger.consume_usage(admin, acme.id, "AI chat", 1500, unit="token", description="d",
                                 idempotency_key="call-1")
    assert again.id == charged.id  # the same charge: the key replays it
    with pytest.raises(InvalidAmount, match="too fine"):
        ledger.consume_usage(admin, acme.id, "AI chat", "0.000001", unit="token", description="d")
    assert ledger.wallet(admin, acme.id).balance == Decimal("997.0000")
    ledger.set_price(admin, "AI chat", "token", "0.001", effective_from=NOW - timedelta(hours=1))
    newer = ledger.consume_usage(admin, acme.id, "AI chat", 1500, unit="token", description="d")
    assert (newer.amount, newer.quantity, newer.unit) == (Decimal("1.5000"), Decimal(1500), "token")
    with pytest.raises(NoPrice, match="Search in 1k_tokens or token at"):
        ledger.consume_usage(admin, acme.id, "Search", 10, unit="1k_tokens", description="d")
    ledger.verify()


def test_verify_finds_a_carried_remainder_that_no_longer_adds_up(ledger: Ledger, people) -> None:
    """The remainder table is state beside the journal: verify() recomputes each pair's exact
    total from its usage entries and checks that debits plus remainder still equal it."""
    admin, acme = people["admin"], people["acme"]
    fund(ledger, admin, acme.id, "1000")
    ledger.set_price(admin, "*", "token", "0.0000123457", effective_from=date(2026, 1, 1))
    for tokens in (7, 13, 11):
        ledger.consume_usage(admin, acme.id, "AI chat", tokens, unit="token", description="d")
    ledger.verify()
    with ledger.db.writing() as cur:  # a remainder nudged by a hundred-millionth of a credit
        cur.execute("UPDATE usage_remainders SET remainder = remainder + 0.00000001 "
                    "WHERE workspace_id = ?", [acme.id])
    with pytest.raises(LedgerCorrupt, match=r"remainder it carries do not add up .*ids: " + str(acme.id)):
        ledger.verify()


def test_concurrent_usage_is_group_committed_and_loses_no_fraction(ledger: Ledger, people) -> None:
    admin, acme = people["admin"], people["acme"]
    fund(ledger, admin, acme.id, "1000")
    ledger.set_price(admin, "*", "usd", "100", effective_from=date(2026, 1, 1))
    spends = [Decimal("0.00001234") + Decimal(i) * Decimal("0.00000077") for i in range(120)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda s: ledger.consume_usage(admin, acme.id, "gpt-4o", s, unit="usd",
                                                     description="call"), spends))
    charged = sum(t.amount for t in ledger.history(admin, acme.id, limit=500).items if t.feature == "gpt-4o")
    assert charged == (sum(spends) * 100).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
    ledger.verify()


def test_a_workspace_is_linked_to_one_external_id(ledger: Ledger, people) -> None:
    admin, acme, beta = people["admin"], people["acme"], people["beta"]
    assert ledger.link_workspace(admin, acme.id, " team-7f3a ") == "team-7f3a"
    assert ledger.external_id(people["alice"], acme.id) == "team-7f3a"
    with pytest.raises(InvalidInput, match="already belongs to workspace Acme"):
        ledger.link_workspace(admin, beta.id, "team-7f3a")
    with pytest.raises(PermissionDenied):
        ledger.link_workspace(people["alice"], acme.id, "mine")
    assert ledger.audit_trail(admin, limit=1)[0].action == AuditAction.WORKSPACE_LINK.value
