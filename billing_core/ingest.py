"""Bulk usage ingest: `Ledger.consume_many`, a whole batch of debits in one pass.

The events go to DuckDB as one Arrow table and are checked, decided and written
set-based inside one write transaction, in the shape of group_commit.py: every
row is validated in SQL (each rejected row gets a reason), duplicates are found
by joins, and the accepted rows are written with a handful of INSERT ... SELECT
statements (entries, postings, daily rollup deltas, idempotency keys, one audit
row per debit) and one UPDATE of the wallets from grouped totals.

The outcome is the one `consume` gives when called once per event in order of
`occurred_at` (ties in input order): an event is posted iff its wallet is active
and the amount fits the running balance at that point, so a refused event does
not stop a later, smaller one. A workspace whose events all fit its balance is
decided at once; only workspaces that would overdraw (and the rare key reused
within the batch for different charges) are walked event by event in Python.

Idempotency keys: a key already in the ledger, or seen earlier in the batch for
the same charge (workspace, amount, feature), is a skipped duplicate; a key
reused for a different charge is a rejection.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .access import resolve_actor
from .errors import InvalidAmount, InvalidInput
from .models import IngestResult, User, WalletStatus
from .money import MAX_MOVEMENT, PLACES, QUANTUM, ZERO
from .schema import PLATFORM_ACCOUNTS, USAGE_ACCOUNT
from .store import Database
from .text import MAX_DESCRIPTION, MAX_FEATURE

REQUIRED_COLUMNS = ("workspace", "amount", "feature", "description", "occurred_at")
KEY_COLUMN = "idempotency_key"
MAX_KEY = 200  # as `consume` cleans an idempotency key

# Reasons, one short phrase per rule, as shown in the rejects table and file.
FLOAT_AMOUNT = "amount is a float, which is not exact; give it as text or a Decimal"
INSUFFICIENT = "insufficient credits"
INACTIVE = "wallet inactive"
KEY_REUSED = "idempotency key reused for a different charge"

FLOAT_COLUMN = (
    "The amount column holds floating-point numbers, which are not exact money: "
    "give amounts as text (such as '12.5'), integers or Decimals."
)

# What Python's str.strip() removes, so text is cleaned as `consume` cleans it.
_SPACE = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
# A time of day followed by an explicit zone: an offset, Z, or a zone name.
_ZONED = r"[0-9]:[0-9]{2}(:[0-9]{2}(\.[0-9]*)?)?\s*([+-][0-9]{2}(:?[0-9]{2})?|[A-Za-z_]+(/[A-Za-z_+-]+)*)$"
_UNITS = 10**PLACES  # amounts as integers of 0.0001 credit for the sequential pass

_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("ws_int", pa.int64()),
        ("ws_text", pa.string()),
        ("amount_text", pa.string()),
        ("amount_note", pa.string()),
        ("feature", pa.string()),
        ("description", pa.string()),
        ("key", pa.string()),
        ("at", pa.timestamp("us")),
        ("at_text", pa.string()),
    ]
)


# --------------------------------------------------------------------------- input
def normalize(events: object) -> pa.Table:
    """The events as one Arrow table of fixed schema (`_SCHEMA`), nothing decided yet.

    Typed columns are converted with Arrow compute; only a pandas object column
    of mixed values is walked in Python. A floating-point amount column is
    refused as a whole (InvalidAmount); a float among mixed values is refused
    for its row.
    """
    columns = _columns(events)
    n = len(columns["amount"])
    ws_int, ws_text = _workspace(columns["workspace"])
    amount_text, amount_note = _amount(columns["amount"])
    at, at_text = _occurred_at(columns["occurred_at"])
    key = columns.get(KEY_COLUMN)
    return pa.table(
        [
            pa.array(range(n), pa.int64()),
            ws_int,
            ws_text,
            amount_text,
            amount_note,
            _text(columns["feature"]),
            _text(columns["description"]),
            _text(key) if key is not None else pa.nulls(n, pa.string()),
            at,
            at_text,
        ],
        schema=_SCHEMA,
    )


def _columns(events: object) -> dict[str, Any]:
    """name -> a pandas Series or an Arrow (chunked) array, for the columns we read."""
    if isinstance(events, pd.DataFrame):
        names = [str(c) for c in events.columns]

        def get(name: str) -> Any:
            return events[name]
    elif isinstance(events, pa.Table | pa.RecordBatch):
        names = list(events.schema.names)

        def get(name: str) -> Any:
            return events.column(name)
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
            "The events lack the column(s) "
            + ", ".join(missing)
            + f"; expected {', '.join(REQUIRED_COLUMNS)} (and optionally {KEY_COLUMN})."
        )
    columns = {name: get(actual) for name, actual in zip(REQUIRED_COLUMNS, wanted, strict=True)}
    if KEY_COLUMN in present:
        columns[KEY_COLUMN] = get(KEY_COLUMN)
    return columns


def _arrow(values: Any) -> Any:
    """An Arrow array of `values` (decoded if dictionary-encoded), or None when a pandas
    object column mixes kinds of values Arrow cannot hold in one type."""
    if isinstance(values, pd.Series):
        try:
            array = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            return None
    else:
        array = values
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def _cells(values: Any) -> list[Any]:
    if isinstance(values, pd.Series):
        return list(values.array)
    return list(_arrow(values).to_pylist())


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _text(values: Any) -> Any:
    array = _arrow(values)
    if array is not None:
        if pa.types.is_string(array.type):
            return array
        try:
            return pc.cast(array, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return pa.array([None if _missing(v) else str(v) for v in _cells(values)], pa.string())


def _workspace(values: Any) -> tuple[Any, Any]:
    """(ids, texts): integer ids as they are; text (an id or a name) for the SQL to resolve."""
    array = _arrow(values)
    n = len(values)
    if array is not None and (pa.types.is_integer(array.type) and not pa.types.is_boolean(array.type)):
        return pc.cast(array, pa.int64()), pa.nulls(n, pa.string())
    if array is not None and pa.types.is_floating(array.type):  # ids read with gaps as NaN
        whole = pc.fill_null(pc.equal(pc.floor(array), array), False)
        ids = pc.if_else(whole, pc.cast(pc.if_else(whole, array, 0), pa.int64(), safe=False), None)
        return ids, pc.if_else(whole, pa.scalar(None, pa.string()), pc.cast(array, pa.string()))
    if array is not None and pa.types.is_null(array.type):
        return pa.nulls(n, pa.int64()), pa.nulls(n, pa.string())
    if array is not None and pa.types.is_string(array.type):
        return pa.nulls(n, pa.int64()), array
    ids: list[int | None] = []
    texts: list[str | None] = []
    for v in _cells(values):
        is_id = isinstance(v, int) and not isinstance(v, bool)
        ids.append(int(v) if is_id else None)
        texts.append(None if is_id or _missing(v) else str(v))
    return pa.array(ids, pa.int64()), pa.array(texts, pa.string())


def _amount(values: Any) -> tuple[Any, Any]:
    """(texts, notes): each amount as plain text for the SQL to parse exactly, and a
    reason for a row whose value is refused before parsing (a float among mixed values)."""
    array = _arrow(values)
    n = len(values)
    if array is not None:
        kind = array.type
        if pa.types.is_floating(kind):
            if array.null_count == len(array) and isinstance(values, pd.Series):
                return pa.nulls(n, pa.string()), pa.nulls(n, pa.string())  # an empty column
            raise InvalidAmount(FLOAT_COLUMN)
        if pa.types.is_decimal(kind) and kind.scale < 0:
            array = pc.cast(array, pa.decimal128(min(38, kind.precision - kind.scale), 0))
        if pa.types.is_string(kind) or pa.types.is_null(kind):
            return pc.cast(array, pa.string()), pa.nulls(n, pa.string())
        if (pa.types.is_integer(kind) and not pa.types.is_boolean(kind)) or pa.types.is_decimal(kind):
            return pc.cast(array, pa.string()), pa.nulls(n, pa.string())
    texts: list[str | None] = []
    notes: list[str | None] = []
    for v in _cells(values):
        text, note = _amount_cell(v)
        texts.append(text)
        notes.append(note)
    return pa.array(texts, pa.string()), pa.array(notes, pa.string())


def _amount_cell(value: object) -> tuple[str | None, str | None]:
    if _missing(value):
        return None, None
    if isinstance(value, bool):
        return str(value), "amount is not a plain number"
    if isinstance(value, float):
        return repr(value), FLOAT_AMOUNT
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value), "amount must be a finite number"
        return format(value, "f"), None
    if isinstance(value, int):
        return str(value), None
    if isinstance(value, str):
        return value, None
    if type(value).__module__ == "numpy":  # numpy scalars: integers are exact, floats are not
        kind = getattr(value, "dtype", None)
        if kind is not None and kind.kind in "iu":
            return str(int(str(value))), None
        if kind is not None and kind.kind == "f":
            return repr(value), FLOAT_AMOUNT
    return str(value), "amount is not a plain number"


def _occurred_at(values: Any) -> tuple[Any, Any]:
    """(times, texts): naive UTC timestamps, and text for the SQL to parse."""
    array = _arrow(values)
    n = len(values)
    if array is not None:
        kind = array.type
        if pa.types.is_timestamp(kind):
            if kind.tz is not None:  # an aware time: its instant in UTC
                array = pc.cast(array, pa.timestamp(kind.unit, tz="UTC"))
                array = array.cast(pa.timestamp(kind.unit))
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
            texts.append(None if _missing(v) else str(v))
    return pa.array(times, pa.timestamp("us")), pa.array(texts, pa.string())


# ------------------------------------------------------------------------ checking
# Every row in one pass: its reason to be refused (in the order `consume` checks),
# its resolved workspace, and whether its idempotency key is already in the ledger.
# A key seen more than once among the rows that pass is grouped: a group of one
# charge has a lead (the first by occurred_at, then row) and echoes; a group of
# different charges is "tangled" and decided event by event.
_CHECK = r"""
WITH ev AS (
    SELECT row, ws_int, ws_text, amount_note, feature, description, key,
           trim(amount_text, $space) AS a,
           trim(feature, $space) AS f,
           trim(description, $space) AS d,
           nullif(trim(key, $space), '') AS k,
           CASE
               WHEN at IS NOT NULL THEN at
               WHEN regexp_matches(trim(at_text, $space), $zoned)
                   THEN timezone('UTC', try_cast(trim(at_text, $space) AS TIMESTAMPTZ))
               ELSE try_cast(trim(at_text, $space) AS TIMESTAMP)
           END AS at,
           at_text
    FROM ingest_events
),
amounts AS (
    SELECT *,
           regexp_full_match(a, '[0-9]+(\.[0-9]+)?|\.[0-9]+') AS plain,
           coalesce(nullif(ltrim(split_part(a, '.', 1), '0'), ''), '0') AS whole,
           rtrim(split_part(a, '.', 2), '0') AS frac
    FROM ev
),
names AS (
    SELECT t.ws_text,
           CASE WHEN regexp_full_match(trim(t.ws_text, $space), '[0-9]{1,18}')
                THEN trim(t.ws_text, $space)::BIGINT ELSE w.id END AS ws_id
    FROM (SELECT DISTINCT ws_text FROM ingest_events WHERE ws_text IS NOT NULL) t
    LEFT JOIN workspaces w ON w.name_key = lower(trim(t.ws_text, $space))
),
parsed AS (
    SELECT a.*,
           coalesce(a.ws_int, n.ws_id) AS ws,
           CASE WHEN a.plain AND length(a.whole) <= 10 AND length(a.frac) <= 4
                THEN try_cast(a.whole || '.' || a.frac AS DECIMAL(18,4)) END AS amount
    FROM amounts a LEFT JOIN names n ON n.ws_text = a.ws_text
),
checked AS MATERIALIZED (
    SELECT p.row, p.ws, w.account_id, p.amount, p.f, p.d, p.k, p.at,
           CASE
               WHEN p.amount_note IS NOT NULL THEN p.amount_note
               WHEN p.a IS NULL OR p.a = '' THEN 'amount missing'
               WHEN NOT p.plain AND starts_with(p.a, '-') THEN 'amount must be greater than zero'
               WHEN NOT p.plain THEN 'amount is not a plain number'
               WHEN p.whole = '0' AND p.frac = '' THEN 'amount must be greater than zero'
               WHEN length(p.whole) > 10 OR try_cast(p.whole AS BIGINT) > $max_whole
                    OR (try_cast(p.whole AS BIGINT) = $max_whole AND p.frac <> '')
                   THEN 'amount is over the limit of 1,000,000,000 credits per movement'
               WHEN length(p.frac) > 4 THEN 'amount has more than 4 decimal places'
               WHEN p.feature IS NULL OR (p.f = '' AND NOT contains(p.feature, chr(0)))
                   THEN 'feature missing'
               WHEN contains(p.feature, chr(0)) THEN 'feature contains a NUL character'
               WHEN length(p.f) > $max_feature THEN 'feature too long (at most ' || $max_feature || ' characters)'
               WHEN p.description IS NULL OR (p.d = '' AND NOT contains(p.description, chr(0)))
                   THEN 'description missing'
               WHEN contains(p.description, chr(0)) THEN 'description contains a NUL character'
               WHEN length(p.d) > $max_description
                   THEN 'description too long (at most ' || $max_description || ' characters)'
               WHEN contains(p.key, chr(0)) THEN 'idempotency key contains a NUL character'
               WHEN length(p.k) > $max_key THEN 'idempotency key too long (at most ' || $max_key || ' characters)'
               WHEN p.at IS NULL AND coalesce(trim(p.at_text, $space), '') = '' THEN 'occurred_at missing'
               WHEN p.at IS NULL THEN 'occurred_at is not a date and time'
               WHEN p.ws_int IS NULL AND p.ws_text IS NULL THEN 'workspace missing'
               WHEN w.workspace_id IS NULL THEN 'unknown workspace'
               WHEN NOT $admin AND m.workspace_id IS NULL THEN 'not a member of this workspace'
               WHEN ik.key IS NOT NULL AND NOT (ik.workspace_id = p.ws AND ik.amount = p.amount
                                                AND ik.feature IS NOT DISTINCT FROM p.f)
                   THEN $key_reused
           END AS reason,
           ik.key IS NOT NULL AS known
    FROM parsed p
    LEFT JOIN wallets w ON w.workspace_id = p.ws
    LEFT JOIN memberships m ON m.workspace_id = p.ws AND m.user_id = $actor
    LEFT JOIN idempotency_keys ik ON ik.key = p.k
),
groups AS (
    SELECT k, min(struct_pack(t := at, r := row)).r AS lead,
           min(ws) <> max(ws) OR min(amount) <> max(amount) OR min(f) <> max(f) AS tangled
    FROM checked WHERE reason IS NULL AND NOT known AND k IS NOT NULL
    GROUP BY k HAVING count(*) > 1
)
SELECT c.row, c.ws, c.account_id, c.amount, c.f, c.d, c.k, c.at,
       CASE WHEN c.reason IS NOT NULL THEN 'rejected'
            WHEN c.known THEN 'skipped'
            WHEN g.lead IS NOT NULL AND g.lead <> c.row AND NOT g.tangled THEN 'echo'
            ELSE 'open' END AS state,
       c.reason,
       CASE WHEN g.lead <> c.row AND NOT g.tangled THEN g.lead END AS lead,
       coalesce(g.tangled, FALSE) AS tangled
