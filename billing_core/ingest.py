"""Bulk usage ingest: `Ledger.consume_many`, a whole batch of debits in one pass.

The events become one Arrow table (amounts parsed exactly by Arrow, never
through float) and are checked, decided and written set-based inside one write
transaction, in the shape of group_commit.py: every row is validated in SQL and
each refused row gets a reason; duplicates are found by joins; the accepted rows
are written with a few INSERT ... SELECT statements (entries, postings, daily
rollup deltas, idempotency keys, one audit row per debit) and one UPDATE of the
wallets from grouped totals.

The outcome is the one `consume` gives when called once per event in order of
`occurred_at` (ties in input order): an event is posted iff its wallet is active
and the amount fits the running balance at that point, so a refused event does
not stop a later, smaller one. A workspace whose events all fit its balance is
decided at once; in one that would overdraw, the leading events that fit are
found by a running sum in SQL and only the rest are walked one by one in Python
(as are the workspaces of a key reused within the batch for different charges).

Idempotency keys belong to a workspace: a key already in that workspace's ledger,
or posted earlier in the batch for it, with the same charge (amount, feature) is a
skipped duplicate; for a different charge it is a rejection. An event dated more
than 5 minutes ahead of the ledger's clock, or before its workspace existed, is
refused. Entries take their ids in occurred_at order
and `created_at` = occurred_at; the audit row of each debit names its entry and
the batch. A call holds the ledger's write lock throughout and keeps the batch
in memory: give it up to a million or so events at a time (the CLI reads
files in chunks of 200,000).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .access import Access
from .audit import AuditAction
from .errors import InvalidAmount, InvalidInput, LedgerBusy
from .journal import BATCH_SCHEMA, write_batch
from .models import EntryKind, IngestResult, User, WalletStatus
from .money import MAX_MOVEMENT, PLACES, QUANTUM
from .schema import PLATFORM_ACCOUNTS, USAGE_ACCOUNT
from .store import Database
from .text import MAX_DESCRIPTION, MAX_FEATURE

REQUIRED_COLUMNS = ("workspace", "amount", "feature", "description", "occurred_at")
KEY_COLUMN = "idempotency_key"
MAX_KEY = 200  # as `consume` cleans an idempotency key

# Reasons: one short phrase per rule, as shown in the rejects table and file.
AMOUNT_MISSING = "amount missing"
AMOUNT_FLOAT = "amount is a float, which is not exact; give it as text or a Decimal"
AMOUNT_NOT_NUMBER = "amount is not a plain number"
AMOUNT_NOT_FINITE = "amount is not a finite number"
AMOUNT_NOT_POSITIVE = "amount must be greater than zero"
AMOUNT_TOO_BIG = "amount is over 1,000,000,000 credits"
AMOUNT_TOO_PRECISE = "amount has more than 4 decimal places"
INSUFFICIENT = "insufficient credits"
INACTIVE = "wallet inactive"
KEY_REUSED = "idempotency key reused for a different charge"
OCCURRED_FUTURE = "occurred_at is in the future (more than 5 minutes ahead of the ledger's clock)"
OCCURRED_TOO_EARLY = "occurred_at is before the workspace existed"
FUTURE_LEEWAY = timedelta(minutes=5)  # clocks of the systems that send usage may run a little ahead
_TRIES = 3  # decisions of a batch that met another process's write of one of its keys

FLOAT_COLUMN = (
    "The amount column holds floating-point numbers, which are not exact money: "
    "give amounts as text (such as '12.5'), integers or Decimals."
)

_MONEY = pa.decimal128(18, 4)
_UNITS = 10**PLACES  # amounts as integers of 0.0001 credit, for the sequential pass
_PLAIN = re.compile(r"[0-9]+(\.[0-9]+)?|\.[0-9]+")  # what money.parse_amount accepts
# The common case, parsed by Arrow alone: at most 10 digits, at most 4 decimals, no spaces.
_SIMPLE = r"^(?:[0-9]{1,10}(?:\.[0-9]{1,4})?|\.[0-9]{1,4})$"
# What Python's str.strip() removes, so text is cleaned exactly as `consume` cleans it.
_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SPACE_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in _SPACE) + "]"
_EDGE = f"^{_SPACE_CLASS}|{_SPACE_CLASS}$"  # text that needs stripping (rare: trim is slow)
# A time of day followed by an explicit zone: an offset, Z, or a zone name.
_ZONED = r"[0-9]:[0-9]{2}(:[0-9]{2}(\.[0-9]*)?)?\s*([+-][0-9]{2}(:?[0-9]{2})?|[A-Za-z_]+(/[A-Za-z_+-]+)*)$"

_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("ws_int", pa.int64()),
        ("ws_text", pa.string()),
        ("amount", _MONEY),
        ("amount_note", pa.string()),  # why the amount is refused, when it is
        ("amount_text", pa.string()),  # the amount as given, when it was text or is refused
        ("text_note", pa.string()),  # a feature, description or key that is not valid text
        ("feature", pa.string()),
        ("description", pa.string()),
        ("key", pa.string()),
        ("occurred", pa.timestamp("us")),
        ("occurred_text", pa.string()),
    ]
)


# --------------------------------------------------------------------------- input
def normalize(events: object) -> pa.Table:
    """The events as one Arrow table of fixed schema (`_SCHEMA`); nothing decided yet.

    Typed columns are converted with Arrow compute; only a pandas object column
    of mixed values (and the odd amount text Arrow cannot parse alone) is looked
    at in Python. A floating-point amount column is refused as a whole
    (InvalidAmount); a float among mixed values is refused for its row.
    """
    columns = _columns(events)
    n = len(columns["amount"])
    ws_int, ws_text = _workspace(columns["workspace"])
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
        ],
        schema=_SCHEMA,
    )


def _columns(events: object) -> dict[str, Any]:
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
    wanted = list(REQUIRED_COLUMNS)
    if "workspace" not in present and "workspace_id" in present:
        wanted[0] = "workspace_id"
    missing = [c for c in wanted if c not in present]
    if missing:
        raise InvalidInput(
            f"The events lack the column(s) {', '.join(missing)}; expected "
            f"{', '.join(REQUIRED_COLUMNS)} (workspace may be named workspace_id) "
            f"and optionally {KEY_COLUMN}."
        )
    columns = {name: get(actual) for name, actual in zip(REQUIRED_COLUMNS, wanted, strict=True)}
    if KEY_COLUMN in present:
        columns[KEY_COLUMN] = get(KEY_COLUMN)
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


def _whole(array: Any) -> Any:
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
    trimmed = pc.utf8_trim(texts, characters=_SPACE)
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


def classify_amount(value: object) -> tuple[Decimal | None, str | None]:
    """(amount, None) for a valid amount, else (None, reason): money.parse_amount's
    rules exactly (a plain number, > 0, <= 1,000,000,000, at most 4 decimals)."""
    if _missing(value):
        return None, AMOUNT_MISSING
    if isinstance(value, bool):
        return None, AMOUNT_NOT_NUMBER
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        return None, AMOUNT_FLOAT  # a Python or numpy float
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int) or type(value).__name__.startswith(("int", "uint")):
        number = Decimal(int(str(value)))  # a Python or numpy integer
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None, AMOUNT_MISSING
        if not _PLAIN.fullmatch(text):
            return None, AMOUNT_NOT_POSITIVE if text.startswith("-") else AMOUNT_NOT_NUMBER
        number = Decimal(text)
    else:
        return None, AMOUNT_NOT_NUMBER
    if not number.is_finite():
        return None, AMOUNT_NOT_FINITE
    if number <= 0:
        return None, AMOUNT_NOT_POSITIVE
    if number > MAX_MOVEMENT:
        return None, AMOUNT_TOO_BIG
    try:
        if number != number.quantize(QUANTUM, rounding=ROUND_DOWN):
            return None, AMOUNT_TOO_PRECISE
    except InvalidOperation:  # pragma: no cover - bounded above, so quantize cannot overflow
        return None, AMOUNT_TOO_PRECISE
    return number.quantize(QUANTUM), None


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
    pairs = [classify_amount(v) for v in cells]
    return (
        pa.array([a for a, _ in pairs], _MONEY),
        pa.array([r for _, r in pairs], pa.string()),
        pa.array(
            [None if _missing(v) else _shown(v) for v in cells],
            pa.string(),
        ),
    )


def _amount_from_text(array: Any) -> tuple[Any, Any, Any]:
    """Arrow parses the common shape (digits, up to 4 decimals); the rest goes cell by cell."""
    simple = pc.fill_null(pc.match_substring_regex(array, _SIMPLE), False)
    all_simple = pc.all(simple).as_py()
    parsed = pc.cast(array if all_simple else pc.if_else(simple, array, "0"), _MONEY)
    positive = pc.greater(parsed, pa.scalar(Decimal(0), _MONEY))
    ok = pc.and_(simple, pc.and_(positive, pc.less_equal(parsed, pa.scalar(MAX_MOVEMENT, _MONEY))))
    if all_simple and pc.all(ok).as_py():  # the common case: every amount is good
        return parsed, pa.nulls(len(array), pa.string()), array
    amount = pc.if_else(ok, parsed, pa.scalar(None, _MONEY))
    note = pc.if_else(
        simple,
        pc.if_else(
            positive,
            pc.if_else(ok, pa.scalar(None, pa.string()), AMOUNT_TOO_BIG),
            AMOUNT_NOT_POSITIVE,
        ),
        pa.scalar(None, pa.string()),
    )
    rest = pc.invert(simple)
    if pc.any(rest).as_py():
        rest_amount, rest_note, _ = _amount_cells(array.filter(rest).to_pylist())
        rest = _whole(rest)
        amount = pc.replace_with_mask(_whole(amount), rest, rest_amount)
        note = pc.replace_with_mask(_whole(note), rest, rest_note)
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
        return pc.cast(array, _MONEY), pa.nulls(len(array), pa.string()), pa.nulls(len(array), pa.string())
    # in parse_amount's order: missing, not positive, too big, too precise
    note = pa.nulls(len(array), pa.string())
    if too_precise is not None:
        note = pc.if_else(too_precise, AMOUNT_TOO_PRECISE, note)
    note = pc.if_else(too_big, AMOUNT_TOO_BIG, note)
    note = pc.if_else(not_positive, AMOUNT_NOT_POSITIVE, note)
    note = pc.if_else(pc.is_null(array), AMOUNT_MISSING, note)
    amount = pc.if_else(refused, pa.scalar(None, _MONEY), pc.cast(pc.if_else(refused, zero, exact), _MONEY))
    given = _whole(pc.and_(refused, pc.is_valid(array)))
    text = pc.replace_with_mask(
        pa.nulls(len(array), pa.string()), given, pc.cast(_whole(array).filter(given), pa.string())
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


# ------------------------------------------------------------------------ checking
def _clean(column: str) -> str:
    """SQL for `column` stripped as str.strip() strips (trim with a set is slow: only when needed)."""
    return f"CASE WHEN regexp_matches({column}, $edge) THEN trim({column}, $space) ELSE {column} END"


# Every row in one pass: why it is refused (checked in the order `consume` checks),
# its workspace, and its idempotency key against the ledger. A key seen more than
# once among the rows that pass is grouped: a group of one charge has a lead (the
# first by occurred_at, then row) and echoes that share its fate; a group of
# different charges is "tangled" and its workspaces are walked event by event.
_CHECK = f"""
CREATE TEMP TABLE ingest_checked AS
WITH ev AS (
    SELECT row, ws_int, ws_text, amount, amount_note, text_note, feature, description, key, occurred_text,
           {_clean("feature")} AS f,
           {_clean("description")} AS d,
           nullif({_clean("key")}, '') AS k,
           CASE
               WHEN occurred IS NOT NULL THEN occurred
               WHEN regexp_matches(occurred_text, $zoned)
                   THEN timezone('UTC', try_cast({_clean("occurred_text")} AS TIMESTAMPTZ))
               ELSE try_cast({_clean("occurred_text")} AS TIMESTAMP)
           END AS occurred
    FROM ingest_events
),
names AS (
    SELECT t.ws_text,
           CASE WHEN regexp_full_match(t.clean, '[0-9]{{1,18}}') THEN t.clean::BIGINT ELSE w.id END AS ws_id
    FROM (SELECT DISTINCT ws_text, {_clean("ws_text")} AS clean
          FROM ingest_events WHERE ws_text IS NOT NULL) t
    LEFT JOIN workspaces w ON w.name_key = lower(t.clean)
),
checked AS (
    SELECT e.row, w.workspace_id AS ws, w.account_id, e.amount, e.f, e.d, e.k, e.occurred,
           CASE
               WHEN e.amount_note IS NOT NULL THEN e.amount_note
               WHEN e.amount IS NULL THEN '{AMOUNT_MISSING}'
               WHEN e.text_note IS NOT NULL THEN e.text_note
               WHEN e.feature IS NULL THEN 'feature missing'
               WHEN contains(e.feature, chr(0)) THEN 'feature contains a NUL character'
               WHEN e.f = '' THEN 'feature missing'
               WHEN length(e.f) > $max_feature
                   THEN 'feature too long (over ' || $max_feature || ' characters)'
               WHEN e.description IS NULL THEN 'description missing'
               WHEN contains(e.description, chr(0)) THEN 'description contains a NUL character'
               WHEN e.d = '' THEN 'description missing'
               WHEN length(e.d) > $max_description
                   THEN 'description too long (over ' || $max_description || ' characters)'
               WHEN contains(e.key, chr(0)) THEN 'idempotency key contains a NUL character'
               WHEN length(e.k) > $max_key
                   THEN 'idempotency key too long (over ' || $max_key || ' characters)'
               WHEN e.occurred IS NULL AND coalesce({_clean("e.occurred_text")}, '') = ''
                   THEN 'occurred_at missing'
               WHEN e.occurred IS NULL THEN 'occurred_at is not a date and time'
               WHEN e.ws_int IS NULL AND e.ws_text IS NULL THEN 'workspace missing'
               WHEN w.workspace_id IS NULL THEN 'unknown workspace'
               WHEN NOT $admin AND m.workspace_id IS NULL THEN 'not a member of this workspace'
               WHEN e.occurred > $latest THEN $future
               WHEN e.occurred < s.created_at THEN $too_early
               WHEN ik.key IS NOT NULL AND NOT (ik.amount = e.amount AND ik.feature IS NOT DISTINCT FROM e.f)
                   THEN $key_reused
           END AS reason,
           ik.key IS NOT NULL AS known
    FROM ev e
    LEFT JOIN names n ON n.ws_text = e.ws_text
    LEFT JOIN wallets w ON w.workspace_id = coalesce(e.ws_int, n.ws_id)
    LEFT JOIN workspaces s ON s.id = w.workspace_id
    LEFT JOIN memberships m ON m.workspace_id = w.workspace_id AND m.user_id = $actor
    LEFT JOIN idempotency_keys ik ON ik.workspace_id = w.workspace_id AND ik.key = e.k
)"""
_CHECK_GROUPED = """,
groups AS (
    SELECT ws, k, min(struct_pack(t := occurred, r := row)).r AS lead,
           min(amount) <> max(amount) OR min(f) <> max(f) AS tangled
    FROM checked WHERE reason IS NULL AND NOT known AND k IS NOT NULL
    GROUP BY ws, k HAVING count(*) > 1
)
SELECT c.row, c.ws, c.account_id, c.amount, c.f, c.d, c.k, c.occurred,
       CASE WHEN c.reason IS NOT NULL THEN 'rejected'
            WHEN c.known THEN 'skipped'
            WHEN g.lead <> c.row AND NOT g.tangled THEN 'echo'
            ELSE 'open' END AS state,
       c.reason,
       CASE WHEN g.lead <> c.row AND NOT g.tangled THEN g.lead END AS lead,
       coalesce(g.tangled, FALSE) AS tangled
