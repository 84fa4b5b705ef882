"""Usage events as one Arrow table of a fixed schema (`EVENTS_SCHEMA`), nothing decided yet.

Typed columns are converted with Arrow compute; only a pandas object column of mixed
values (and the odd amount text Arrow cannot parse alone) is looked at in Python. The
amount rules are money.py's (`classify_amount`, `AmountProblem`).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InvalidAmount, InvalidInput
from ..money import MAX_MOVEMENT, PLACES, AmountProblem, classify_amount

REQUIRED_COLUMNS = ("workspace", "amount", "feature", "description", "occurred_at")
# Usage priced by the rate card (`unit` given): a quantity instead of an amount; the
# description is optional (USAGE_DESCRIPTION when absent).
PRICED_COLUMNS = ("workspace", "quantity", "feature", "occurred_at")
USAGE_DESCRIPTION = "Metered usage"
KEY_COLUMN = "idempotency_key"
QUANTITY = pa.decimal128(20, 8)
# A plain quantity Arrow parses alone: up to 12 digits, up to 8 decimals.
_SIMPLE_QUANTITY = r"^(?:[0-9]{1,12}(?:\.[0-9]{1,8})?|\.[0-9]{1,8})$"
FLOAT_COLUMN = (
    "The amount column holds floating-point numbers, which are not exact money: "
    "give amounts as text (such as '12.5'), integers or Decimals."
)
MONEY = pa.decimal128(18, 4)
# The common case, parsed by Arrow alone: at most 10 digits, at most 4 decimals, no spaces.
_SIMPLE = r"^(?:[0-9]{1,10}(?:\.[0-9]{1,4})?|\.[0-9]{1,4})$"
# What Python's str.strip() removes, so text is cleaned exactly as `consume` cleans it.
SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
EVENTS_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("ws_int", pa.int64()),
        ("ws_text", pa.string()),
        ("amount", MONEY),
        ("amount_note", pa.string()),  # why the amount is refused, when it is
        ("amount_text", pa.string()),  # the amount as given, when it was text or is refused
        ("text_note", pa.string()),  # a feature, description or key that is not valid text
        ("feature", pa.string()),
        ("description", pa.string()),
        ("key", pa.string()),
        ("occurred", pa.timestamp("us")),
        ("occurred_text", pa.string()),
        ("quantity", QUANTITY),  # priced usage only
    ]
)


def normalize(events: object, *, priced: bool = False) -> pa.Table:
    """The events as one Arrow table of fixed schema (`EVENTS_SCHEMA`); nothing decided yet.

    Typed columns are converted with Arrow compute; only a pandas object column
    of mixed values (and the odd amount text Arrow cannot parse alone) is looked
    at in Python. A floating-point amount column is refused as a whole
    (InvalidAmount); a float among mixed values is refused for its row.
    """
    columns = _columns(events, priced=priced)
    n = len(columns["workspace"])
    ws_int, ws_text = _workspace(columns["workspace"])
    quantity = pa.nulls(n, QUANTITY)
    if priced:
        quantity, note, amount_text = _quantity(columns["quantity"])
        amount = pa.nulls(n, MONEY)
        if "description" not in columns:
            columns["description"] = pa.repeat(pa.scalar(USAGE_DESCRIPTION), n)
    else:
        amount, note, amount_text = _amount(columns["amount"])
    occurred, occurred_text = _occurred_at(columns["occurred_at"])
    feature, bad_feature = _text(columns["feature"])
    hidden_feature = _with_hidden_characters(feature) - bad_feature
    description, bad_description = _text(columns["description"])
    key, bad_key = _text(columns[KEY_COLUMN]) if KEY_COLUMN in columns else (pa.nulls(n, pa.string()), set())
    text_note: list[str | None] = [None] * n
    for what, bad in (
        ("idempotency key", bad_key),
        ("description", bad_description),
        ("feature", bad_feature),
    ):
        for row in bad:  # in `consume`'s order: the feature's problem is reported first
            text_note[row] = f"{what} contains characters that are not valid text"
    for row in hidden_feature:  # a name, as `consume` refuses it (billing_core.text.clean_name)
        text_note[row] = "feature contains invisible or text-direction characters"
    return pa.table(
        [
            pa.array(np.arange(n, dtype=np.int64)),
            ws_int,
            ws_text,
            amount,
            note,
            amount_text,
            pa.array(text_note, pa.string())
            if bad_feature or bad_description or bad_key or hidden_feature
            else pa.nulls(n, pa.string()),
            feature,
            description,
            key,
            occurred,
            occurred_text,
            quantity,
        ],
        schema=EVENTS_SCHEMA,
    )


def _columns(events: object, *, priced: bool = False) -> dict[str, Any]:
    """name -> a pandas Series or an Arrow (chunked) array, for the columns we read."""
    if isinstance(events, pd.DataFrame):
        names = [str(c) for c in events.columns]
        frame = events

        def get(name: str) -> Any:
            return frame[name]
    elif isinstance(events, pa.Table | pa.RecordBatch):
        names = list(events.schema.names)
        table = events

        def get(name: str) -> Any:
            return table.column(name)
    else:
        raise InvalidInput("Give the usage events as a pandas DataFrame or an Arrow table.")
    if len(set(names)) != len(names):
        raise InvalidInput("The events have two columns of the same name.")
    present = set(names)
    required = PRICED_COLUMNS if priced else REQUIRED_COLUMNS
    wanted = list(required)
    if "workspace" not in present and "workspace_id" in present:
        wanted[0] = "workspace_id"
    missing = [c for c in wanted if c not in present]
    if missing:
        raise InvalidInput(
            f"The events lack the column(s) {', '.join(missing)}; expected "
            f"{', '.join(required)} (workspace may be named workspace_id) "
            f"and optionally {KEY_COLUMN}."
        )
    columns = {name: get(actual) for name, actual in zip(required, wanted, strict=True)}
    for optional in (KEY_COLUMN, "description"):
        if optional in present and optional not in columns:
            columns[optional] = get(optional)
    return columns


def _arrow(values: Any) -> Any:
    """An Arrow array or chunked array of `values` (dictionaries decoded, text as string),
    or None for a pandas object column that mixes kinds of values Arrow cannot hold in one type."""
    if isinstance(values, pd.Series):
        try:
            array = pa.array(values, from_pandas=True)
        except (pa.ArrowException, OverflowError, UnicodeEncodeError):
            return None
    else:
        array = values
    if pa.types.is_dictionary(array.type):
        array = pc.cast(array, array.type.value_type)
    if pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        array = pc.cast(array, pa.string())
    return array


def whole(array: Any) -> Any:
    """One contiguous array (for the few compute functions that take no chunked arrays)."""
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _cells(values: Any) -> list[Any]:
    if isinstance(values, pd.Series):
        return list(values.array)
    return list(_arrow(values).to_pylist())


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _shown(value: object) -> str:
    """`value` as text that can be stored (lone surrogates escaped), to report it."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def _text(values: Any) -> tuple[Any, set[int]]:
    """(texts, rows whose text cannot be stored): text as given, other values as text."""
    array = _arrow(values)
    if array is not None:
        if pa.types.is_string(array.type):
            return array, set()
        try:
            return pc.cast(array, pa.string()), set()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    texts: list[str | None] = []
    bad: set[int] = set()
    for row, v in enumerate(_cells(values)):
        text = None if _missing(v) else str(v)
        if text is not None and _shown(text) != text:
            bad.add(row)
            text = _shown(text)
        texts.append(text)
    return pa.array(texts, pa.string()), bad


