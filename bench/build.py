"""Build a large synthetic ledger in SQL (never row by row), valid under `verify()`."""

from __future__ import annotations

import time
from pathlib import Path

import billing_core
from billing_core.audit import AuditAction
from billing_core.journal import write_source
from billing_core.schema import PLATFORM_ACCOUNTS, TOPUPS_ACCOUNT, USAGE_ACCOUNT
from billing_core.store import NamedRelation

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
        # The first `workspaces` entries fund each wallet (the credit makes the wallet's one
        # grant, numbered as its workspace); the rest are small debits drawing from it,
        # spread over `days`, in time order, each wallet's total far below its funding.
        # They are made as the journal's batch (every column, balances by a running sum)
        # and written by the journal's own statements: the rows any live movement makes.
        cur.execute(
            """
            CREATE TEMP TABLE bench_movements AS
            SELECT i AS id,
                   CASE WHEN i <= ? THEN i WHEN hash(i * 13) % 40 = 0 THEN 1
                        ELSE (1 + hash(i) % ?)::BIGINT END AS workspace_id,
                   CASE WHEN i <= ? THEN 'credit' ELSE 'debit' END AS kind,
                   CASE WHEN i <= ? THEN 100000000 ELSE (1 + hash(i * 3) % 500)::BIGINT / 100 END
                       ::DECIMAL(18,4) AS amount,
                   CASE WHEN i <= ? THEN NULL ELSE (?::VARCHAR[])[(1 + hash(i * 5) % 5)::BIGINT] END
                       AS feature,
                   CASE WHEN i <= ? THEN 'Initial funding' ELSE 'Feature use ' || i END AS description,
                   (3 + hash(i * 11) % (? - 2))::BIGINT AS actor_id,
                   TIMESTAMP '2025-01-01' + to_microseconds((i * (? * 86400000000 // ?))::BIGINT)
                       AS created_at
            FROM range(1, ? + 1) t(i)
            """,
            [workspaces, workspaces, workspaces, workspaces, workspaces, FEATURES, workspaces,
             users, days, entries, entries],
        )
        cur.execute(
            """
            CREATE TEMP TABLE bench_batch AS
            SELECT id, id AS audit_id, workspace_id, 100 + workspace_id AS account_id,
                   CASE WHEN kind = 'credit' THEN ? ELSE ? END AS platform_id, kind, amount,
                   CASE WHEN kind = 'credit' THEN amount ELSE -amount END AS signed,
                   description, feature, created_at, created_at AS recorded_at, actor_id,
                   NULL::BIGINT AS request_id, NULL::BIGINT AS corrects,
                   NULL::VARCHAR AS idempotency_key,
                   CASE WHEN kind = 'credit' THEN ? ELSE ? END AS action,
                   CAST(balance_after - signed AS DECIMAL(18,4)) AS balance_before,
                   CAST(balance_after AS DECIMAL(18,4)) AS balance_after,
                   1::BIGINT AS piece, workspace_id AS grant_id, signed AS piece_amount,
                   CASE WHEN kind = 'credit' THEN 'purchased' END AS grant_kind,
                   CASE WHEN kind = 'credit' THEN 20 END::BIGINT AS grant_priority,
                   NULL::TIMESTAMP AS grant_expires_at,
                   CASE WHEN kind = 'credit' THEN 'grant' END AS grant_source
            FROM (SELECT *, CASE WHEN kind = 'credit' THEN amount ELSE -amount END AS signed,
                         sum(CASE WHEN kind = 'credit' THEN amount ELSE -amount END)
                             OVER (PARTITION BY workspace_id ORDER BY id) AS balance_after
                  FROM bench_movements) m
            ORDER BY id
            """,
            [PLATFORM_ACCOUNTS[TOPUPS_ACCOUNT], PLATFORM_ACCOUNTS[USAGE_ACCOUNT],
             AuditAction.GRANT.value, AuditAction.CONSUME.value],
        )
        write_source(cur, NamedRelation("bench_batch"), with_keys=False)
        cur.execute("DROP TABLE bench_batch")
        cur.execute("DROP TABLE bench_movements")
        db.after_bulk_copy(cur)  # the id counters (and so the high-water mark) past the rows
    ledger.checkpoint()
    ledger.close()
    return time.perf_counter() - started
