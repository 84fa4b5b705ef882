"""`Ledger.verify()`: recompute the books from the journal and compare."""

from __future__ import annotations

from .errors import LedgerCorrupt
from .models import VerificationReport
from .store import Database

# Each check returns rows describing a problem; no row means the check passed.
_CHECKS: tuple[tuple[str, str], ...] = (
    (
        "an entry's postings do not sum to zero, or it has not exactly one platform posting",
        """
        SELECT e.id FROM entries e LEFT JOIN postings p ON p.entry_id = e.id
        LEFT JOIN accounts a ON a.id = p.account_id
        GROUP BY e.id
        HAVING count(p.entry_id) < 2 OR coalesce(sum(p.amount), 0) <> 0
            OR count(p.entry_id) FILTER (WHERE a.workspace_id IS NULL) <> 1
        LIMIT 20
        """,
    ),
    (
        "a posting belongs to no entry",
        "SELECT p.entry_id FROM postings p LEFT JOIN entries e ON e.id = p.entry_id "
        "WHERE e.id IS NULL LIMIT 20",
    ),
    (
        "an entry's wallet postings do not match its kind and amount, or its wallet",
        """
        SELECT e.id FROM entries e
        JOIN wallets w ON w.workspace_id = e.workspace_id
        LEFT JOIN postings p ON p.entry_id = e.id AND p.account_id = w.account_id
        GROUP BY e.id, e.kind, e.amount, e.quantity
        HAVING e.amount < 0 OR e.kind NOT IN ('debit', 'credit', 'expiry')
            OR (e.amount = 0 AND (e.quantity IS NULL OR e.kind <> 'debit'))  -- only usage rounds to 0
            OR coalesce(sum(p.amount), 0) <> CASE WHEN e.kind = 'credit' THEN e.amount ELSE -e.amount END
        LIMIT 20
        """,
    ),
    (
        "a wallet posting names no grant of its workspace (a credit: not the grant it made, "
        "or for a correction not a draw of the entry it reverses given back; a debit or "
        "expiry: a piece that is not a draw)",
        """
        SELECT e.id FROM entries e
        JOIN wallets w ON w.workspace_id = e.workspace_id
        JOIN postings p ON p.entry_id = e.id AND p.account_id = w.account_id
        LEFT JOIN grants g ON g.id = p.grant_id
        WHERE e.id > coalesce((SELECT max(last_id) FROM legacy_entries), 0)
          AND NOT (e.amount = 0 AND p.amount = 0 AND p.grant_id IS NULL)  -- usage priced at 0 draws nothing
          AND (g.id IS NULL OR g.workspace_id <> e.workspace_id
               OR (e.kind = 'credit' AND e.corrects IS NULL
                   AND (g.entry_id IS DISTINCT FROM e.id OR p.amount <> g.amount))
               OR (e.kind = 'credit' AND e.corrects IS NOT NULL
                   AND (p.amount <= 0
                        OR (g.entry_id IS NOT DISTINCT FROM e.id AND p.amount <> g.amount)
                        OR (g.entry_id IS DISTINCT FROM e.id AND NOT EXISTS (
                                SELECT 1 FROM postings d
                                WHERE d.entry_id = e.corrects AND d.grant_id = g.id
                                  AND d.amount = -p.amount))))
               OR (e.kind <> 'credit' AND (p.amount >= 0 OR g.entry_id IS NOT DISTINCT FROM e.id)))
        LIMIT 20
        """,
    ),
    (
        "a debit draws twice from one grant, or an expiry empties more than one grant",
        """
        SELECT e.id FROM entries e JOIN postings p ON p.entry_id = e.id AND p.grant_id IS NOT NULL
        WHERE e.kind <> 'credit'
        GROUP BY e.id, e.kind
        HAVING count(*) <> count(DISTINCT p.grant_id) OR (e.kind = 'expiry' AND count(*) <> 1)
        LIMIT 20
        """,
    ),
    (
        "a grant's remainder is negative, above its amount, or differs from its amount less its draws",
        """
        SELECT g.id FROM grants g
        LEFT JOIN postings p ON p.grant_id = g.id AND p.entry_id IS DISTINCT FROM g.entry_id
        GROUP BY g.id, g.amount, g.remaining
        HAVING g.remaining < 0 OR g.remaining > g.amount OR g.amount <= 0
            OR g.remaining <> g.amount + coalesce(sum(p.amount), 0)
        LIMIT 20
        """,
    ),
    (
        "a wallet's grants' remainders do not sum to its balance",
        """
        SELECT w.workspace_id FROM wallets w
        LEFT JOIN (SELECT workspace_id, sum(remaining) AS held FROM grants GROUP BY workspace_id) g
               ON g.workspace_id = w.workspace_id
        WHERE w.balance <> coalesce(g.held, 0)
        LIMIT 20
        """,
    ),
    (
        "a grant expired other than once, at its expiry, of all that was left of it",
        """
        SELECT coalesce(g.id, x.grant_id) FROM grants g
        FULL JOIN (SELECT p.grant_id, count(*) AS times, min(e.id) AS entry_id,
                          min(e.created_at) AS at, min(e.amount) AS amount
                   FROM entries e JOIN postings p ON p.entry_id = e.id AND p.grant_id IS NOT NULL
                   WHERE e.kind = 'expiry' GROUP BY p.grant_id) x ON x.grant_id = g.id
        WHERE g.id IS NULL OR g.expired_entry_id IS DISTINCT FROM x.entry_id
           OR (x.grant_id IS NOT NULL AND (x.times <> 1 OR g.remaining <> 0 OR g.expires_at IS NULL
                                           OR x.at <> g.expires_at))
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
                   count(*) FILTER (WHERE kind = 'credit') AS credit_count,
                   sum(CASE WHEN kind = 'expiry' THEN amount ELSE 0 END) AS expired,
                   count(*) FILTER (WHERE kind = 'expiry') AS expiry_count
            FROM entries GROUP BY 1, 2, 3
        )
        SELECT coalesce(f.workspace_id, r.workspace_id) FROM fresh f
        FULL JOIN (
            SELECT workspace_id, feature, day, sum(debits) AS debits, sum(credits) AS credits,
                   sum(debit_count) AS debit_count, sum(credit_count) AS credit_count,
                   sum(expired) AS expired, sum(expiry_count) AS expiry_count
            FROM daily_rollups WHERE feature IS NOT NULL GROUP BY 1, 2, 3
        ) r USING (workspace_id, feature, day)
        WHERE f.debits IS DISTINCT FROM r.debits OR f.credits IS DISTINCT FROM r.credits
           OR f.debit_count IS DISTINCT FROM r.debit_count
           OR f.credit_count IS DISTINCT FROM r.credit_count
           OR f.expired IS DISTINCT FROM r.expired OR f.expiry_count IS DISTINCT FROM r.expiry_count
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
                   count(*) FILTER (WHERE kind = 'credit') AS credit_count,
                   sum(CASE WHEN kind = 'expiry' THEN amount ELSE 0 END) AS expired,
                   count(*) FILTER (WHERE kind = 'expiry') AS expiry_count
            FROM entries GROUP BY 1, 2
        )
        SELECT coalesce(f.workspace_id, r.workspace_id) FROM fresh f
        FULL JOIN (
            SELECT workspace_id, day, sum(debits) AS debits, sum(credits) AS credits,
                   sum(debit_count) AS debit_count, sum(credit_count) AS credit_count,
                   sum(expired) AS expired, sum(expiry_count) AS expiry_count
            FROM daily_rollups WHERE feature IS NULL GROUP BY 1, 2
        ) r USING (workspace_id, day)
        WHERE f.debits IS DISTINCT FROM r.debits OR f.credits IS DISTINCT FROM r.credits
           OR f.debit_count IS DISTINCT FROM r.debit_count
           OR f.credit_count IS DISTINCT FROM r.credit_count
           OR f.expired IS DISTINCT FROM r.expired OR f.expiry_count IS DISTINCT FROM r.expiry_count
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
        # counted per entry id read from the subject, then joined on integers: joining on
        # 'entry:' || id held every subject string in one hash table (out of memory at 10M
        # entries under the 384MB cap; a nested loop on a server without statistics)
        """
        SELECT e.id FROM entries e
        LEFT JOIN (
            SELECT entry_id, count(*) AS movements
            FROM (SELECT CAST(n AS BIGINT) AS entry_id
                  FROM (SELECT substr(subject, 7) AS n FROM audit_log
                        WHERE subject LIKE 'entry:%'
                          AND action IN ('wallet.consume', 'wallet.grant', 'wallet.top_up',
                                         'wallet.expire', 'wallet.correct')) s
                  WHERE length(n) BETWEEN 1 AND 18 AND ltrim(n, '0123456789') = '') ids
            GROUP BY entry_id
        ) a ON a.entry_id = e.id
        WHERE coalesce(a.movements, 0) <> 1
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
        "a workspace's priced usage of a feature and the remainder it carries do not add up to "
        "that usage priced exactly (quantity x rate), or a carried remainder is not below 0.0001 "
        "credit (the ids below are the workspaces')",
        """
        SELECT coalesce(u.workspace_id, r.workspace_id)
        FROM (SELECT workspace_id, feature, sum(quantity * rate) AS exact, sum(amount) AS debited
              FROM entries WHERE quantity IS NOT NULL AND kind = 'debit'
              GROUP BY workspace_id, feature) u
        FULL JOIN usage_remainders r ON r.workspace_id = u.workspace_id AND r.feature = u.feature
        WHERE coalesce(r.remainder, 0) < 0 OR coalesce(r.remainder, 0) >= 0.0001
           OR coalesce(u.exact, 0) <> coalesce(u.debited, 0) + coalesce(r.remainder, 0)
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
