from decimal import Decimal

import pytest

from billing_core import InvalidAmount, format_credits, parse_amount


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "1.0000"),
        ("12.5", "12.5000"),
        (" 12 ", "12.0000"),
        (Decimal("0.0001"), "0.0001"),
        ("1000000000", "1000000000.0000"),
        (".5", "0.5000"),
    ],
)
def test_valid_amounts_become_four_place_decimals(value: object, expected: str) -> None:
    assert parse_amount(value) == Decimal(expected)
    assert str(parse_amount(value)) == expected


@pytest.mark.parametrize(
    "value",
    [
        0,
        -1,
        "0",
        "-1",
        "-0.5",
        1.5,
        float("nan"),
        float("inf"),
        float("-inf"),
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        None,
        True,
        False,
        "0.00001",
        Decimal("0.00001"),
        2**63,
        "1e30",
        10**30,
        "1e3",
        "abc",
        "1,000",
        "",
        "   ",
        "12.5.1",
        "+5",
        "0x10",
        "١٢",
        "1_000",
        [],
        {},
        "1000000000.0001",
    ],
)
def test_bad_amounts_are_refused_with_a_readable_message(value: object) -> None:
    with pytest.raises(InvalidAmount) as info:
        parse_amount(value)
    message = str(info.value)
    assert message and message[0].isupper() and message.endswith(".")


def test_float_message_explains_why() -> None:
    with pytest.raises(InvalidAmount, match="float"):
        parse_amount(0.1)


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("1234.5", "1,234.50 en-credits"),
        ("0", "0.00 en-credits"),
        ("0.0001", "0.0001 en-credits"),
        ("1000000", "1,000,000.00 en-credits"),
        ("12.345", "12.345 en-credits"),
    ],
)
def test_format_credits(amount: str, text: str) -> None:
    assert format_credits(Decimal(amount)) == text