FROM checked c LEFT JOIN groups g ON g.k = c.k AND c.reason IS NULL AND NOT c.known
"""

# Per workspace with open rows: does everything fit (the fast path)?
_WORKSPACES = """
SELECT s.ws, w.status, (w.balance * $units)::BIGINT AS balance,
       sum(s.amount) <= w.balance AS fits, bool_or(s.tangled) AS tangled
FROM ingest_checked s JOIN wallets w ON w.workspace_id = s.ws
WHERE s.state = 'open'
GROUP BY s.ws, w.status, w.balance
"""

# The open rows of the workspaces to walk one by one, in the order `consume` would see them.
_SEQUENTIAL = """
SELECT s.row, s.ws, (s.amount * $units)::BIGINT, s.k, s.f, s.tangled
FROM ingest_checked s SEMI JOIN ingest_paths p ON p.ws = s.ws AND p.path = 'walk'
WHERE s.state = 'open'
ORDER BY s.at, s.row
"""

# Every row's outcome; an echo takes its lead's (posted -> a skipped duplicate).
_OUTCOMES = """
CREATE TEMP TABLE ingest_outcomes AS
WITH decided AS (
    SELECT s.row, s.ws, s.account_id, s.amount, s.f, s.d, s.k, s.at, s.lead,
           CASE WHEN s.state <> 'open' THEN s.state
                WHEN p.path = 'post' THEN 'posted'
                WHEN p.path = 'refuse' THEN 'rejected'
                ELSE q.outcome END AS outcome,
           CASE WHEN s.state <> 'open' THEN s.reason
                WHEN p.path = 'refuse' THEN $inactive
                ELSE q.reason END AS reason
    FROM ingest_checked s
    LEFT JOIN ingest_paths p ON p.ws = s.ws
    LEFT JOIN ingest_walked q ON q.row = s.row
)
SELECT d.row, d.ws, d.account_id, d.amount, d.f, d.d, d.k, d.at,
       CASE WHEN d.outcome <> 'echo' THEN d.outcome
            WHEN l.outcome = 'posted' THEN 'skipped' ELSE 'rejected' END AS outcome,
       CASE WHEN d.outcome = 'echo' AND l.outcome <> 'posted' THEN l.reason ELSE d.reason END AS reason