FROM checked c LEFT JOIN groups g ON g.ws = c.ws AND g.k = c.k AND c.reason IS NULL AND NOT c.known
"""
# Whether two rows may carry the same key once keys are stripped; if not, nothing is grouped.
_KEYS_REPEAT = """
SELECT EXISTS (SELECT key FROM ingest_events WHERE key IS NOT NULL GROUP BY key HAVING count(*) > 1)
       OR coalesce((SELECT bool_or(regexp_matches(key, $edge)) FROM ingest_events), FALSE)
"""

_CHECK_PLAIN = """
SELECT row, ws, account_id, amount, f, d, k, occurred,
       CASE WHEN reason IS NOT NULL THEN 'rejected' WHEN known THEN 'skipped' ELSE 'open' END AS state,
       reason, NULL::BIGINT AS lead, FALSE AS tangled
FROM checked
"""

# Per workspace with open rows: its wallet, and whether all of them fit (the fast path).
_WORKSPACES = """
SELECT s.ws, w.status, (w.balance * $units)::BIGINT AS balance,
       sum(s.amount) <= w.balance AS fits, bool_or(s.tangled) AS tangled
FROM ingest_checked s JOIN wallets w ON w.workspace_id = s.ws
WHERE s.state = 'open'
GROUP BY s.ws, w.status, w.balance
"""

# The open rows of the workspaces to walk, in the order `consume` would see them. In a
# workspace with no tangled key, the leading rows whose running total fits the balance
# are posted without a walk: only the rest is looked at one by one.
_SEQUENTIAL = """
WITH open AS (
    SELECT s.row, s.ws, s.amount, s.k, s.f, s.tangled, s.occurred,
           sum(s.amount) OVER (PARTITION BY s.ws ORDER BY s.occurred, s.row
                               ROWS UNBOUNDED PRECEDING) AS run,
           bool_or(s.tangled) OVER (PARTITION BY s.ws) AS tangled_ws
    FROM ingest_checked s SEMI JOIN ingest_paths p ON p.ws = s.ws AND p.path = 'walk'
    WHERE s.state = 'open'
)
SELECT o.row, o.ws, (o.amount * $units)::BIGINT AS units, o.k, o.f, o.tangled,
       o.run <= w.balance AND NOT o.tangled_ws AS head