_HIDDEN = r"[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]"  # billing_core.text.is_hidden, in RE2


def _with_hidden_characters(texts: Any) -> set[int]:
    """Rows whose text, stripped as `consume` strips it, still holds a hidden character."""
    trimmed = pc.utf8_trim(texts, characters=SPACE)
    hidden = pc.match_substring_regex(trimmed, _HIDDEN)
    nul = pc.match_substring(trimmed, "\x00")  # refused for that first, as `consume` does
    found = pc.fill_null(pc.and_(hidden, pc.invert(nul)), False)
    if not pc.any(found).as_py():
        return set()
    return {int(i) for i in np.flatnonzero(found.to_numpy(zero_copy_only=False))}


def _workspace(values: Any) -> tuple[Any, Any]:
    """(ids, texts): integer ids as they are; text (an id or a name) for the SQL to resolve."""
    array = _arrow(values)
    n = len(values)
    if array is not None:
        kind = array.type
        if pa.types.is_integer(kind):
            try:
                return pc.cast(array, pa.int64()), pa.nulls(n, pa.string())
            except pa.ArrowInvalid:  # a uint64 beyond int64: no such workspace
                return pa.nulls(n, pa.int64()), pc.cast(array, pa.string())
        if pa.types.is_floating(kind):  # integer ids read with gaps become floats in pandas
            whole = pc.fill_null(pc.equal(pc.floor(array), array), False)
            whole = pc.and_(whole, pc.fill_null(pc.less(pc.abs(array), 2.0**53), False))
            whole_ids = pc.cast(pc.if_else(whole, array, 0.0), pa.int64())
            text = pc.cast(array, pa.string())
            return (
                pc.if_else(whole, whole_ids, pa.scalar(None, pa.int64())),
                pc.if_else(whole, pa.scalar(None, pa.string()), text),
            )
        if pa.types.is_null(kind):
            return pa.nulls(n, pa.int64()), pa.nulls(n, pa.string())
        if pa.types.is_string(kind):
            return pa.nulls(n, pa.int64()), array
    ids: list[int | None] = []
    texts: list[str | None] = []
    for v in _cells(values):
        is_id = isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63
        ids.append(int(v) if is_id else None)
        texts.append(None if is_id or _missing(v) else _shown(v))
    return pa.array(ids, pa.int64()), pa.array(texts, pa.string())


