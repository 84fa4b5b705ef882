"""Pricing usage into credits: units, rates and the carried remainder, as pure functions.

A rate is credits per unit (at most 10 decimals, at most 1,000,000); a quantity is a
positive number of units (at most 8 decimals, at most 10^12). Their product is exact
(18 decimals). Credits keep 4 decimals: each event of a (workspace, feature) pair is
debited the exact price plus the pair's carried remainder, rounded down to 0.0001;
what is left (under 0.0001) is carried to the pair's next event. Over any sequence of
events the debits therefore sum to the exact total rounded down once, and nothing is
lost or invented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Context, Decimal
from enum import StrEnum

from .errors import InvalidAmount, InvalidInput
from .money import MAX_MOVEMENT, QUANTUM

ANY_FEATURE = "*"  # the default price, for features without their own
RATE_PLACES = 10
QUANTITY_PLACES = 8
EXACT_PLACES = RATE_PLACES + QUANTITY_PLACES  # a product of the two is exact at 18 decimals
MAX_RATE = Decimal(1_000_000)
MAX_QUANTITY = Decimal(10) ** 12
RATE_QUANTUM = Decimal(1).scaleb(-RATE_PLACES)
QUANTITY_QUANTUM = Decimal(1).scaleb(-QUANTITY_PLACES)
EXACT_QUANTUM = Decimal(1).scaleb(-EXACT_PLACES)
_EXACT = Context(prec=60)  # wide enough that no product or sum here is ever rounded
_PLAIN = re.compile(r"[0-9]+(\.[0-9]+)?|\.[0-9]+")


class Unit(StrEnum):
    """What usage is counted in."""

    REQUEST = "request"
    TOKEN = "token"
    THOUSAND_TOKENS = "1k_tokens"
    IMAGE = "image"
    SECOND = "second"
    USD = "usd"  # the provider's cost in US dollars (a gateway's spend)

    @property
    def label(self) -> str:
        """How a quantity of it reads: "1,000 tokens", "3 requests"."""
        return _LABELS[self]


_LABELS = {
    Unit.REQUEST: "requests",
    Unit.TOKEN: "tokens",
    Unit.THOUSAND_TOKENS: "thousand tokens",
    Unit.IMAGE: "images",
    Unit.SECOND: "seconds",
    Unit.USD: "USD",
}


@dataclass(frozen=True, slots=True)
class Price:
    """One row of the rate card: from `effective_from` on, `feature` costs
    `credits_per_unit` per `unit` (until a later row for the same feature and unit)."""

    id: int
    feature: str
    unit: Unit
    credits_per_unit: Decimal
    effective_from: datetime
    created_by: int
    created_at: datetime


def parse_unit(value: object) -> Unit:
    try:
        return Unit(str(value).strip())
    except ValueError:
        names = ", ".join(u.value for u in Unit)
        raise InvalidInput(f"{value!s} is not a unit; use one of {names}.") from None


def _plain(value: object, what: str) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidAmount(
            f"The {what} must be exact: pass a Decimal or a text such as '0.002', not a float."
        )
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str) and _PLAIN.fullmatch(value.strip()):
        number = Decimal(value.strip())
    else:
        raise InvalidAmount(f"Enter the {what} as a plain positive number, for example 0.002 or 15.")
    if not number.is_finite() or number <= 0:
        raise InvalidAmount(f"The {what} must be greater than zero.")
    return number


def parse_rate(value: object) -> Decimal:
    """Credits per unit: positive, at most 1,000,000, at most 10 decimals."""
    rate = _plain(value, "price")
    if rate > MAX_RATE:
        raise InvalidAmount("A price cannot exceed 1,000,000 credits per unit.")
    if rate != rate.quantize(RATE_QUANTUM, rounding=ROUND_DOWN):
        raise InvalidAmount("A price can have at most 10 decimal places.")
    return rate.quantize(RATE_QUANTUM)


def parse_quantity(value: object) -> Decimal:
    """Units used: positive, at most 10^12, at most 8 decimals."""
    quantity = _plain(value, "quantity")
    if quantity > MAX_QUANTITY:
        raise InvalidAmount("A quantity cannot exceed 1,000,000,000,000 units in one event.")
    if quantity != quantity.quantize(QUANTITY_QUANTUM, rounding=ROUND_DOWN):
        raise InvalidAmount("A quantity can have at most 8 decimal places.")
    return quantity.quantize(QUANTITY_QUANTUM)


# Units that are one another at a fixed ratio: usage counted in one is priced by a price
# in the other, its quantity converted exactly (1,500 tokens are 1.5 thousand tokens).
_TWINS = {
    Unit.TOKEN: (Unit.THOUSAND_TOKENS, Decimal("0.001")),
    Unit.THOUSAND_TOKENS: (Unit.TOKEN, Decimal(1000)),
}


def twin_of(unit: Unit) -> tuple[Unit, Decimal]:
    """The unit whose prices also price usage counted in `unit`, and how many of it one
    `unit` is (`unit` itself and 1 when it has no twin)."""
    return _TWINS.get(unit, (unit, Decimal(1)))


def priced_by(unit: Unit) -> tuple[Unit, ...]:
    """The units whose prices can price usage counted in `unit`: itself, then its twin."""
    twin, _ = twin_of(unit)
    return (unit,) if twin is unit else (unit, twin)


def in_unit(quantity: Decimal, given: Unit, wanted: Unit) -> Decimal:
    """`quantity` of `given` units expressed in `wanted` units (itself or its twin), exactly;
    InvalidAmount when that needs more than 8 decimals or exceeds 10^12 units."""
    if wanted is given:
        return quantity
    twin, factor = twin_of(given)
    if twin is not wanted:
        raise InvalidInput(f"Usage in {given.label} cannot be priced per {wanted.value}.")
    converted = _EXACT.multiply(quantity, factor)
    if converted != converted.quantize(QUANTITY_QUANTUM, rounding=ROUND_DOWN, context=_EXACT):
        raise InvalidAmount(
            f"{quantity_label(quantity, given)} is too fine to price per {wanted.value}: "
            f"at most {QUANTITY_PLACES - 3} decimal places."
        )
    if converted > MAX_QUANTITY:
        raise InvalidAmount(f"A quantity cannot exceed 1,000,000,000,000 {wanted.label} in one event.")
    return converted.quantize(QUANTITY_QUANTUM, context=_EXACT)


def exact_price(quantity: Decimal, rate: Decimal) -> Decimal:
    """quantity x rate, exactly (18 decimals)."""
    return _EXACT.multiply(quantity, rate).quantize(EXACT_QUANTUM, context=_EXACT)


def carry(remainder: Decimal, exact: Decimal) -> tuple[Decimal, Decimal]:
    """(the debit, the new remainder): the exact price plus the carried remainder, rounded
    down to 0.0001 credit, and what is left below it."""
    owed = _EXACT.add(remainder, exact)
    debit = owed.quantize(QUANTUM, rounding=ROUND_DOWN, context=_EXACT)
    return debit, _EXACT.subtract(owed, debit).quantize(EXACT_QUANTUM, context=_EXACT)


def check_priced(exact: Decimal) -> None:
    if exact > MAX_MOVEMENT:
        raise InvalidAmount("That usage costs more than 1,000,000,000 credits in one movement.")


def price_in_effect(prices: list[Price], feature: str, unit: Unit, at: datetime) -> Price | None:
    """The price in effect at `at` for usage counted in `unit`: the feature's own, else the
    default ("*"); of each, the latest to take effect in `unit` or its twin (`priced_by`),
    `unit` itself on a tie. The SQL twin of this is prices.price_in_effect."""
    units = priced_by(unit)
    for wanted in (feature, ANY_FEATURE):
        rows = [p for p in prices if p.feature == wanted and p.unit in units and p.effective_from <= at]
        if rows:
            return max(rows, key=lambda p: (p.effective_from, p.unit is unit, p.id))
    return None


def quote(prices: list[Price], feature: str, quantity: Decimal, unit: Unit, at: datetime) -> Decimal | None:
    """What `quantity` of `unit` of `feature` costs at `at` by the rate card `prices`, with
    no remainder carried (None: no price)."""
    price = price_in_effect(prices, feature, unit, at)
    if price is None:
        return None
    return carry(Decimal(0), exact_price(in_unit(quantity, unit, price.unit), price.credits_per_unit))[0]


def quantity_label(quantity: Decimal, unit: Unit) -> str:
    """`1000, Unit.TOKEN` -> "1,000 tokens"; `0.00123, Unit.USD` -> "0.00123 USD"."""
    return f"{quantity.normalize():,f} {unit.label}"


def preview(quantity: Decimal, unit: Unit, feature: str, rate: Decimal) -> str:
    """"1,000 tokens of AI chat cost 2.00 credits" (the price, rounded down to 0.0001)."""
    credits, _ = carry(Decimal(0), exact_price(quantity, rate))
    return f"{quantity_label(quantity, unit)} of {feature} cost {_credits(credits)} credits"


def _credits(amount: Decimal) -> str:
    whole, _, fraction = f"{amount:,.4f}".partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"