FROM open o JOIN wallets w ON w.workspace_id = o.ws
ORDER BY o.occurred, o.row
"""

# The rows to post, in entry order (their entry ids are added in Python), with each
# wallet's balance before and after each of them.
_POSTED = """
WITH posted AS (
    SELECT s.row, s.ws, s.account_id, s.amount, s.f, s.d, s.k, s.occurred,
           sum(s.amount) OVER (PARTITION BY s.ws ORDER BY s.occurred, s.row
                               ROWS UNBOUNDED PRECEDING) AS spent
    FROM ingest_checked s
    JOIN ingest_paths p ON p.ws = s.ws
    LEFT JOIN ingest_walked q ON q.row = s.row
    WHERE s.state = 'open' AND (p.path = 'post' OR q.outcome = 'posted')
)
SELECT o.ws AS workspace_id, o.account_id, o.amount, o.f AS feature, o.d AS description,
       o.k AS idempotency_key, o.occurred AS created_at,
       CAST(w.balance - o.spent + o.amount AS DECIMAL(18,4)) AS balance_before,
       CAST(w.balance - o.spent AS DECIMAL(18,4)) AS balance_after
FROM posted o JOIN wallets w ON w.workspace_id = o.ws
ORDER BY o.occurred, o.row
"""

# Every row not posted, with its outcome and reason. An echo shares its lead's
# fate: lead posted, a skipped duplicate; lead refused, refused for the same reason.
_REPORT = """
WITH unposted AS (
    SELECT s.row, s.k, s.amount, s.lead,
           CASE WHEN s.state <> 'open' THEN s.state
                WHEN p.path = 'refuse' THEN 'rejected'
                ELSE q.outcome END AS outcome,
           CASE WHEN s.state <> 'open' THEN s.reason
                WHEN p.path = 'refuse' THEN $inactive
                ELSE q.reason END AS reason
    FROM ingest_checked s
    LEFT JOIN ingest_paths p ON p.ws = s.ws
    LEFT JOIN ingest_walked q ON q.row = s.row
    WHERE s.state <> 'open' OR p.path = 'refuse' OR q.outcome <> 'posted'
),
leads AS (
    SELECT s.row AS lead, p.path = 'post' OR q.outcome = 'posted' AS posted,
           CASE WHEN p.path = 'refuse' THEN $inactive ELSE q.reason END AS reason
    FROM ingest_checked s
    LEFT JOIN ingest_paths p ON p.ws = s.ws
    LEFT JOIN ingest_walked q ON q.row = s.row
    WHERE s.row IN (SELECT lead FROM unposted WHERE outcome = 'echo')
)
SELECT u.row,
       CASE WHEN u.outcome <> 'echo' THEN u.reason ELSE l.reason END AS reason,
       u.k AS idempotency_key,
       CASE WHEN u.outcome <> 'echo' THEN u.outcome
            WHEN l.posted THEN 'skipped' ELSE 'rejected' END AS outcome