FROM decided d LEFT JOIN decided l ON d.outcome = 'echo' AND l.row = d.lead
"""

# The posted rows in entry order, each with its entry id and the wallet balance after it.
_POSTED = """
CREATE TEMP TABLE ingest_posted AS
SELECT $first_entry + row_number() OVER (ORDER BY o.at, o.row) - 1 AS id,
       o.row, o.ws, o.account_id, o.amount, o.f, o.d, o.k, o.at,
       (w.balance - sum(o.amount) OVER (PARTITION BY o.ws ORDER BY o.at, o.row
                                        ROWS UNBOUNDED PRECEDING))::DECIMAL(18,4) AS after
FROM ingest_outcomes o JOIN wallets w ON w.workspace_id = o.ws
WHERE o.outcome = 'posted'
"""

_WRITES = (
    """
    INSERT INTO entries (id, workspace_id, kind, amount, description, feature,
                         created_at, actor_id, request_id)
    SELECT id, ws, 'debit', amount, d, f, at, $actor, NULL FROM ingest_posted ORDER BY id
    """,
    """
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT id, account_id, -amount FROM ingest_posted
    UNION ALL
    SELECT id, $usage, amount FROM ingest_posted
    """,
    """
    INSERT INTO daily_rollups
        (workspace_id, feature, day, debits, credits, debit_count, credit_count)
    SELECT ws, f, at::DATE, sum(amount), 0, count(*), 0 FROM ingest_posted GROUP BY ALL
    """,
    """
    UPDATE wallets SET balance = wallets.balance - t.total, updated_at = $now
    FROM (SELECT ws, sum(amount) AS total FROM ingest_posted GROUP BY ws) t
    WHERE wallets.workspace_id = t.ws
    """,
    """
    INSERT INTO idempotency_keys (key, entry_id, workspace_id, amount, feature)
    SELECT k, id, ws, amount, f FROM ingest_posted WHERE k IS NOT NULL
    """,
    """
    INSERT INTO audit_log (id, recorded_at, actor_id, action, subject, workspace_id, before, after)
    SELECT $first_audit + id - $first_entry, $now, $actor, 'wallet.consume', 'entry:' || id, ws,
           '{"balance": "' || (after + amount)::DECIMAL(18,4) || '"}',
           '{"balance": "' || after || '", "amount": "' || amount || '", "ingest": true}'
    FROM ingest_posted
    """,
)

_REPORT = """
SELECT o.row, coalesce(e.ws_text, e.ws_int::VARCHAR) AS workspace, e.amount_text AS amount,
       o.reason, e.key AS idempotency_key, o.outcome
