"""Which grants each posted debit of a bulk batch draws from, set-based.

Within a wallet, the posted debits (in entry order) take consecutive stretches of one
line of credits, and the wallet's live grants (in draw-down order: priority, soonest
expiry, oldest) lay consecutive stretches of the same line: a debit draws from each
grant whose stretch overlaps its own, the overlap's length. One interval join gives
every piece, exactly what drawing debit by debit would (drawdown.draw); a wallet whose
first grant pays for all of the batch's debits skips the join (each debit one piece of
that grant). A debit of 0 draws nothing: its one piece names no grant.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .decide import registered

# The live grants of some wallets, every column (what a scratch DuckDB mirrors).
LIVE_GRANTS = """
    SELECT id, workspace_id, kind, priority, amount, remaining, expires_at, source, entry_id,
           created_by, created_at, expired_entry_id
    FROM grants WHERE remaining > 0 AND workspace_id IN (SELECT unnest(?::BIGINT[]))
"""

_PIECES = """
WITH g AS (
    SELECT id, workspace_id, remaining,
           sum(remaining) OVER (PARTITION BY workspace_id ORDER BY priority, expires_at NULLS LAST, id
                                ROWS UNBOUNDED PRECEDING) AS hi
    FROM grants
    WHERE remaining > 0 AND workspace_id IN (SELECT DISTINCT workspace_id FROM ingest_posted)
),
-- the common case: the wallet's first grant in draw-down order pays all of the batch's
-- debits, so each draws its whole amount from it (the join below would say the same)
whole AS (
    SELECT g.workspace_id, g.id
    FROM g JOIN (SELECT workspace_id, sum(amount) AS total FROM ingest_posted GROUP BY workspace_id) t
         ON t.workspace_id = g.workspace_id
    WHERE g.hi = g.remaining AND g.remaining >= t.total
),
d AS (
    SELECT seq, workspace_id, amount,
           sum(amount) OVER (PARTITION BY workspace_id ORDER BY seq ROWS UNBOUNDED PRECEDING) AS hi
    FROM ingest_posted ANTI JOIN whole USING (workspace_id)
)
SELECT p.seq, w.id AS grant_id, p.amount AS drawn, 1 AS piece
FROM ingest_posted p JOIN whole w USING (workspace_id) WHERE p.amount > 0
UNION ALL
SELECT d.seq, g.id,
       CAST(least(d.hi, g.hi) - greatest(d.hi - d.amount, g.hi - g.remaining) AS DECIMAL(18,4)),
       row_number() OVER (PARTITION BY d.seq ORDER BY g.hi)
FROM d JOIN g ON g.workspace_id = d.workspace_id AND d.amount > 0
             AND g.hi - g.remaining < d.hi AND g.hi > d.hi - d.amount
UNION ALL  -- usage priced at 0 draws nothing: one piece naming no grant
SELECT seq, NULL, CAST(0 AS DECIMAL(18,4)), 1 FROM ingest_posted WHERE amount = 0
ORDER BY seq, piece
"""


def pieces(duck: Any, posted: pa.Table) -> pa.Table:
    """For `posted` (the batch's debits in entry order: workspace_id, amount), a row per
    debit and grant it draws from, in entry and draw-down order: seq (the debit's row in
    `posted`), piece (1..k), grant_id, drawn (> 0); a debit of 0 (usage priced at 0) has
    one piece with no grant and 0 drawn. `duck` reads the wallets' grants."""
    numbered = pa.table({
        "seq": pa.array(range(posted.num_rows), pa.int64()),
        "workspace_id": posted.column("workspace_id"),
        "amount": posted.column("amount"),
    })
    with registered(duck, "ingest_posted", numbered):
        drawn = duck.sql(_PIECES).to_arrow_table()
    drawn = drawn.cast(pa.schema([("seq", pa.int64()), ("grant_id", pa.int64()),
                                  ("drawn", pa.decimal128(18, 4)), ("piece", pa.int64())]))
    paid = pc.sum(drawn.column("drawn")).as_py() if drawn.num_rows else 0
    owed = pc.sum(posted.column("amount")).as_py() if posted.num_rows else 0
    covered = pc.count_distinct(drawn.column("seq")).as_py() if drawn.num_rows else 0
    if paid != owed or covered != posted.num_rows:
        raise AssertionError(f"the wallets' grants pay {paid} of debits of {owed}")
    return drawn