FROM unposted u LEFT JOIN leads l ON l.lead = u.lead
ORDER BY u.row
"""


@contextmanager
def _registered(cur: Any, name: str, table: pa.Table) -> Iterator[None]:
    cur.register(name, table)
    try:
        yield
    finally:
        cur.unregister(name)


def consume_many(db: Database, access: Access, actor: User, events: object) -> IngestResult:
    """Debit a batch of usage events in one transaction; see the module docstring. A batch
    that met another process's write of one of its keys (LedgerBusy: nothing was written)
    is decided again, now seeing that key."""
    user = access.actor(actor)  # PermissionDenied for the whole call
    table = normalize(events)
    for attempt in range(_TRIES):
        try:
            return _consume_once(db, user, table)
        except LedgerBusy:
            if attempt == _TRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _consume_once(db: Database, user: User, events: pa.Table) -> IngestResult:
    with db.writing() as cur:
        wallets = _lock_wallets(db, cur, events)
        mirror = partial(_mirror, events=events, user=user, wallets=wallets)
        with db.decisions(cur, mirror) as duck:
            with _registered(duck, "ingest_events", events):
                posted, report = _decide(duck, user, events, db.clock())
            # a scratch table of this transaction: dropped here, or by the rollback on an error
            duck.execute("DROP TABLE ingest_checked")
        if posted.num_rows:
            write_batch(db, cur, _batch(db, user, posted))
    return _result(events, posted, report)


def _decide(cur: Any, user: User, events: pa.Table, now: datetime) -> tuple[pa.Table, pa.Table]:
    """(the rows to post, in entry order; the report of every row not posted)."""
    [(repeats,)] = cur.execute(_KEYS_REPEAT, {"edge": _EDGE}).fetchall()
    cur.execute(
        _CHECK + (_CHECK_GROUPED if repeats else _CHECK_PLAIN),
        {
            "space": _SPACE,
            "edge": _EDGE,
            "zoned": _ZONED,
            "max_feature": MAX_FEATURE,
            "max_description": MAX_DESCRIPTION,
            "max_key": MAX_KEY,
            "admin": user.is_admin,
            "actor": user.id,
            "key_reused": KEY_REUSED,
            "latest": now + FUTURE_LEEWAY,
            "future": OCCURRED_FUTURE,
            "too_early": OCCURRED_TOO_EARLY,
        },
    )
    workspaces = cur.execute(_WORKSPACES, {"units": _UNITS}).fetchall()
    wallets = {int(r[0]): (WalletStatus(r[1]), int(r[2])) for r in workspaces}
    paths = _paths(workspaces)
    with _registered(cur, "ingest_paths", paths):
        walk = cur.sql(_SEQUENTIAL, params={"units": _UNITS}).to_arrow_table()
        with _registered(cur, "ingest_walked", _walk(walk, wallets)):
            posted = cur.sql(_POSTED).to_arrow_table()
            report = cur.sql(_REPORT, params={"inactive": INACTIVE}).to_arrow_table()
    return posted, report


def _batch(db: Database, user: User, posted: pa.Table) -> pa.Table:
    """The posted rows as the journal's batch: ids from the ledger, one debit each."""
    n = posted.num_rows
    now = db.clock()
    extra = {
        "id": pa.array(db.allocate_ids("entries", n)),
        "audit_id": pa.array(db.allocate_ids("audit_log", n)),
        "platform_id": pa.repeat(pa.scalar(PLATFORM_ACCOUNTS[USAGE_ACCOUNT], pa.int64()), n),
        "kind": pa.repeat(pa.scalar(EntryKind.DEBIT.value), n),
        "signed": pc.negate(posted.column("amount")),
        "recorded_at": pa.repeat(pa.scalar(now, pa.timestamp("us")), n),
        "actor_id": pa.repeat(pa.scalar(user.id, pa.int64()), n),
        "request_id": pa.nulls(n, pa.int64()),
        "corrects": pa.nulls(n, pa.int64()),
        "action": pa.repeat(pa.scalar(AuditAction.CONSUME.value), n),
    }
    columns = {name: posted.column(name) for name in posted.column_names} | extra
    return pa.table({name: columns[name] for name in BATCH_SCHEMA.names}).cast(BATCH_SCHEMA)


def _lock_wallets(db: Database, cur: Any, events: pa.Table) -> list[tuple[Any, ...]]:
    """The wallets the batch may name (by id or by name), held until the commit."""
    ids, names, _ = _candidates(events)
    return db.select_for_update(
        cur,
        """
        SELECT workspace_id, account_id, status, balance, updated_at FROM wallets
        WHERE workspace_id IN (SELECT unnest(?::BIGINT[]))
           OR workspace_id IN (SELECT id FROM workspaces WHERE name_key IN (SELECT unnest(?::VARCHAR[])))
        ORDER BY workspace_id
        """,
        [ids, names],
    )


def _candidates(events: pa.Table) -> tuple[list[int], list[str], list[str]]:
    """Workspace ids and lower-cased names the batch may name, and its keys (as given
    and stripped): what the checks can look up."""
    ids = {int(v) for v in events.column("ws_int").to_pylist() if v is not None}
    names: set[str] = set()
    for text in set(events.column("ws_text").to_pylist()) - {None}:
        clean = str(text).strip()
        names.add(clean.lower())
        if clean.isascii() and clean.isdigit() and len(clean) <= 18:
            ids.add(int(clean))
    keys: set[str] = set()
    for key in set(events.column("key").to_pylist()) - {None}:
        keys.update({str(key), str(key).strip()})
    return sorted(ids), sorted(names), sorted(k for k in keys if "\x00" not in k)