def _amount(values: Any) -> tuple[Any, Any, Any]:
    """(amounts, notes, texts): the exact DECIMAL(18,4) amount of each valid row; the
    reason for each refused one; the amount as given where it was text or is refused."""
    array = _arrow(values)
    n = len(values)
    if array is not None:
        kind = array.type
        if pa.types.is_floating(kind):
            if array.null_count == n:  # an empty column pandas typed as float
                return _amount_cells([None] * n)
            raise InvalidAmount(FLOAT_COLUMN)
        if pa.types.is_string(kind):
            return _amount_from_text(array)
        if pa.types.is_null(kind):
            return _amount_cells([None] * n)
        if pa.types.is_integer(kind) or pa.types.is_decimal128(kind):
            return _amount_from_numbers(array)
    return _amount_cells(_cells(values))


def _amount_cells(cells: list[Any]) -> tuple[Any, Any, Any]:
    pairs = [(None, AmountProblem.MISSING) if _missing(v) else classify_amount(v) for v in cells]
    return (
        pa.array([a for a, _ in pairs], MONEY),
        pa.array([p.reason if p else None for _, p in pairs], pa.string()),
        pa.array(
            [None if _missing(v) else _shown(v) for v in cells],
            pa.string(),
        ),
    )


def _amount_from_text(array: Any) -> tuple[Any, Any, Any]:
    """Arrow parses the common shape (digits, up to 4 decimals); the rest goes cell by cell."""
    simple = pc.fill_null(pc.match_substring_regex(array, _SIMPLE), False)
    all_simple = pc.all(simple).as_py()
    parsed = pc.cast(array if all_simple else pc.if_else(simple, array, "0"), MONEY)
    positive = pc.greater(parsed, pa.scalar(Decimal(0), MONEY))
    ok = pc.and_(simple, pc.and_(positive, pc.less_equal(parsed, pa.scalar(MAX_MOVEMENT, MONEY))))
    if all_simple and pc.all(ok).as_py():  # the common case: every amount is good
        return parsed, pa.nulls(len(array), pa.string()), array
    amount = pc.if_else(ok, parsed, pa.scalar(None, MONEY))
    note = pc.if_else(
        simple,
        pc.if_else(
            positive,
            pc.if_else(ok, pa.scalar(None, pa.string()), AmountProblem.TOO_BIG.reason),
            AmountProblem.NOT_POSITIVE.reason,
        ),
        pa.scalar(None, pa.string()),
    )
    rest = pc.invert(simple)
    if pc.any(rest).as_py():
        rest_amount, rest_note, _ = _amount_cells(array.filter(rest).to_pylist())
        rest = whole(rest)
        amount = pc.replace_with_mask(whole(amount), rest, rest_amount)
        note = pc.replace_with_mask(whole(note), rest, rest_note)
    return amount, note, array