FROM ingest_outcomes o JOIN ingest_events e ON e.row = o.row
WHERE o.outcome <> 'posted'
ORDER BY o.row
"""

_TOTALS = """
SELECT count(*) FILTER (WHERE outcome = 'posted'),
       coalesce(sum(amount) FILTER (WHERE outcome = 'posted'), 0)::DECIMAL(38,4)
FROM ingest_outcomes
"""


@contextmanager
def _registered(cur: Any, name: str, table: pa.Table) -> Iterator[None]:
    cur.register(name, table)
    try:
        yield
    finally:
        cur.unregister(name)


def consume_many(db: Database, actor: User, events: object) -> IngestResult:
    """Debit a batch of usage events in one transaction; see the module docstring."""
    with db.reading() as cur:
        resolve_actor(cur, actor)  # refuse an unknown actor before reading the events
    table = normalize(events)
    with db.writing() as cur:
        user = resolve_actor(cur, actor)
        with _registered(cur, "ingest_events", table):
            try:
                return _ingest(db, cur, user, table.num_rows)
            finally:
                for name in ("ingest_outcomes", "ingest_posted"):
                    cur.execute(f"DROP TABLE IF EXISTS {name}")


def _ingest(db: Database, cur: Any, user: User, received: int) -> IngestResult:
    checked = cur.sql(
        _CHECK,
        params={
            "space": _SPACE,
            "zoned": _ZONED,
            "max_whole": int(MAX_MOVEMENT),
            "max_feature": MAX_FEATURE,
            "max_description": MAX_DESCRIPTION,
            "max_key": MAX_KEY,
            "admin": user.is_admin,
            "actor": user.id,
            "key_reused": KEY_REUSED,
        },
    ).to_arrow_table()
    with _registered(cur, "ingest_checked", checked):
        workspaces = cur.execute(_WORKSPACES, {"units": _UNITS}).fetchall()
        paths = _paths(workspaces)
        with _registered(cur, "ingest_paths", paths):
            walk = cur.execute(_SEQUENTIAL, {"units": _UNITS}).fetchall() if "walk" in paths["path"].to_pylist() else []
            walked = _walk(walk, {int(r[0]): (WalletStatus(r[1]), int(r[2])) for r in workspaces})
            with _registered(cur, "ingest_walked", walked):
                cur.execute(_OUTCOMES, {"inactive": INACTIVE})
    row = cur.execute(_TOTALS).fetchone()
    posted, total = int(row[0]), Decimal(row[1]).quantize(QUANTUM)
    if posted:
        now = db.clock()
        first_entry = db.next_id("entries", posted)
        first_audit = db.next_id("audit_log", posted)
        cur.execute(_POSTED, {"first_entry": first_entry})
        names = {
            "actor": user.id,
            "usage": PLATFORM_ACCOUNTS[USAGE_ACCOUNT],
            "now": now,
            "first_entry": first_entry,
            "first_audit": first_audit,
        }
        for sql in _WRITES:
            cur.execute(sql, {k: v for k, v in names.items() if f"${k}" in sql})
    report = cur.sql(_REPORT).to_arrow_table().to_pandas()
    rejected = report.loc[report["outcome"] == "rejected", ["row", "workspace", "amount", "reason"]]
    skipped = report.loc[report["outcome"] == "skipped", ["row", "idempotency_key"]]
    return IngestResult(
        received=received,
        posted=posted,
        skipped_duplicates=len(skipped),
        rejected_count=len(rejected),
        total_posted=total if posted else ZERO,
        rejected=rejected.reset_index(drop=True),
        skipped=skipped.reset_index(drop=True),
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


def _walk(
    rows: list[tuple[Any, ...]], wallets: dict[int, tuple[WalletStatus, int]]
) -> pa.Table:
    """Decide rows in order as `consume` would: a key posted earlier in the batch replays
    (same charge: skipped) or conflicts; then an inactive wallet or too small a balance refuses."""
    balance = {ws: units for ws, (_, units) in wallets.items()}
    inactive = {ws for ws, (status, _) in wallets.items() if status is WalletStatus.INACTIVE}
    charged: dict[str, tuple[int, int, str]] = {}
    out_rows: list[int] = []
    outcomes: list[str] = []
    reasons: list[str | None] = []
    for row, ws, units, key, feature, tangled in rows:
        out_rows.append(row)
        if tangled and key in charged:
            same = charged[key] == (ws, units, feature)
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
                charged[key] = (ws, units, feature)
    return pa.table(
        {
            "row": pa.array(out_rows, pa.int64()),
            "outcome": pa.array(outcomes, pa.string()),
            "reason": pa.array(reasons, pa.string()),
        }
    )