def _mirror(
    server: Any, scratch: Any, *, events: pa.Table, user: User, wallets: list[tuple[Any, ...]]
) -> None:
    """On a server: copy what the decisions read (the locked wallets, the workspaces, the
    caller's memberships, the stored keys among the batch's) into the scratch DuckDB."""
    _, _, keys = _candidates(events)
    spaces = server.execute("SELECT id, name, name_key, created_at FROM workspaces").fetchall()
    members = server.execute(
        "SELECT workspace_id, user_id, created_at FROM memberships WHERE user_id = ?", [user.id]
    ).fetchall()
    stored = server.execute(
        "SELECT key, entry_id, workspace_id, amount, feature FROM idempotency_keys "
        "WHERE key IN (SELECT unnest(?::VARCHAR[])) AND workspace_id IN (SELECT unnest(?::BIGINT[]))",
        [keys, [int(r[0]) for r in wallets]],
    ).fetchall()
    for table, rows, columns in (
        ("wallets", wallets, "workspace_id, account_id, status, balance, updated_at"),
        ("workspaces", spaces, "id, name, name_key, created_at"),
        ("memberships", members, "workspace_id, user_id, created_at"),
        ("idempotency_keys", stored, "key, entry_id, workspace_id, amount, feature"),
    ):
        if rows:
            marks = ", ".join(["?"] * (columns.count(",") + 1))
            # table and column names are the constants above
            scratch.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", [list(r) for r in rows])