def _amount_from_numbers(array: Any) -> tuple[Any, Any, Any]:
    """Integers and decimals: compared and rescaled by Arrow, never through float."""
    if pa.types.is_integer(array.type):  # as a decimal, which Arrow rescales checking values
        array = pc.cast(array, pa.decimal128(20, 0))  # every 64-bit integer fits
    kind = array.type
    zero = pa.scalar(Decimal(0), kind)
    limit = pa.scalar(MAX_MOVEMENT)
    exact = array
    too_precise = None
    if pa.types.is_decimal(kind) and kind.scale > PLACES:
        exact = pc.round(array, ndigits=PLACES, round_mode="towards_zero")
        too_precise = pc.not_equal(exact, array)
    not_positive = pc.less_equal(array, zero)
    too_big = pc.greater(array, limit)
    refused = (
        pc.or_(not_positive, too_big)
        if too_precise is None
        else pc.or_(pc.or_(not_positive, too_big), too_precise)
    )
    refused = pc.fill_null(refused, True)  # a missing amount is refused too
    if not pc.any(refused).as_py():  # the common case: every amount is good
        return pc.cast(array, MONEY), pa.nulls(len(array), pa.string()), pa.nulls(len(array), pa.string())
    # in parse_amount's order: missing, not positive, too big, too precise
    note = pa.nulls(len(array), pa.string())
    if too_precise is not None:
        note = pc.if_else(too_precise, AmountProblem.TOO_PRECISE.reason, note)
    note = pc.if_else(too_big, AmountProblem.TOO_BIG.reason, note)
    note = pc.if_else(not_positive, AmountProblem.NOT_POSITIVE.reason, note)
    note = pc.if_else(pc.is_null(array), AmountProblem.MISSING.reason, note)
    amount = pc.if_else(refused, pa.scalar(None, MONEY), pc.cast(pc.if_else(refused, zero, exact), MONEY))
    given = whole(pc.and_(refused, pc.is_valid(array)))
    text = pc.replace_with_mask(
        pa.nulls(len(array), pa.string()), given, pc.cast(whole(array).filter(given), pa.string())
    )
    return amount, note, text


