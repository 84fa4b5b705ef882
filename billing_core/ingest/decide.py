"""Deciding a batch of usage events set-based, in DuckDB, as `consume` would decide them
one by one in order of occurred_at (ties in input order).

Every row is checked in SQL and each refused row gets a reason; duplicates are found by
joins; a workspace whose events all fit its balance is decided at once; in one that
would overdraw, the leading events that fit are found by a running sum and only the
rest are walked one by one in Python (as are the workspaces of a key reused within the
batch for different charges). The result: the rows to post, in entry order, with each
wallet's balance before and after each of them, and a report of every other row.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..models import User, WalletStatus
from ..money import MAX_MOVEMENT, PLACES, AmountProblem
from ..pricing import EXACT_PLACES, MAX_QUANTITY, QUANTITY_PLACES, Unit, twin_of
from ..text import MAX_DESCRIPTION, MAX_FEATURE
from .events import SPACE, whole

MAX_KEY = 200  # as `consume` cleans an idempotency key
INSUFFICIENT = "insufficient credits"
INACTIVE = "wallet inactive"
KEY_REUSED = "idempotency key reused for a different charge"
OCCURRED_FUTURE = "occurred_at is in the future (more than 5 minutes ahead of the ledger's clock)"
OCCURRED_TOO_EARLY = "occurred_at is before the workspace existed"
NO_PRICE = "no price for the feature at that time"
QUANTITY_OVER = "quantity over 10^12 units"
TOO_FINE = "quantity too fine to price per thousand tokens (at most 5 decimal places)"
_EXACT_PER_UNIT = 10**14  # priced usage is exact in 1e-18 credits; an amount's unit is 1e-4
FUTURE_LEEWAY = timedelta(minutes=5)  # clocks of the systems that send usage may run a little ahead
_UNITS = 10**PLACES  # amounts as integers of 0.0001 credit, for the sequential pass
_SPACE_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in SPACE) + "]"
_EDGE = f"^{_SPACE_CLASS}|{_SPACE_CLASS}$"  # text that needs stripping (rare: trim is slow)
# A time of day followed by an explicit zone: an offset, Z, or a zone name.
_ZONED = r"[0-9]:[0-9]{2}(:[0-9]{2}(\.[0-9]*)?)?\s*([+-][0-9]{2}(:?[0-9]{2})?|[A-Za-z_]+(/[A-Za-z_+-]+)*)$"


def _clean(column: str) -> str:
    """SQL for `column` stripped as str.strip() strips (trim with a set is slow: only when needed)."""
    return f"CASE WHEN regexp_matches({column}, $edge) THEN trim({column}, $space) ELSE {column} END"


# Every row in one pass: why it is refused (checked in the order `consume` checks),
# its workspace, and its idempotency key against the ledger. A key seen more than
# once among the rows that pass is grouped: a group of one charge has a lead (the
# first by occurred_at, then row) and echoes that share its fate; a group of
# different charges is "tangled" and its workspaces are walked event by event.
_CHECK = f"""
CREATE TEMP TABLE {{{{checked}}}} AS
WITH {{{{rates}}}} ev AS (
    SELECT row, ws_int, ws_text, amount, amount_note, text_note, feature, description, key, occurred_text,
           quantity AS given,
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
           coalesce(x.id, CASE WHEN regexp_full_match(t.clean, '[0-9]{{1,18}}') THEN t.clean::BIGINT
                               ELSE w.id END) AS ws_id
    FROM (SELECT DISTINCT ws_text, {_clean("ws_text")} AS clean
          FROM ingest_events WHERE ws_text IS NOT NULL) t
    LEFT JOIN workspaces w ON w.name_key = lower(t.clean)
    LEFT JOIN workspaces x ON x.external_id = t.clean
),
checked AS (
    SELECT e.row, w.workspace_id AS ws, w.account_id, e.amount, e.f, e.d, e.k, e.occurred,
           CASE WHEN {{{{quantity}}}} <= {MAX_QUANTITY}
                     AND {{{{quantity}}}} = round({{{{quantity}}}}, {QUANTITY_PLACES})
                THEN CAST({{{{quantity}}}} AS DECIMAL(20,{QUANTITY_PLACES})) END AS quantity,
           {{{{rate}}}} AS rate, {{{{rate_unit}}}} AS unit,
           CASE
               WHEN e.amount_note IS NOT NULL THEN e.amount_note
               WHEN e.amount IS NULL AND NOT $priced THEN '{AmountProblem.MISSING.reason}'
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
               WHEN $priced AND {{{{rate}}}} IS NULL THEN $no_price
               WHEN $priced AND {{{{quantity}}}} > {MAX_QUANTITY} THEN $quantity_over
               WHEN $priced AND {{{{quantity}}}} <> round({{{{quantity}}}}, {QUANTITY_PLACES}) THEN $too_fine
               WHEN $priced AND {{{{quantity}}}} * {{{{rate}}}} > $max_movement THEN $too_big
               WHEN ik.key IS NOT NULL AND NOT (
                   CASE WHEN $priced THEN ik.quantity = {{{{quantity}}}} AND ik.unit = {{{{rate_unit}}}}
                        ELSE ik.amount = e.amount AND ik.quantity IS NULL END
                   AND ik.feature IS NOT DISTINCT FROM e.f)
                   THEN $key_reused
           END AS reason,
           ik.key IS NOT NULL AS known
    FROM ev e
    LEFT JOIN names n ON n.ws_text = e.ws_text
    LEFT JOIN wallets w ON w.workspace_id = coalesce(e.ws_int, n.ws_id)
    LEFT JOIN workspaces s ON s.id = w.workspace_id
    LEFT JOIN memberships m ON m.workspace_id = w.workspace_id AND m.user_id = $actor
    LEFT JOIN idempotency_keys ik ON ik.workspace_id = w.workspace_id AND ik.key = e.k
    {{{{rate_joins}}}}
)"""
# Priced usage: the rate in effect at each event's time, its feature's own, else the
# default ("*"). The unit's rate card as intervals [effective_from, the next one's) per
# feature (the latest row wins a tie), joined by feature and time: a hash join on a
# handful of rows (an ASOF join measured 10x slower inside this query).
_RATES = """
card AS (
    SELECT feature, effective_from AS start, rate, unit,
           coalesce(lead(effective_from) OVER (PARTITION BY feature ORDER BY effective_from),
                    TIMESTAMP '9999-12-31') AS stop
    FROM (SELECT feature, effective_from,
                 arg_max(credits_per_unit, (unit = $unit)::BIGINT * 1000000000000000 + id) AS rate,
                 arg_max(unit, (unit = $unit)::BIGINT * 1000000000000000 + id) AS unit
          FROM prices WHERE unit IN ($unit, $twin) GROUP BY feature, effective_from) p
),
"""
# The unit of the price in effect, and the row's quantity in that unit: usage counted in
# tokens priced per thousand tokens, or the other way round (pricing.in_unit).
_RATE_UNIT = "CASE WHEN pf.rate IS NOT NULL THEN pf.unit ELSE pd.unit END"
_QUANTITY = f"(CASE WHEN {_RATE_UNIT} = $twin THEN e.given * $per_twin ELSE e.given END)"
_RATE_JOINS = """
    LEFT JOIN card pf ON pf.feature = e.f AND e.occurred >= pf.start AND e.occurred < pf.stop
    LEFT JOIN card pd ON pd.feature = '*' AND e.occurred >= pd.start AND e.occurred < pd.stop