def _result(events: pa.Table, posted: pa.Table, report: pa.Table) -> IngestResult:
    """The counts, and the refused and skipped rows with the workspace and amount as given."""
    rows = report.column("row")
    given = events.take(rows)
    shown = pc.coalesce(given.column("amount_text"), pc.cast(given.column("amount"), pa.string()))
    workspace = pc.coalesce(given.column("ws_text"), pc.cast(given.column("ws_int"), pa.string()))
    frame = pa.table(
        {
            "row": rows,
            "workspace": workspace,
            "amount": shown,
            "reason": report.column("reason"),
            "idempotency_key": report.column("idempotency_key"),
            "outcome": report.column("outcome"),
        }
    ).to_pandas()
    refused = frame["outcome"] == "rejected"
    rejected = frame.loc[refused, ["row", "workspace", "amount", "reason"]].reset_index(drop=True)
    skipped = frame.loc[~refused, ["row", "idempotency_key"]].reset_index(drop=True)
    total = pc.sum(posted.column("amount")).as_py() if posted.num_rows else None
    return IngestResult(
        received=events.num_rows,
        posted=posted.num_rows,
        skipped_duplicates=len(skipped),
        rejected_count=len(rejected),
        total_posted=(total or Decimal(0)).quantize(QUANTUM),
        rejected=rejected,
        skipped=skipped,
    )


def _paths(workspaces: list[tuple[Any, ...]]) -> pa.Table:
    """How each workspace's open rows are decided: all posted, all refused (inactive), or
    walked one by one (it would overdraw, or holds a key reused for different charges)."""
    ids: list[int] = []
    paths: list[str] = []
    for ws, status, _balance, fits, tangled in workspaces:
        ids.append(int(ws))
        if tangled:
            paths.append("walk")
        elif status == WalletStatus.INACTIVE.value:
            paths.append("refuse")
        else:
            paths.append("post" if fits else "walk")
    return pa.table({"ws": pa.array(ids, pa.int64()), "path": pa.array(paths, pa.string())})


def _walk(rows: pa.Table, wallets: dict[int, tuple[WalletStatus, int]]) -> pa.Table:
    """Decide rows in order as `consume` would: a key posted earlier in the batch replays
    (same charge: skipped) or conflicts; then an inactive wallet or too small a balance refuses.

    The head rows (a leading run that fits) are posted as they are; the loop takes the rest.
    """
    head = rows.filter(rows.column("head"))
    tail = rows.filter(pc.invert(rows.column("head")))
    balance = {ws: units for ws, (_, units) in wallets.items()}
    for spent in head.group_by("ws").aggregate([("units", "sum")]).to_pylist():
        balance[spent["ws"]] -= spent["units_sum"]
    inactive = {ws for ws, (status, _) in wallets.items() if status is WalletStatus.INACTIVE}
    charged: dict[tuple[int, str], tuple[int, str]] = {}  # (workspace, key) -> (units, feature)
    outcomes: list[str] = []
    reasons: list[str | None] = []
    columns = [tail.column(name).to_pylist() for name in ("ws", "units", "k", "f", "tangled")]
    for ws, units, key, feature, tangled in zip(*columns, strict=True):
        if tangled and (ws, key) in charged:
            same = charged[(ws, key)] == (units, feature)
            outcomes.append("skipped" if same else "rejected")
            reasons.append(None if same else KEY_REUSED)
        elif ws in inactive:
            outcomes.append("rejected")
            reasons.append(INACTIVE)
        elif units > balance[ws]:
            outcomes.append("rejected")
            reasons.append(INSUFFICIENT)
        else:
            balance[ws] -= units
            outcomes.append("posted")
            reasons.append(None)
            if tangled:
                charged[(ws, key)] = (units, feature)
    return pa.table(
        {
            "row": pa.concat_arrays([_whole(head.column("row")), _whole(tail.column("row"))]),
            "outcome": pa.concat_arrays(
                [pa.array(["posted"] * head.num_rows, pa.string()), pa.array(outcomes, pa.string())]
            ),
            "reason": pa.concat_arrays(
                [pa.nulls(head.num_rows, pa.string()), pa.array(reasons, pa.string())]
            ),
        }
    )