def _occurred_at(values: Any) -> tuple[Any, Any]:
    """(times, texts): naive UTC timestamps, and text for the SQL to parse."""
    array = _arrow(values)
    n = len(values)
    if array is not None:
        kind = array.type
        if pa.types.is_timestamp(kind):
            if kind.tz is not None:  # an aware time: its instant, as naive UTC
                array = pc.cast(array, pa.timestamp(kind.unit, tz="UTC")).cast(pa.timestamp(kind.unit))
            return pc.cast(array, pa.timestamp("us"), safe=False), pa.nulls(n, pa.string())
        if pa.types.is_date(kind):
            return pc.cast(array, pa.timestamp("us")), pa.nulls(n, pa.string())
        if pa.types.is_null(kind):
            return pa.nulls(n, pa.timestamp("us")), pa.nulls(n, pa.string())
        if pa.types.is_string(kind):
            return pa.nulls(n, pa.timestamp("us")), array
    times: list[datetime | None] = []
    texts: list[str | None] = []
    for v in _cells(values):
        if isinstance(v, datetime):
            moment = v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo is not None else v
            times.append(pd.Timestamp(moment).to_pydatetime(warn=False))
            texts.append(None)
        elif isinstance(v, date):
            times.append(datetime(v.year, v.month, v.day))
            texts.append(None)
        else:
            times.append(None)
            texts.append(None if _missing(v) else _shown(v))
    return pa.array(times, pa.timestamp("us")), pa.array(texts, pa.string())


def _quantity(values: Any) -> tuple[Any, Any, Any]:
    """(quantities, notes, texts) of priced usage: a plain positive number of units (at most
    8 decimals; a spend in USD has 8), parsed by Arrow; the rest cell by cell."""
    array = _arrow(values)
    n = len(values)
    if array is None or pa.types.is_null(array.type):
        texts: list[str | None] = [None] * n
        if array is None:
            texts = [None if _missing(v) else _shown(v) for v in _cells(values)]
        return _quantity_cells(texts)
    if pa.types.is_floating(array.type):
        raise InvalidAmount(FLOAT_COLUMN.replace("amount", "quantity"))
    if pa.types.is_integer(array.type) or pa.types.is_decimal(array.type):
        return _quantity_numbers(array)
    text = array if pa.types.is_string(array.type) else pc.cast(array, pa.string())
    simple = pc.fill_null(pc.match_substring_regex(text, _SIMPLE_QUANTITY), False)
    if pc.all(simple).as_py():
        parsed = pc.cast(text, QUANTITY)
        zero = pc.equal(parsed, pa.scalar(Decimal(0), QUANTITY))
        if not pc.any(zero).as_py():
            return parsed, pa.nulls(n, pa.string()), text
    return _quantity_cells(whole(text).to_pylist())


def _quantity_numbers(array: Any) -> tuple[Any, Any, Any]:
    """Integers and decimals: cast exactly by Arrow when every value fits; else cell by cell,
    each as plain decimal text (never through float, never in exponent form)."""
    try:
        exact = pc.cast(array, QUANTITY)  # a safe cast: refuses to round or overflow
        positive = pc.greater(exact, pa.scalar(Decimal(0), QUANTITY))
        if pc.all(pc.fill_null(positive, False)).as_py():
            return exact, pa.nulls(len(array), pa.string()), pa.nulls(len(array), pa.string())
    except pa.ArrowInvalid:
        pass
    return _quantity_cells([None if v is None else f"{Decimal(v):f}" for v in array.to_pylist()])


def _quantity_cells(texts: list[str | None]) -> tuple[Any, Any, Any]:
    from ..pricing import parse_quantity

    quantities: list[Decimal | None] = []
    notes: list[str | None] = []
    for text in texts:
        value, note = None, None
        clean = None if text is None else text.strip()
        if not clean:
            note = "quantity missing"
        elif clean.startswith("-"):
            note = "quantity is negative"
        else:
            try:
                value = parse_quantity(clean)
            except InvalidAmount as problem:
                note = _QUANTITY_NOTES.get(str(problem), "quantity is not a plain number")
            if value is None and clean.replace(".", "", 1).isdigit() and Decimal(clean) == 0:
                note = "quantity is zero (nothing to charge)"
        quantities.append(value)
        notes.append(note)
    return pa.array(quantities, QUANTITY), pa.array(notes, pa.string()), pa.array(texts, pa.string())


_QUANTITY_NOTES = {
    "A quantity cannot exceed 1,000,000,000,000 units in one event.": "quantity over 10^12 units",
    "A quantity can have at most 8 decimal places.": "quantity has more than 8 decimal places",
}
