"""Pricing as pure functions: units, rates, quantities and the carried remainder."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_core import InvalidAmount, InvalidInput, Unit
from billing_core.pricing import (
    Price,
    carry,
    exact_price,
    in_unit,
    parse_quantity,
    parse_rate,
    parse_unit,
    preview,
    price_in_effect,
    quote,
)

rates = st.decimals(min_value=Decimal("0.0000000001"), max_value=Decimal(1000), places=10)
quantities = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(100_000), places=8)


@given(st.lists(st.tuples(quantities, rates), max_size=60))
def test_debits_sum_to_the_exact_priced_total_rounded_once(events: list[tuple[Decimal, Decimal]]) -> None:
    remainder = Decimal(0)
    debits = []
    for quantity, rate in events:
        debit, remainder = carry(remainder, exact_price(quantity, rate))
        assert debit == debit.quantize(Decimal("0.0001")) and debit >= 0
        assert 0 <= remainder < Decimal("0.0001")
        debits.append(debit)
    exact = sum((q * r for q, r in events), Decimal(0))
    assert sum(debits, Decimal(0)) == exact.quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
    assert sum(debits, Decimal(0)) + remainder == exact  # nothing lost, nothing invented


def test_a_token_priced_below_the_credit_precision_is_carried_not_lost() -> None:
    remainder, debits = Decimal(0), []
    for _ in range(3):
        debit, remainder = carry(remainder, exact_price(Decimal(1), Decimal("0.00004")))
        debits.append(debit)
    assert debits == [Decimal("0.0000"), Decimal("0.0000"), Decimal("0.0001")]
    assert remainder == Decimal("0.00002")


def test_rates_and_quantities_are_exact_and_bounded() -> None:
    assert parse_rate("0.002") == Decimal("0.002")
    assert parse_quantity("0.00012345") == Decimal("0.00012345")
    for bad in (0.1, "-1", "0", "1e3", "abc", True):
        with pytest.raises(InvalidAmount):
            parse_rate(bad)
    with pytest.raises(InvalidAmount, match="10 decimal"):
        parse_rate("0.00000000001")
    with pytest.raises(InvalidAmount, match="8 decimal"):
        parse_quantity("0.000000001")
    with pytest.raises(InvalidAmount, match="1,000,000"):
        parse_rate("1000001")


def test_units_are_the_six_of_the_rate_card() -> None:
    assert [u.value for u in Unit] == ["request", "token", "1k_tokens", "image", "second", "usd"]
    assert parse_unit(" usd ") is Unit.USD
    with pytest.raises(InvalidInput, match="not a unit"):
        parse_unit("tokens")


def test_the_feature_price_wins_over_the_default_and_the_latest_in_effect_applies() -> None:
    def price(i: int, feature: str, rate: str, day: int) -> Price:
        at = datetime(2026, 1, day)
        return Price(i, feature, Unit.TOKEN, Decimal(rate), at, 1, at)

    card = [price(1, "*", "1", 1), price(2, "AI chat", "2", 10), price(3, "AI chat", "3", 20)]
    assert price_in_effect(card, "AI chat", Unit.TOKEN, datetime(2026, 1, 5)) == card[0]
    assert price_in_effect(card, "AI chat", Unit.TOKEN, datetime(2026, 1, 15)) == card[1]
    assert price_in_effect(card, "AI chat", Unit.TOKEN, datetime(2026, 1, 25)) == card[2]
    assert price_in_effect(card, "Images", Unit.TOKEN, datetime(2026, 1, 25)) == card[0]
    assert price_in_effect(card, "AI chat", Unit.IMAGE, datetime(2026, 1, 25)) is None


def test_the_preview_reads_as_a_sentence() -> None:
    text = preview(Decimal(1000), Unit.TOKEN, "AI chat", Decimal("0.002"))
    assert text == "1,000 tokens of AI chat cost 2.00 credits"


def test_tokens_and_thousand_tokens_convert_exactly_or_not_at_all() -> None:
    assert in_unit(Decimal(1500), Unit.TOKEN, Unit.THOUSAND_TOKENS) == Decimal("1.5")
    assert in_unit(Decimal("0.25"), Unit.THOUSAND_TOKENS, Unit.TOKEN) == Decimal(250)
    assert in_unit(Decimal("1.00001"), Unit.TOKEN, Unit.THOUSAND_TOKENS) == Decimal("0.00100001")
    assert in_unit(Decimal(7), Unit.USD, Unit.USD) == Decimal(7)
    with pytest.raises(InvalidAmount, match="too fine to price per 1k_tokens"):
        in_unit(Decimal("1.000001"), Unit.TOKEN, Unit.THOUSAND_TOKENS)
    with pytest.raises(InvalidAmount, match="1,000,000,000,000 tokens"):
        in_unit(Decimal(10) ** 10, Unit.THOUSAND_TOKENS, Unit.TOKEN)
    with pytest.raises(InvalidInput, match="cannot be priced per usd"):
        in_unit(Decimal(1), Unit.TOKEN, Unit.USD)


@given(st.integers(min_value=1, max_value=10**9), rates)
def test_tokens_cost_the_same_by_either_price(tokens: int, per_thousand: Decimal) -> None:
    """A price per thousand tokens and the same price per token (when it fits 10 decimals)
    charge a number of tokens alike."""
    per_token = per_thousand / 1000
    if per_token != per_token.quantize(Decimal("1e-10")):
        return
    by_thousands = exact_price(in_unit(Decimal(tokens), Unit.TOKEN, Unit.THOUSAND_TOKENS), per_thousand)
    assert by_thousands == exact_price(Decimal(tokens), per_token)


def test_usage_in_tokens_is_priced_by_a_price_per_thousand_tokens_and_the_latest_wins() -> None:
    def price(i: int, unit: Unit, rate: str, day: int, feature: str = "AI chat") -> Price:
        at = datetime(2026, 1, day)
        return Price(i, feature, unit, Decimal(rate), at, 1, at)

    card = [price(1, Unit.THOUSAND_TOKENS, "2", 1), price(2, Unit.TOKEN, "0.003", 10),
            price(3, Unit.THOUSAND_TOKENS, "4", 10), price(4, Unit.USD, "100", 1, "*")]
    assert price_in_effect(card, "AI chat", Unit.TOKEN, datetime(2026, 1, 5)) == card[0]
    # the newest price wins whatever its unit; of two from the same time, the usage's own unit
    assert price_in_effect(card, "AI chat", Unit.TOKEN, datetime(2026, 1, 15)) == card[1]
    assert price_in_effect(card, "AI chat", Unit.THOUSAND_TOKENS, datetime(2026, 1, 15)) == card[2]
    assert price_in_effect(card, "AI chat", Unit.USD, datetime(2026, 1, 15)) == card[3]
    assert quote(card, "AI chat", Decimal(1500), Unit.TOKEN, datetime(2026, 1, 5)) == Decimal("3.0000")
    assert quote(card, "AI chat", Decimal(1500), Unit.TOKEN, datetime(2026, 1, 15)) == Decimal("4.5000")
    assert quote(card, "Search", Decimal(1), Unit.IMAGE, datetime(2026, 1, 15)) is None
