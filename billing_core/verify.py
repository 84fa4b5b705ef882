"""`Ledger.verify()`: recompute the books from the journal and compare."""

from __future__ import annotations

from .errors import LedgerCorrupt
from .models import VerificationReport
from .store import Database

# Each check returns rows describing a problem; no row means the check passed.
_CHECKS: tuple[tuple[str, str], ...] = (
    (
        "an entry's postings do not sum to zero, or it has not exactly two postings",
        """
        SELECT e.id FROM entries e LEFT JOIN postings p ON p.entry_id = e.id
        GROUP BY e.id HAVING count(p.entry_id) <> 2 OR coalesce(sum(p.amount), 0) <> 0
        LIMIT 20
        """,
    ),
    (
        "a posting belongs to no entry",
        "SELECT p.entry_id FROM postings p LEFT JOIN entries e ON e.id = p.entry_id "
        "WHERE e.id IS NULL LIMIT 20",
    ),
    (
        "an entry's wallet posting does not match its kind and amount",
        """
        SELECT e.id FROM entries e
        JOIN wallets w ON w.workspace_id = e.workspace_id
        JOIN postings p ON p.entry_id = e.id AND p.account_id = w.account_id
        WHERE e.amount < 0 OR (e.amount = 0 AND e.quantity IS NULL)  -- only usage rounds to 0
           OR p.amount <> CASE WHEN e.kind = 'debit' THEN -e.amount ELSE e.amount END
        LIMIT 20
        """,
    ),
    (
        "a wallet's balance differs from the sum of its postings, or is negative",
        """
        SELECT w.workspace_id FROM wallets w
        LEFT JOIN (SELECT account_id, sum(amount) AS total FROM postings GROUP BY account_id) p
               ON p.account_id = w.account_id
        WHERE w.balance <> coalesce(p.total, 0) OR w.balance < 0
        LIMIT 20
        """,
    ),
    (
        "the daily rollups differ from the entries",
        """
        WITH fresh AS (
            SELECT workspace_id, coalesce(feature, '') AS feature, created_at::DATE AS day,
                   sum(CASE WHEN kind = 'debit' THEN amount ELSE 0 END) AS debits,
                   sum(CASE WHEN kind = 'credit' THEN amount ELSE 0 END) AS credits,
                   count(*) FILTER (WHERE kind = 'debit') AS debit_count,
                   count(*) FILTER (WHERE kind = 'credit') AS credit_count
            FROM entries GROUP BY 1, 2, 3
        )
        SELECT coalesce(f.workspace_id, r.workspace_id) FROM fresh f
        FULL JOIN (
            SELECT workspace_id, feature, day, sum(debits) AS debits, sum(credits) AS credits,
                   sum(debit_count) AS debit_count, sum(credit_count) AS credit_count
            FROM daily_rollups WHERE feature IS NOT NULL GROUP BY 1, 2, 3
        ) r USING (workspace_id, feature, day)
        WHERE f.debits IS DISTINCT FROM r.debits OR f.credits IS DISTINCT FROM r.credits
           OR f.debit_count IS DISTINCT FROM r.debit_count
           OR f.credit_count IS DISTINCT FROM r.credit_count
        LIMIT 20
        """,
    ),
    (
        "the daily totals (rollups without a feature) differ from the entries",
        """
        WITH fresh AS (
            SELECT workspace_id, created_at::DATE AS day,
                   sum(CASE WHEN kind = 'debit' THEN amount ELSE 0 END) AS debits,
                   sum(CASE WHEN kind = 'credit' THEN amount ELSE 0 END) AS credits,
                   count(*) FILTER (WHERE kind = 'debit') AS debit_count,
                   count(*) FILTER (WHERE kind = 'credit') AS credit_count
            FROM entries GROUP BY 1, 2
        )
        SELECT coalesce(f.workspace_id, r.workspace_id) FROM fresh f
        FULL JOIN (
            SELECT workspace_id, day, sum(debits) AS debits, sum(credits) AS credits,
                   sum(debit_count) AS debit_count, sum(credit_count) AS credit_count
            FROM daily_rollups WHERE feature IS NULL GROUP BY 1, 2
        ) r USING (workspace_id, day)
        WHERE f.debits IS DISTINCT FROM r.debits OR f.credits IS DISTINCT FROM r.credits
           OR f.debit_count IS DISTINCT FROM r.debit_count
           OR f.credit_count IS DISTINCT FROM r.credit_count
        LIMIT 20
        """,
    ),
    (
        "an approved request has not exactly one matching credit, or another request has one",
        """
        SELECT r.id FROM credit_requests r
        LEFT JOIN entries e ON e.request_id = r.id
        GROUP BY r.id, r.status, r.amount, r.entry_id
        HAVING (r.status = 'approved' AND (count(e.id) <> 1 OR min(e.amount) <> r.amount
                                           OR min(e.id) <> r.entry_id))
            OR (r.status <> 'approved' AND count(e.id) <> 0)
        LIMIT 20
        """,
    ),
    (
        "an entry has not exactly one movement audit row (the journal writes one with each)",
        """
        SELECT e.id FROM entries e
        LEFT JOIN audit_log a ON a.subject = 'entry:' || CAST(e.id AS VARCHAR)
             AND a.action IN ('wallet.consume', 'wallet.grant', 'wallet.top_up', 'wallet.correct')
        GROUP BY e.id HAVING count(a.id) <> 1
        LIMIT 20
        """,
    ),
    (
        "a correction does not reverse an earlier entry of its workspace (the opposite kind, "
        "the same amount, not itself a correction), or an entry is corrected more than once",
        """
        SELECT c.id FROM entries c LEFT JOIN entries o ON o.id = c.corrects
        WHERE c.corrects IS NOT NULL
          AND (o.id IS NULL OR o.id >= c.id OR o.workspace_id <> c.workspace_id
               OR o.kind = c.kind OR o.amount <> c.amount OR o.corrects IS NOT NULL
               OR c.request_id IS NOT NULL)
        UNION ALL
        SELECT max(id) FROM entries WHERE corrects IS NOT NULL
        GROUP BY corrects HAVING count(*) > 1
        LIMIT 20
        """,
    ),
    (
        "an entry id is used twice",
        "SELECT id FROM entries GROUP BY id HAVING count(*) > 1 LIMIT 20",
    ),
)


def verify(db: Database) -> VerificationReport:
    """Raise LedgerCorrupt naming every failed check; return the counts when all pass."""
    problems: list[str] = []
    with db.reading() as cur:
        for label, sql in _CHECKS:
            rows = cur.execute(sql).fetchall()
            if rows:
                ids = ", ".join(str(r[0]) for r in rows)
                problems.append(f"{label} (ids: {ids})")
        counts = cur.execute(
            """
            SELECT (SELECT count(*) FROM wallets), (SELECT count(*) FROM entries),
                   (SELECT count(*) FROM postings), (SELECT count(*) FROM daily_rollups)
            """
        ).fetchone()
    assert counts is not None
    report = VerificationReport(
        wallets=counts[0],
        entries=counts[1],
        postings=counts[2],
        rollup_rows=counts[3],
        problems=problems,
    )
    if problems:
        raise LedgerCorrupt("The ledger does not balance: " + "; ".join(problems))
    return report
