"""Build a large synthetic ledger in SQL (never row by row), valid under `verify()`."""

from __future__ import annotations

import time
from pathlib import Path

import billing_core
from billing_core.schema import PLATFORM_ACCOUNTS, TOPUPS_ACCOUNT, USAGE_ACCOUNT

FEATURES = ["AI chat", "AI summaries", "Image generation", "Exports", "Translation"]


def build(path: Path, *, entries: int, workspaces: int, users: int, days: int = 365) -> float:
    """Create `path` with `entries` movements; returns the seconds it took.

    Workspace 1 is the busy one (about 2.5% of all entries, so 250,000 at 10M: deep
    enough for a page 100,000 entries down); the rest spread evenly.
    """
    for suffix in ("", ".wal", ".hwm"):  # a new ledger, on purpose: its old mark goes too
        Path(str(path) + suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    ledger = billing_core.open_ledger(str(path), create=True)
    db = ledger.db
    with db.writing() as cur:
        cur.execute(
            """
            INSERT INTO users (id, email, name, is_admin, password_hash, created_at)
            SELECT i, 'user' || i || '@bench.example', 'User ' || i, i <= 2, NULL, TIMESTAMP '2025-01-01'
            FROM range(1, ? + 1) t(i)
            """,
            [users],
        )
        cur.execute(
            """
            INSERT INTO workspaces (id, name, name_key, created_at)
            SELECT i, 'Workspace ' || i, 'workspace ' || i, TIMESTAMP '2025-01-01'
            FROM range(1, ? + 1) t(i)
            """,
            [workspaces],
        )
        cur.execute(
            """
            INSERT INTO accounts (id, code, workspace_id)
            SELECT 100 + i, 'wallet:' || i, i FROM range(1, ? + 1) t(i)
            """,
            [workspaces],
        )
        cur.execute(
            """
            INSERT INTO wallets (workspace_id, account_id, status, balance, updated_at)
            SELECT i, 100 + i, 'active', 0, TIMESTAMP '2025-01-01' FROM range(1, ? + 1) t(i)
            """,
            [workspaces],
        )
        cur.execute(
            """
            INSERT INTO memberships (workspace_id, user_id, created_at)
            SELECT DISTINCT (1 + hash(u * 7 + k) % ?)::BIGINT, u, TIMESTAMP '2025-01-01'
            FROM range(3, ? + 1) t(u), range(0, 2) s(k)
            """,
            [workspaces, users],
        )
        # The first `workspaces` entries fund each wallet; the rest are small debits
        # spread over `days`, in time order, each wallet's total far below its funding.
        cur.execute(
            """
            INSERT INTO entries (id, workspace_id, kind, amount, feature, description,
                                 actor_id, request_id, created_at)
            SELECT i,
                   CASE WHEN i <= ? THEN i WHEN hash(i * 13) % 40 = 0 THEN 1
                        ELSE (1 + hash(i) % ?)::BIGINT END,
                   CASE WHEN i <= ? THEN 'credit' ELSE 'debit' END,
                   CASE WHEN i <= ? THEN 100000000 ELSE (1 + hash(i * 3) % 500)::BIGINT / 100 END
                       ::DECIMAL(18,4),
                   CASE WHEN i <= ? THEN NULL ELSE (?::VARCHAR[])[(1 + hash(i * 5) % 5)::BIGINT] END,
                   CASE WHEN i <= ? THEN 'Initial funding' ELSE 'Feature use ' || i END,
                   (3 + hash(i * 11) % (? - 2))::BIGINT,
                   NULL,
                   TIMESTAMP '2025-01-01' + to_microseconds((i * (? * 86400000000 // ?))::BIGINT)
            FROM range(1, ? + 1) t(i)
            """,
            [workspaces, workspaces, workspaces, workspaces, workspaces, FEATURES, workspaces,
             users, days, entries, entries],
        )
        cur.execute(
            """
            INSERT INTO postings (entry_id, account_id, amount)
            SELECT id, 100 + workspace_id, CASE WHEN kind = 'debit' THEN -amount ELSE amount END
            FROM entries
            UNION ALL
            SELECT id, CASE WHEN kind = 'debit' THEN ? ELSE ? END,
                   CASE WHEN kind = 'debit' THEN amount ELSE -amount END
            FROM entries
            """,
            [PLATFORM_ACCOUNTS[USAGE_ACCOUNT], PLATFORM_ACCOUNTS[TOPUPS_ACCOUNT]],
        )
        # one movement audit row per entry, as the journal writes them (verify() checks it)
        cur.execute(
            """
            INSERT INTO audit_log (id, recorded_at, actor_id, action, subject, workspace_id, before, after)
            SELECT id, created_at, actor_id,
                   CASE WHEN kind = 'debit' THEN 'wallet.consume' ELSE 'wallet.grant' END,
                   'entry:' || id, workspace_id, NULL,
                   '{"amount": "' || CAST(amount AS VARCHAR) || '"}'
            FROM entries
            """
        )
        cur.execute(
            """
            INSERT INTO daily_rollups
            SELECT workspace_id, coalesce(feature, ''), created_at::DATE,
                   sum(CASE WHEN kind = 'debit' THEN amount ELSE 0 END),
                   sum(CASE WHEN kind = 'credit' THEN amount ELSE 0 END),
                   count(*) FILTER (WHERE kind = 'debit'), count(*) FILTER (WHERE kind = 'credit')
            FROM entries GROUP BY ALL ORDER BY 3, 1, 2
            """
        )
        cur.execute(
            """
            UPDATE wallets SET balance = t.total
            FROM (SELECT account_id, sum(amount) AS total FROM postings GROUP BY account_id) t
            WHERE wallets.account_id = t.account_id
            """
        )
    ledger.checkpoint()
    ledger.close()
    return time.perf_counter() - started
