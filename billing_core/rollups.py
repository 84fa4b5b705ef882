"""Daily rollups: spend per workspace, feature and day, kept with the entries.

Writers append delta rows in the same transaction as the entries they sum (an
insert, never an upsert: cheaper, and nothing to contend on); readers always sum
by key. `compact` merges each key's rows for recent days so the table stays about
one row per key.
"""

from __future__ import annotations

from datetime import date

from .store import Database


def compact(db: Database, since: date) -> int:
    """Merge the delta rows of every key from `since` on, in one transaction.

    Returns how many rows were merged away.
    """
    if db.kind == "postgresql":
        return _compact_server(db, since)
    with db.writing() as cur:
        merged = cur.sql(
            """
            SELECT workspace_id, feature, day,
                   sum(debits)::DECIMAL(18,4) AS debits, sum(credits)::DECIMAL(18,4) AS credits,
                   sum(debit_count)::BIGINT AS debit_count,
                   sum(credit_count)::BIGINT AS credit_count
            FROM daily_rollups WHERE day >= ? GROUP BY 1, 2, 3 ORDER BY day, workspace_id, feature
            """,
            params=[since],
        ).to_arrow_table()
        row = cur.execute("DELETE FROM daily_rollups WHERE day >= ?", [since]).fetchone()
        removed = int(row[0]) if row else 0
        cur.register("merged_rollups", merged)
        try:
            cur.execute("INSERT INTO daily_rollups SELECT * FROM merged_rollups")
        finally:
            cur.unregister("merged_rollups")
    return removed - int(merged.num_rows)


def _compact_server(db: Database, since: date) -> int:
    """On a server other processes insert rows meanwhile: delete and re-insert in one
    statement, so exactly the rows that were deleted are the ones merged."""
    with db.writing() as cur:
        row = cur.execute(
            """
            WITH gone AS (DELETE FROM daily_rollups WHERE day >= ? RETURNING *),
            merged AS (
                INSERT INTO daily_rollups
                    (workspace_id, feature, day, debits, credits, debit_count, credit_count)
                SELECT workspace_id, feature, day, sum(debits), sum(credits),
                       sum(debit_count), sum(credit_count)
                FROM gone GROUP BY 1, 2, 3
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM merged)
            """,
            [since],
        ).fetchone()
    return int(row[0]) if row else 0
