"""Money: en-credits are Decimal with 4 decimal places, DECIMAL(18,4) in the database."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from .errors import InvalidAmount

PLACES = 4
QUANTUM = Decimal(1).scaleb(-PLACES)  # Decimal("0.0001")
MAX_MOVEMENT = Decimal(1_000_000_000)
MAX_BALANCE = Decimal(10) ** 13
ZERO = Decimal(0).quantize(QUANTUM)

_PLAIN_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?|\.[0-9]+")


def parse_amount(value: object) -> Decimal:
    """Return `value` as a positive Decimal of credits, or raise InvalidAmount.

    Accepts a Decimal, an int, or a plain decimal string such as "12.5"
    (surrounding spaces are ignored). Refuses floats (binary fractions are not
    money), booleans, exponents, thousands separators, NaN, infinity, zero,
    negatives, more than 4 decimal places, and more than 1,000,000,000 credits.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidAmount("Enter an amount of credits, for example 100 or 12.5.")
    if isinstance(value, float):
        raise InvalidAmount("Amounts must be exact: pass a Decimal or a text such as '12.5', not a float.")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not _PLAIN_NUMBER.fullmatch(text):
            if text.startswith("-"):
                raise InvalidAmount("The amount must be greater than zero.")
            raise InvalidAmount("Enter the amount as a plain number of credits, for example 100 or 12.5.")
        try:
            number = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern already rules this out
            raise InvalidAmount("Enter the amount as a plain number of credits.") from None
    else:
        raise InvalidAmount("Enter an amount of credits, for example 100 or 12.5.")
    if not number.is_finite():
        raise InvalidAmount("The amount must be a finite number of credits.")
    if number <= 0:
        raise InvalidAmount("The amount must be greater than zero.")
    if number > MAX_MOVEMENT:
        raise InvalidAmount("The amount cannot exceed 1,000,000,000 credits in one movement.")
    if number != number.quantize(QUANTUM, rounding="ROUND_DOWN"):
        raise InvalidAmount("Amounts can have at most 4 decimal places.")
    return number.quantize(QUANTUM)


def to_decimal(value: object) -> Decimal:
    """Normalise a value read from the database (Decimal or int or None) to 4 places."""
    if value is None:
        return ZERO
    if isinstance(value, Decimal):
        return value.quantize(QUANTUM)
    if isinstance(value, int):
        return Decimal(value).quantize(QUANTUM)
    raise TypeError(f"unexpected money value from the database: {value!r}")


def format_credits(amount: Decimal, *, unit: bool = True) -> str:
    """`Decimal("1234.5")` -> `"1,234.50 en-credits"` (2 to 4 decimals shown)."""
    quantized = amount.quantize(QUANTUM)
    text = f"{quantized:,.4f}"
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")
    shown = f"{whole}.{fraction}"
    return f"{shown} en-credits" if unit else shown