# ---------------------------------------------------------------------------- files
CSV_BLOCK = 8 << 20  # bytes of CSV parsed at a time


@dataclass(frozen=True, slots=True)
class EventFile:
    """A CSV or Parquet file of usage events, read in chunks of `chunk_rows` rows."""

    path: str
    kind: str  # "csv" | "parquet"
    rows: int | None  # exact for Parquet; for CSV an estimate from the line count
    columns: tuple[str, ...]


def open_event_file(path: str) -> EventFile:
    """Check that `path` is a readable CSV or Parquet file with the event columns.

    Raises InvalidInput (InvalidAmount for a float amount column) with one line
    naming the problem; nothing is read into the ledger.
    """
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as error:
        raise InvalidInput(f"Cannot read {path}: {error.strerror or error}.") from None
    if magic == b"PAR1":
        return _open_parquet(path)
    return _open_csv(path)


def _open_parquet(path: str) -> EventFile:
    import pyarrow.parquet as pq

    try:
        schema = pq.ParquetFile(path).schema_arrow
        rows = pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowException, OSError) as error:
        raise InvalidInput(f"{path} is not a readable Parquet file: {_first_line(error)}") from None
    names = tuple(schema.names)
    _check_header(path, names)
    amount = "amount"
    if pa.types.is_floating(schema.field(amount).type):
        raise InvalidAmount(f"{path}: {FLOAT_COLUMN}")
    return EventFile(path, "parquet", rows, names)


def _open_csv(path: str) -> EventFile:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
        with open(path, "rb") as handle:
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is neither a Parquet file nor a UTF-8 CSV file.") from None
    except csv.Error as error:
        raise InvalidInput(f"{path} is not a readable CSV file: {error}.") from None
    except OSError as error:
        raise InvalidInput(f"Cannot read {path}: {error.strerror or error}.") from None
    if not header:
        raise InvalidInput(f"{path} is empty: expected a header line with {', '.join(REQUIRED_COLUMNS)}.")
    names = tuple(name.strip() for name in header)
    _check_header(path, names)
    return EventFile(path, "csv", max(0, lines - 1), names)


def _check_header(path: str, names: tuple[str, ...]) -> None:
    if len(set(names)) != len(names):
        raise InvalidInput(f"{path} has two columns of the same name.")
    present = set(names) | ({"workspace"} if "workspace_id" in names else set())
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        raise InvalidInput(
            f"{path} lacks the column(s) {', '.join(missing)}; expected "
            f"{', '.join(REQUIRED_COLUMNS)} (and optionally {KEY_COLUMN})."
        )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def read_chunks(source: EventFile, chunk_rows: int) -> Iterator[pa.Table]:
    """The file's rows, `chunk_rows` at a time, every CSV column as text (never float).

    A malformed row part-way raises InvalidInput naming it; the chunks before it
    have been handed out already.
    """
    wanted = [c for c in (*REQUIRED_COLUMNS, "workspace_id", KEY_COLUMN) if c in source.columns]
    if source.kind == "parquet":
        import pyarrow.parquet as pq

        try:
            for batch in pq.ParquetFile(source.path).iter_batches(batch_size=chunk_rows, columns=wanted):
                yield pa.Table.from_batches([batch])
        except (pa.ArrowException, OSError) as error:
            raise InvalidInput(f"{source.path} could not be read: {_first_line(error)}") from None
        return
    import pyarrow.csv as pacsv

    try:
        reader = pacsv.open_csv(
            source.path,
            read_options=pacsv.ReadOptions(
                block_size=CSV_BLOCK, column_names=list(source.columns), skip_rows=1
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in source.columns},
                include_columns=wanted,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        pending: list[pa.RecordBatch] = []
        held = 0
        for batch in reader:
            pending.append(batch)
            held += batch.num_rows
            while held >= chunk_rows:
                table = pa.Table.from_batches(pending)
                yield table.slice(0, chunk_rows)
                rest = table.slice(chunk_rows)
                pending, held = rest.to_batches(), rest.num_rows
        if held:
            yield pa.Table.from_batches(pending)
    except pa.ArrowException as error:
        raise InvalidInput(f"{source.path} is not a valid CSV file: {_first_line(error)}") from None
