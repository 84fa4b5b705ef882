"""Money: en-credits are Decimal with 4 decimal places, DECIMAL(18,4) in the database."""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal
from enum import Enum

from .errors import InvalidAmount

PLACES = 4
QUANTUM = Decimal(1).scaleb(-PLACES)  # Decimal("0.0001")
MAX_MOVEMENT = Decimal(1_000_000_000)
MAX_BALANCE = Decimal(10) ** 13
ZERO = Decimal(0).quantize(QUANTUM)

PLAIN_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?|\.[0-9]+")  # digits, one optional point: no sign, no exponent


class AmountProblem(Enum):
    """Why a value is not an amount of credits: a short reason (bulk ingest's rejects
    file) and a sentence (the InvalidAmount a caller sees). The one list of amount rules;
    parse_amount and ingest both go by it."""

    MISSING = ("amount missing", "Enter an amount of credits, for example 100 or 12.5.")
    FLOAT = (
        "amount is a float, which is not exact; give it as text or a Decimal",
        "Amounts must be exact: pass a Decimal or a text such as '12.5', not a float.",
    )
    NOT_NUMBER = (
        "amount is not a plain number",
        "Enter the amount as a plain number of credits, for example 100 or 12.5.",
    )
    NOT_FINITE = ("amount is not a finite number", "The amount must be a finite number of credits.")
    NOT_POSITIVE = ("amount must be greater than zero", "The amount must be greater than zero.")
    TOO_BIG = (
        "amount is over 1,000,000,000 credits",
        "The amount cannot exceed 1,000,000,000 credits in one movement.",
    )
    TOO_PRECISE = ("amount has more than 4 decimal places", "Amounts can have at most 4 decimal places.")

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message


def _is_float(value: object) -> bool:
    return isinstance(value, float) or type(value).__name__.startswith("float")  # Python or numpy


def _is_integer(value: object) -> bool:
    return isinstance(value, int) or type(value).__name__.startswith(("int", "uint"))  # Python or numpy


def classify_amount(value: object) -> tuple[Decimal | None, AmountProblem | None]:
    """(the amount as a 4-place Decimal, None), or (None, why it is not one).

    An amount is a Decimal, an integer, or a plain decimal text such as "12.5"
    (surrounding spaces ignored): positive, at most 1,000,000,000, at most 4 decimal
    places. Floats (binary fractions are not money), booleans, exponents, thousands
    separators, NaN and infinity are refused. A missing value (None, NaN, empty text)
    is MISSING.
    """
    if value is None or (_is_float(value) and value != value):  # None, or a missing float cell
        return None, AmountProblem.MISSING
    if isinstance(value, bool):
        return None, AmountProblem.NOT_NUMBER
    if _is_float(value):
        return None, AmountProblem.FLOAT
    if isinstance(value, Decimal):
        number = value
    elif _is_integer(value):
        number = Decimal(int(str(value)))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None, AmountProblem.MISSING
        if not PLAIN_NUMBER.fullmatch(text):
            return None, AmountProblem.NOT_POSITIVE if text.startswith("-") else AmountProblem.NOT_NUMBER
        number = Decimal(text)
    else:
        return None, AmountProblem.NOT_NUMBER
    if not number.is_finite():
        return None, AmountProblem.NOT_FINITE
    if number <= 0:
        return None, AmountProblem.NOT_POSITIVE
    if number > MAX_MOVEMENT:
        return None, AmountProblem.TOO_BIG
    if number != number.quantize(QUANTUM, rounding=ROUND_DOWN):
        return None, AmountProblem.TOO_PRECISE
    return number.quantize(QUANTUM), None


def parse_amount(value: object) -> Decimal:
    """`value` as a positive Decimal of credits (see `classify_amount`), or InvalidAmount."""
    amount, problem = classify_amount(value)
    if problem is not None:
        raise InvalidAmount(problem.message)
    assert amount is not None
    return amount


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