"""
# Priced usage: each open row's amount, with its pair's carried remainder, in exact
# integers of 1e-18 credit: the pair's running total owed, rounded down to 0.0001, minus
# the same before the row (pricing.carry, set-based).
_CARRY = """
CREATE TEMP TABLE ingest_checked AS
WITH staged AS (
    SELECT s.* EXCLUDE (amount),
           CAST(s.quantity * 100000000 AS HUGEINT) * CAST(s.rate * 10000000000 AS HUGEINT) AS exact_units,
           coalesce(CAST(r.remainder * 1000000000000000000 AS HUGEINT), 0) AS start_units
    FROM ingest_staged s LEFT JOIN usage_remainders r ON r.workspace_id = s.ws AND r.feature = s.f
),
owing AS (
    SELECT *, start_units + sum(CASE WHEN state = 'open' THEN exact_units ELSE 0 END)
                  OVER (PARTITION BY ws, f ORDER BY occurred, row ROWS UNBOUNDED PRECEDING) AS owed
    FROM staged
)
SELECT * EXCLUDE (owed),
       CASE WHEN state = 'open' THEN
           CAST(CAST(owed // $per_unit - (owed - exact_units) // $per_unit AS DECIMAL(18,0)) * 0.0001
                AS DECIMAL(18,4))
       END AS amount
FROM owing
"""
# Priced usage: each pair's remainder after the batch's posted rows.
_REMAINDERS = """
SELECT s.ws, s.f, any_value(s.start_units) + sum(s.exact_units)
                  - sum(CAST(coalesce(q.amount, s.amount) * 10000 AS HUGEINT)) * $per_unit AS left_units
FROM ingest_checked s
JOIN ingest_paths p ON p.ws = s.ws
LEFT JOIN ingest_walked q ON q.row = s.row
WHERE s.state = 'open' AND (p.path = 'post' OR q.outcome = 'posted')
GROUP BY s.ws, s.f
"""
_CHECK_GROUPED = """,
groups AS (
    SELECT ws, k, min(struct_pack(t := occurred, r := row)).r AS lead,
           min(coalesce(quantity, amount)) <> max(coalesce(quantity, amount)) OR min(f) <> max(f) AS tangled
    FROM checked WHERE reason IS NULL AND NOT known AND k IS NOT NULL
    GROUP BY ws, k HAVING count(*) > 1
)
SELECT c.row, c.ws, c.account_id, c.amount, c.f, c.d, c.k, c.occurred, c.quantity, c.rate, c.unit,
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
SELECT row, ws, account_id, amount, f, d, k, occurred, quantity, rate, unit,
       CASE WHEN reason IS NOT NULL THEN 'rejected' WHEN known THEN 'skipped' ELSE 'open' END AS state,
       reason, NULL::BIGINT AS lead, FALSE AS tangled
FROM checked
"""

# Per workspace with open rows: its wallet, and whether all of them fit (the fast path).
_WORKSPACES = """
SELECT s.ws, w.status, (w.balance * $units)::BIGINT AS balance,
       -- a usage debit may round to 0, but is blocked at zero like any other
       sum(s.amount) < w.balance OR (sum(s.amount) = w.balance AND NOT bool_or(s.amount = 0)) AS fits,
       bool_or(s.tangled) AS tangled
FROM ingest_checked s JOIN wallets w ON w.workspace_id = s.ws
WHERE s.state = 'open'
GROUP BY s.ws, w.status, w.balance
"""

# The open rows of the workspaces to walk, in the order `consume` would see them. In a
# workspace with no tangled key, the leading rows whose running total fits the balance
# are posted without a walk: only the rest is looked at one by one.
_SEQUENTIAL = """
WITH open AS (
    SELECT s.row, s.ws, s.amount, s.k, s.f, s.tangled, s.occurred, {usage},
           sum(s.amount) OVER (PARTITION BY s.ws ORDER BY s.occurred, s.row
                               ROWS UNBOUNDED PRECEDING) AS run,
           bool_or(s.tangled) OVER (PARTITION BY s.ws) AS tangled_ws
    FROM ingest_checked s SEMI JOIN ingest_paths p ON p.ws = s.ws AND p.path = 'walk'
    WHERE s.state = 'open'
)
SELECT o.row, o.ws, (o.amount * $units)::BIGINT AS units, o.k, o.f, o.tangled,
       o.run <= w.balance AND o.run - o.amount < w.balance AND NOT o.tangled_ws AS head,
       o.exact_units, o.start_units
FROM open o JOIN wallets w ON w.workspace_id = o.ws
ORDER BY o.occurred, o.row
"""

# The rows to post, in entry order (their entry ids are added in Python), with each
# wallet's balance before and after each of them.
_POSTED = """
WITH posted AS (
    SELECT s.row, s.ws, s.account_id, coalesce(q.amount, s.amount) AS amount, s.f, s.d, s.k, s.occurred,
           s.quantity, s.rate, s.unit,
           sum(coalesce(q.amount, s.amount)) OVER (PARTITION BY s.ws ORDER BY s.occurred, s.row
                               ROWS UNBOUNDED PRECEDING) AS spent
    FROM ingest_checked s
    JOIN ingest_paths p ON p.ws = s.ws
    LEFT JOIN ingest_walked q ON q.row = s.row
    WHERE s.state = 'open' AND (p.path = 'post' OR q.outcome = 'posted')
)
SELECT o.ws AS workspace_id, o.account_id, o.amount, o.f AS feature, o.d AS description,
       o.k AS idempotency_key, o.occurred AS created_at, o.quantity, o.rate, o.unit,
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
def registered(cur: Any, name: str, table: pa.Table) -> Iterator[None]:
    cur.register(name, table)
    try:
        yield
    finally:
        cur.unregister(name)



@dataclass(frozen=True, slots=True)
class Decision:
    posted: pa.Table  # the rows to post, in entry order
    report: pa.Table  # every row not posted
    remainders: dict[tuple[int, str], Decimal]  # priced usage: each pair's carried remainder after


def decide(cur: Any, user: User, events: pa.Table, now: datetime, unit: str | None = None) -> Decision:
    """Decide the batch (`unit`: priced usage, its quantities priced by the rate card)."""
    priced = unit is not None
    [(repeats,)] = cur.execute(_KEYS_REPEAT, {"edge": _EDGE}).fetchall()
    check = (
        (_CHECK + (_CHECK_GROUPED if repeats else _CHECK_PLAIN))
        .replace("{{checked}}", "ingest_staged" if priced else "ingest_checked")
        .replace("{{rates}}", _RATES if priced else "")
        .replace("{{rate_joins}}", _RATE_JOINS if priced else "")
        .replace("{{rate}}", "coalesce(pf.rate, pd.rate)" if priced else "NULL::DECIMAL(38,10)")
        .replace("{{rate_unit}}", _RATE_UNIT if priced else "NULL::VARCHAR")
        .replace("{{quantity}}", _QUANTITY if priced else "e.given")
    )
    cur.execute(
        check,
        {
            "space": SPACE,
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
            "priced": priced,
            **(_twin_params(unit) if unit is not None else {}),
            "quantity_over": QUANTITY_OVER,
            "too_fine": TOO_FINE,
            "no_price": NO_PRICE,
            "max_movement": MAX_MOVEMENT,
            "too_big": AmountProblem.TOO_BIG.reason,
        },
    )
    if priced:
        cur.execute(_CARRY, {"per_unit": _EXACT_PER_UNIT})
        cur.execute("DROP TABLE ingest_staged")
    workspaces = cur.execute(_WORKSPACES, {"units": _UNITS}).fetchall()
    wallets = {int(r[0]): (WalletStatus(r[1]), int(r[2])) for r in workspaces}
    paths = _paths(workspaces)
    usage = (
        "s.exact_units, s.start_units"
        if priced
        else "NULL::HUGEINT AS exact_units, NULL::HUGEINT AS start_units"
    )
    left: dict[tuple[int, str], Decimal] = {}
    with registered(cur, "ingest_paths", paths):
        walk = cur.sql(_SEQUENTIAL.replace("{usage}", usage), params={"units": _UNITS}).to_arrow_table()
        with registered(cur, "ingest_walked", _walk(walk, wallets)):
            posted = cur.sql(_POSTED).to_arrow_table()
            report = cur.sql(_REPORT, params={"inactive": INACTIVE}).to_arrow_table()
            if priced:
                for ws, feature, units in cur.execute(_REMAINDERS, {"per_unit": _EXACT_PER_UNIT}).fetchall():
                    left[(int(ws), str(feature))] = Decimal(int(units)).scaleb(-EXACT_PLACES)
    return Decision(posted, report, left)


def _twin_params(unit: str) -> dict[str, object]:
    """Priced usage: its unit, the twin whose prices price it too, and how many twin units
    one of its units is (pricing.twin_of; a unit without a twin is its own, 1 to 1)."""
    twin, per_twin = twin_of(Unit(unit))
    return {"unit": unit, "twin": twin.value, "per_twin": per_twin}


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
    (same charge: skipped) or conflicts; then an inactive wallet, a balance at zero or too
    small a balance refuses. Priced usage gets its amount here from its pair's carried
    remainder (only posted rows move it), in exact integers of 1e-18 credit.

    The head rows (a leading run that fits) are posted as they are; the loop takes the rest.
    """
    head = rows.filter(rows.column("head"))
    tail = rows.filter(pc.invert(rows.column("head")))
    balance = {ws: units for ws, (_, units) in wallets.items()}
    for spent in head.group_by("ws").aggregate([("units", "sum")]).to_pylist():
        balance[spent["ws"]] -= spent["units_sum"]
    owed: dict[tuple[int, str], int] = {}  # priced pairs: the remainder carried, 1e-18 credits
    head_usage = [head.column(n).to_pylist() for n in ("ws", "f", "units", "exact_units", "start_units")]
    for ws, feature, units, exact, start in zip(*head_usage, strict=True):
        if exact is not None:
            pair = (ws, feature)
            owed[pair] = owed.get(pair, start) + exact - units * _EXACT_PER_UNIT
    inactive = {ws for ws, (status, _) in wallets.items() if status is WalletStatus.INACTIVE}
    charged: dict[tuple[int, str], tuple[int, str]] = {}  # (workspace, key) -> (units, feature)
    outcomes: list[str] = []
    reasons: list[str | None] = []
    amounts: list[Decimal | None] = []
    names = ("ws", "units", "k", "f", "tangled", "exact_units", "start_units")
    columns = [tail.column(name).to_pylist() for name in names]
    for ws, units, key, feature, tangled, exact, start in zip(*columns, strict=True):
        carried = None
        if exact is not None:  # priced: the amount follows from what was posted before it
            carried = owed.get((ws, feature), start) + exact
            units = carried // _EXACT_PER_UNIT
        amounts.append(None if exact is None else Decimal(units).scaleb(-PLACES))
        if tangled and (ws, key) in charged:
            same = charged[(ws, key)] == (exact if exact is not None else units, feature)
            outcomes.append("skipped" if same else "rejected")
            reasons.append(None if same else KEY_REUSED)
        elif ws in inactive:
            outcomes.append("rejected")
            reasons.append(INACTIVE)
        elif units > balance[ws] or balance[ws] <= 0:
            outcomes.append("rejected")
            reasons.append(INSUFFICIENT)
        else:
            balance[ws] -= units
            outcomes.append("posted")
            reasons.append(None)
            if carried is not None:
                owed[(ws, feature)] = carried - units * _EXACT_PER_UNIT
            if tangled:
                charged[(ws, key)] = (exact if exact is not None else units, feature)
    return pa.table(
        {
            "row": pa.concat_arrays([whole(head.column("row")), whole(tail.column("row"))]),
            "outcome": pa.concat_arrays(
                [pa.array(["posted"] * head.num_rows, pa.string()), pa.array(outcomes, pa.string())]
            ),
            "reason": pa.concat_arrays(
                [pa.nulls(head.num_rows, pa.string()), pa.array(reasons, pa.string())]
            ),
            "amount": pa.concat_arrays(
                [pa.nulls(head.num_rows, pa.decimal128(18, 4)), pa.array(amounts, pa.decimal128(18, 4))]
            ),
        }
    )
