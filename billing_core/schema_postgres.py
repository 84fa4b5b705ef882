"""The ledger's schema on PostgreSQL: the same tables as schema.py, plus what a
server with many writers needs.

- Ids come from sequences (several processes insert at once).
- Indexes where DuckDB relied on zone maps.
- `directory_version`: a counter every directory change bumps in its transaction,
  so each process knows when its cached snapshot of people and workspaces is stale.
- Triggers refuse UPDATE and DELETE on the append-only tables (entries, postings,
  audit_log, sign_in_attempts) and on idempotency keys, whoever connects.

Only SQL that PostgreSQL-compatible distributed databases also accept is used by
the ledger's queries; the triggers are PL/pgSQL and may be dropped on such a
database (the ledger never updates those tables itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .schema import migration, seed_constants

_TABLES = migration(1)  # the same column definitions as the embedded store

MIGRATIONS: Sequence[tuple[int, str]] = (
    (
        1,
        _TABLES
        + """
        CREATE UNIQUE INDEX entries_by_id ON entries (id);
        CREATE UNIQUE INDEX audit_by_id ON audit_log (id);
        CREATE INDEX memberships_by_user ON memberships (user_id);
        CREATE INDEX entries_by_workspace ON entries (workspace_id, id);
        CREATE INDEX entries_by_time ON entries (created_at);
        CREATE INDEX entries_by_request ON entries (request_id) WHERE request_id IS NOT NULL;
        CREATE INDEX postings_by_entry ON postings (entry_id);
        CREATE INDEX postings_by_account ON postings (account_id);
        CREATE INDEX rollups_by_day ON daily_rollups (day, workspace_id, feature);
        CREATE INDEX rollups_by_workspace ON daily_rollups (workspace_id, day);
        CREATE INDEX requests_by_status ON credit_requests (status, workspace_id);
        CREATE INDEX audit_by_workspace ON audit_log (workspace_id, id);
        CREATE INDEX sign_ins_by_email ON sign_in_attempts (email, attempted_at);

        CREATE SEQUENCE users_id_seq;
        CREATE SEQUENCE workspaces_id_seq;
        CREATE SEQUENCE accounts_id_seq START 3;  -- 1 and 2 are the platform accounts
        CREATE SEQUENCE entries_id_seq;
        CREATE SEQUENCE credit_requests_id_seq;
        CREATE SEQUENCE audit_log_id_seq;

        CREATE TABLE directory_version (id INTEGER PRIMARY KEY, generation BIGINT NOT NULL);
        INSERT INTO directory_version VALUES (1, 0);

        CREATE FUNCTION billing_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'The % table is append-only: % is refused.', TG_TABLE_NAME, TG_OP;
        END $$;
        CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
            FOR EACH STATEMENT EXECUTE FUNCTION billing_append_only();
        CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
            FOR EACH STATEMENT EXECUTE FUNCTION billing_append_only();
        CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION billing_append_only();
        CREATE TRIGGER keys_append_only BEFORE UPDATE OR DELETE ON idempotency_keys
            FOR EACH STATEMENT EXECUTE FUNCTION billing_append_only();
        """,
    ),
    (
        2,
        """
        ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
        ALTER TABLE idempotency_keys ADD PRIMARY KEY (workspace_id, key);
        ALTER TABLE sign_in_attempts ADD COLUMN client VARCHAR;
        CREATE INDEX sign_ins_by_client ON sign_in_attempts (client, attempted_at);
        """,
    ),
    (
        3,
        """
        ALTER TABLE daily_rollups ALTER COLUMN feature DROP NOT NULL;
        INSERT INTO daily_rollups
            SELECT workspace_id, NULL, day, sum(debits), sum(credits), sum(debit_count), sum(credit_count)
            FROM daily_rollups GROUP BY workspace_id, day;
        CREATE INDEX rollup_totals_by_day ON daily_rollups (day, workspace_id) WHERE feature IS NULL;
        """,
    ),
    (
        4,
        migration(4)
        + """
        CREATE INDEX inbox_by_user ON inbox (user_id, id);
        CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
        CREATE INDEX deliveries_by_event ON deliveries (event_id);
        CREATE SEQUENCE outbox_id_seq;
        CREATE SEQUENCE inbox_id_seq;
        CREATE SEQUENCE deliveries_id_seq;
        CREATE SEQUENCE webhooks_id_seq;
        """,
    ),
    (
        5,
        migration(5)
        + """
        CREATE INDEX live_grants ON grants (workspace_id) WHERE remaining > 0;
        CREATE INDEX grants_due ON grants (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;
        CREATE INDEX postings_by_grant ON postings (grant_id) WHERE grant_id IS NOT NULL;
        CREATE INDEX automatic_requests ON credit_requests (workspace_id, requested_at) WHERE automatic;
        CREATE SEQUENCE grants_id_seq;
        SELECT setval('grants_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM grants), false);
        """,
    ),
    (
        6,
        migration(6)
        + """
        CREATE INDEX sessions_by_user ON sessions (user_id) WHERE ended_at IS NULL;
        CREATE INDEX links_by_user ON password_links (user_id) WHERE used_at IS NULL;
        CREATE UNIQUE INDEX entries_correct_once ON entries (corrects) WHERE corrects IS NOT NULL;
        CREATE SEQUENCE sessions_id_seq;
        CREATE SEQUENCE password_links_id_seq;
        """,
    ),
    (
        7,
        migration(7)
        + """
        CREATE INDEX prices_by_feature ON prices (feature, unit, effective_from);
        CREATE SEQUENCE prices_id_seq;
        """,
    ),
)

SEQUENCES = {
    "users": "users_id_seq",
    "workspaces": "workspaces_id_seq",
    "accounts": "accounts_id_seq",
    "entries": "entries_id_seq",
    "credit_requests": "credit_requests_id_seq",
    "audit_log": "audit_log_id_seq",
    "outbox": "outbox_id_seq",
    "inbox": "inbox_id_seq",
    "deliveries": "deliveries_id_seq",
    "webhooks": "webhooks_id_seq",
    "grants": "grants_id_seq",
    "sessions": "sessions_id_seq",
    "password_links": "password_links_id_seq",
    "prices": "prices_id_seq",
}

_MIGRATION_LOCK = 7_314_159  # advisory lock: one process migrates at a time


def migrate(conn: Any) -> int:
    """Apply every migration newer than the database's version, each in one transaction
    (PostgreSQL's DDL is transactional), one process at a time."""
    version = 0
    for number, sql in MIGRATIONS:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(?)", [_MIGRATION_LOCK])
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)"
            )
            # by number, not by the highest applied: numbers merged out of order still apply
            applied = {int(r[0]) for r in cur.execute("SELECT version FROM schema_version").fetchall()}
            version = max(applied | {number})
            if number in applied:
                continue
            cur.execute(sql)
            if number == 1:
                seed_constants(cur)
            cur.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [number])
    return version


def sync_sequences(cur: Any) -> None:
    """Move every id sequence past the table's highest id (after a bulk copy)."""
    for table, sequence in SEQUENCES.items():
        # names come from the constant mapping above, never from input
        cur.execute(
            f"SELECT setval('{sequence}', (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )
