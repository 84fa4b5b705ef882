"""The ledger's schema and its ordered migrations.

Tables fall in three groups:
- append-only: `entries` (one row per movement, the journal), `postings` (two per
  entry, summing to zero), `audit_log`, `idempotency_keys`;
- `sign_in_attempts`: recorded at every sign-in, failed ones pruned once they are
  older than the sign-in window (signin.py);
- `sessions` (signed-in browsers: a token's hash, never the token) and `password_links`
  (one-time invitation and reset links, hashed the same way): their rows are ended or
  used, never deleted (sessions.py, links.py);
- current state, changed only inside audited transactions: `wallets` (status and a
  running balance that `verify()` recomputes from the postings), `grants` (the credits
  a wallet holds, each with what remains of it, moved with the balance),
  `credit_policies` (a workspace's standing approval and automatic top-up),
  `credit_requests` (their workflow status), `daily_rollups` (spend per workspace,
  feature and day).

Money columns are DECIMAL(18,4); times are TIMESTAMP in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import LedgerUnavailable

# Migration 5: credit grants. Every credit becomes a grant (kind, priority, optional expiry)
# that debits draw from in a fixed order; each wallet posting names the grant it moved,
# so a debit can have several wallet postings (one per grant it drew from). An expiry is
# a third kind of entry, against `platform:expired` (account 0: ids from 3 on are wallets'
# on existing ledgers). A wallet that holds credits gets one 'opening' grant for them;
# entries already written name no grant (`legacy_entries` says up to which id).
GRANTS_MIGRATION = """
    CREATE TABLE grants (
        id               BIGINT PRIMARY KEY,
        workspace_id     BIGINT NOT NULL,
        kind             VARCHAR NOT NULL,        -- 'purchased' | 'promotional'
        priority         INTEGER NOT NULL,        -- lower is drawn first
        amount           DECIMAL(18,4) NOT NULL,  -- as granted
        remaining        DECIMAL(18,4) NOT NULL,  -- what is left: moved with the balance
        expires_at       TIMESTAMP,               -- NULL: never
        source           VARCHAR NOT NULL,        -- 'request:12', 'grant', 'opening'
        entry_id         BIGINT,                  -- the credit that made it (NULL: opening)
        created_by       BIGINT NOT NULL,
        created_at       TIMESTAMP NOT NULL,
        expired_entry_id BIGINT                   -- the expiry entry, once expired
    );
    ALTER TABLE postings ADD COLUMN grant_id BIGINT;
    ALTER TABLE daily_rollups ADD COLUMN expired DECIMAL(18,4) NOT NULL DEFAULT 0;
    ALTER TABLE daily_rollups ADD COLUMN expiry_count BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE credit_requests ADD COLUMN automatic BOOLEAN NOT NULL DEFAULT FALSE;
    ALTER TABLE credit_requests ADD COLUMN by_policy BOOLEAN NOT NULL DEFAULT FALSE;
    CREATE TABLE credit_policies (
        workspace_id      BIGINT PRIMARY KEY,
        approve_up_to     DECIMAL(18,4),          -- standing approval: each request up to this
        approve_per_month DECIMAL(18,4),          -- ... and this much per calendar month
        top_up_below      DECIMAL(18,4),          -- automatic top-up: below this balance
        top_up_amount     DECIMAL(18,4),          -- ... ask for this much
        top_ups_per_month INTEGER,                -- ... at most this many times a month
        grant_kind        VARCHAR NOT NULL,       -- what an approval grants by default
        grant_days        INTEGER,                -- ... expiring this many days later
        updated_by        BIGINT NOT NULL,
        updated_at        TIMESTAMP NOT NULL
    );
    CREATE TABLE legacy_entries (last_id BIGINT NOT NULL);
    INSERT INTO legacy_entries SELECT max(id) FROM entries HAVING count(*) > 0;
    INSERT INTO accounts (id, code, workspace_id) VALUES (0, 'platform:expired', NULL);
    INSERT INTO grants (id, workspace_id, kind, priority, amount, remaining, expires_at, source,
                        entry_id, created_by, created_at, expired_entry_id)
        SELECT row_number() OVER (ORDER BY workspace_id), workspace_id, 'purchased', 20, balance,
               balance, NULL, 'opening', NULL, 0, updated_at, NULL
        FROM wallets WHERE balance > 0;
"""
MIGRATIONS: Sequence[tuple[int, str]] = (
    (
        1,
        """
        CREATE TABLE users (
            id            BIGINT PRIMARY KEY,
            email         VARCHAR NOT NULL UNIQUE,  -- stored lower-cased
            name          VARCHAR NOT NULL,
            is_admin      BOOLEAN NOT NULL,
            password_hash VARCHAR,
            created_at    TIMESTAMP NOT NULL
        );
        CREATE TABLE workspaces (
            id         BIGINT PRIMARY KEY,
            name       VARCHAR NOT NULL,
            name_key   VARCHAR NOT NULL UNIQUE,     -- lower-cased name
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE memberships (
            workspace_id BIGINT NOT NULL,
            user_id      BIGINT NOT NULL,
            created_at   TIMESTAMP NOT NULL,
            PRIMARY KEY (workspace_id, user_id)
        );
        CREATE TABLE accounts (
            id           BIGINT PRIMARY KEY,
            code         VARCHAR NOT NULL UNIQUE,   -- 'wallet:<id>', 'platform:top-ups', ...
            workspace_id BIGINT
        );
        CREATE TABLE wallets (
            workspace_id BIGINT PRIMARY KEY,
            account_id   BIGINT NOT NULL,
            status       VARCHAR NOT NULL,
            balance      DECIMAL(18,4) NOT NULL,
            updated_at   TIMESTAMP NOT NULL
        );
        CREATE TABLE entries (
            id           BIGINT NOT NULL,
            workspace_id BIGINT NOT NULL,
            kind         VARCHAR NOT NULL,          -- 'debit' | 'credit'
            amount       DECIMAL(18,4) NOT NULL,    -- always > 0
            feature      VARCHAR,
            description  VARCHAR NOT NULL,
            actor_id     BIGINT,
            request_id   BIGINT,
            created_at   TIMESTAMP NOT NULL
        );
        CREATE TABLE postings (
            entry_id   BIGINT NOT NULL,
            account_id BIGINT NOT NULL,
            amount     DECIMAL(18,4) NOT NULL       -- signed; an entry's postings sum to 0
        );
        CREATE TABLE idempotency_keys (
            key          VARCHAR PRIMARY KEY,
            entry_id     BIGINT NOT NULL,
            workspace_id BIGINT NOT NULL,
            amount       DECIMAL(18,4) NOT NULL,
            feature      VARCHAR
        );
        -- Spend per workspace, feature and day, written with the entries. Rows are
        -- deltas: readers sum them by key; the writer merges a key's rows now and then.
        CREATE TABLE daily_rollups (
            workspace_id BIGINT NOT NULL,
            feature      VARCHAR NOT NULL,          -- '' for credits without a feature (NULL from v3: totals)
            day          DATE NOT NULL,
            debits       DECIMAL(18,4) NOT NULL,
            credits      DECIMAL(18,4) NOT NULL,
            debit_count  BIGINT NOT NULL,
            credit_count BIGINT NOT NULL
        );
        CREATE TABLE credit_requests (
            id            BIGINT PRIMARY KEY,
            workspace_id  BIGINT NOT NULL,
            amount        DECIMAL(18,4) NOT NULL,
            note          VARCHAR,
            status        VARCHAR NOT NULL,
            requested_by  BIGINT NOT NULL,
            requested_at  TIMESTAMP NOT NULL,
            decided_by    BIGINT,
            decided_at    TIMESTAMP,
            decision_note VARCHAR,
            entry_id      BIGINT
        );
        CREATE TABLE audit_log (
            id           BIGINT NOT NULL,
            recorded_at  TIMESTAMP NOT NULL,
            actor_id     BIGINT,
            action       VARCHAR NOT NULL,
            subject      VARCHAR NOT NULL,
            workspace_id BIGINT,
            before       VARCHAR,
            after        VARCHAR
        );
        CREATE TABLE sign_in_attempts (
            email        VARCHAR NOT NULL,
            attempted_at TIMESTAMP NOT NULL,
            succeeded BOOLEAN NOT NULL
        );
        """,
    ),
    (
        2,
        # Idempotency keys are scoped to their workspace: one workspace's key neither blocks
        # nor reveals another's. Sign-in attempts name the client they came from.
        """
        CREATE TABLE idempotency_keys_by_workspace (
            key          VARCHAR NOT NULL,
            entry_id     BIGINT NOT NULL,
            workspace_id BIGINT NOT NULL,
            amount       DECIMAL(18,4) NOT NULL,
            feature      VARCHAR,
            PRIMARY KEY (workspace_id, key)
        );
        INSERT INTO idempotency_keys_by_workspace
            SELECT key, entry_id, workspace_id, amount, feature FROM idempotency_keys;
        DROP TABLE idempotency_keys;
        ALTER TABLE idempotency_keys_by_workspace RENAME TO idempotency_keys;
        ALTER TABLE sign_in_attempts ADD COLUMN client VARCHAR;
        """,
    ),
    (
        3,
        # Daily rollups gain a second grain: per workspace and day, feature NULL (the
        # totals the wallet and workspace charts read, without summing every feature).
        """
        ALTER TABLE daily_rollups ALTER COLUMN feature DROP NOT NULL;
        INSERT INTO daily_rollups
            SELECT workspace_id, NULL, day, sum(debits), sum(credits), sum(debit_count), sum(credit_count)
            FROM daily_rollups GROUP BY workspace_id, day;
        """,
    ),
    (
        4,
        """
        -- Events, written in the transaction of the change that causes them (issue 13).
        CREATE TABLE outbox (
            id           BIGINT PRIMARY KEY,          -- the event id, stable on every retry
            event        VARCHAR NOT NULL,            -- 'request.created', 'balance.low', ...
            created_at   TIMESTAMP NOT NULL,
            workspace_id BIGINT,
            request_id   BIGINT,
            actor_id     BIGINT,
            payload      VARCHAR NOT NULL             -- JSON: what the message says
        );
        -- The in-app inbox: one row per person an event is for.
        CREATE TABLE inbox (
            id       BIGINT PRIMARY KEY,
            user_id  BIGINT NOT NULL,
            event_id BIGINT NOT NULL,
            read_at  TIMESTAMP
        );
        -- Email and webhook deliveries, tried until delivered or given up.
        CREATE TABLE deliveries (
            id              BIGINT PRIMARY KEY,
            event_id        BIGINT NOT NULL,
            channel         VARCHAR NOT NULL,         -- 'email' | 'webhook'
            target          VARCHAR NOT NULL,         -- an email address, or 'webhook:<id>'
            status          VARCHAR NOT NULL,         -- 'pending' | 'delivered' | 'failed'
            attempts        INTEGER NOT NULL,
            next_attempt_at TIMESTAMP NOT NULL,
            lease_until     TIMESTAMP,                -- a dispatcher is sending it until then
            last_error      VARCHAR,
            last_status     INTEGER,
            response_ms     INTEGER,
            delivered_at    TIMESTAMP,
            created_at      TIMESTAMP NOT NULL
        );
        CREATE TABLE webhooks (
            id         BIGINT PRIMARY KEY,
            url        VARCHAR NOT NULL,
            secret     VARCHAR NOT NULL,             -- whsec_ + base64, as Standard Webhooks
            events     VARCHAR NOT NULL,             -- JSON list of event names
            active     BOOLEAN NOT NULL,
            created_by BIGINT NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        -- A person's email preferences; no row: every event they receive, by email.
        CREATE TABLE notification_settings (
            user_id       BIGINT PRIMARY KEY,
            email_enabled BOOLEAN NOT NULL,
            email_events  VARCHAR NOT NULL            -- JSON list of event names
        );
        -- Low-balance levels per workspace: the settings, and the amounts they mean now.
        CREATE TABLE balance_thresholds (
            workspace_id  BIGINT PRIMARY KEY,
            settings      VARCHAR NOT NULL,           -- JSON: share, runway days, amounts, spike factor
            levels        VARCHAR NOT NULL,           -- JSON: [[label, amount], ...] at refreshed_at
            refreshed_at  TIMESTAMP NOT NULL
        );
        -- Alerts that fired and have not resolved yet; spikes already reported.
        CREATE TABLE active_alerts (
            workspace_id BIGINT NOT NULL,
            label        VARCHAR NOT NULL,
            since        TIMESTAMP NOT NULL,
            event_id     BIGINT NOT NULL,
            PRIMARY KEY (workspace_id, label)
        );
        CREATE TABLE reported_spikes (
            workspace_id BIGINT NOT NULL,
            window_start TIMESTAMP NOT NULL,
            span         VARCHAR NOT NULL,            -- 'hour' | 'day'
            event_id     BIGINT NOT NULL,
            PRIMARY KEY (workspace_id, span, window_start)
        );
        """,
    ),
    (5, GRANTS_MIGRATION),
    (
        6,  # 5 is the credit grants' (issue 14)
        # Running it for real: people can be deactivated and sign in through single sign-on
        # only; workspaces archived; an entry may correct (reverse) an earlier one; signed-in
        # sessions and one-time password links.
        """
        ALTER TABLE users ADD COLUMN deactivated_at TIMESTAMP;
        ALTER TABLE users ADD COLUMN sso_only BOOLEAN NOT NULL DEFAULT FALSE;
        ALTER TABLE workspaces ADD COLUMN archived_at TIMESTAMP;
        ALTER TABLE entries ADD COLUMN corrects BIGINT;  -- the entry this one reverses
        CREATE TABLE sessions (
            id           BIGINT PRIMARY KEY,
            user_id      BIGINT NOT NULL,
            token_hash   VARCHAR NOT NULL,          -- SHA-256 of the secret, hex
            created_at   TIMESTAMP NOT NULL,
            last_seen_at TIMESTAMP NOT NULL,
            expires_at   TIMESTAMP NOT NULL,        -- the absolute end
            client       VARCHAR,                   -- the browser's address, as seen
            user_agent   VARCHAR,
            ended_at     TIMESTAMP,
            end_reason   VARCHAR                    -- 'signed out', 'deactivated', ...
        );
        CREATE TABLE password_links (
            id         BIGINT PRIMARY KEY,
            user_id    BIGINT NOT NULL,
            purpose    VARCHAR NOT NULL,            -- 'invite' | 'reset'
            token_hash VARCHAR NOT NULL,
            created_by BIGINT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            expires_at TIMESTAMP NOT NULL,
            used_at    TIMESTAMP                    -- used, or replaced by a newer link
        );
        """,
    ),
    (
        7,
        # Usage priced into credits (issue 15): a versioned rate card, the sub-precision
        # remainder carried per workspace and feature, the usage behind a debit, and the
        # external id a gateway knows a workspace by. Numbers 5 and 6 belong to other
        # changes; a migration is applied when its number is not yet recorded.
        """
        -- Append-only: a new price for (feature, unit) applies from effective_from on;
        -- earlier rows are kept and never edited. feature '*' prices every feature
        -- without its own price. Rates keep 10 decimals (a token costs fractions of a
        -- credit); amounts stay DECIMAL(18,4).
        CREATE TABLE prices (
            id               BIGINT PRIMARY KEY,
            feature          VARCHAR NOT NULL,
            unit             VARCHAR NOT NULL,        -- pricing.Unit
            credits_per_unit DECIMAL(38,10) NOT NULL,
            effective_from   TIMESTAMP NOT NULL,
            created_by       BIGINT NOT NULL,
            created_at       TIMESTAMP NOT NULL
        );
        -- What a pair's priced usage owes below 0.0001 credit, carried to its next event;
        -- updated in the transaction of the debit that leaves it.
        CREATE TABLE usage_remainders (
            workspace_id BIGINT NOT NULL,
            feature      VARCHAR NOT NULL,
            remainder    DECIMAL(38,18) NOT NULL,     -- 0 <= remainder < 0.0001
            updated_at   TIMESTAMP NOT NULL,
            PRIMARY KEY (workspace_id, feature)
        );
        ALTER TABLE entries ADD COLUMN quantity DECIMAL(20,8);   -- usage debits: what was used,
        ALTER TABLE entries ADD COLUMN unit VARCHAR;              -- in which unit,
        ALTER TABLE entries ADD COLUMN rate DECIMAL(38,10);       -- at which credits per unit
        ALTER TABLE idempotency_keys ADD COLUMN quantity DECIMAL(20,8);
        ALTER TABLE idempotency_keys ADD COLUMN unit VARCHAR;
        ALTER TABLE workspaces ADD COLUMN external_id VARCHAR;   -- a gateway's team id, say
        CREATE UNIQUE INDEX workspaces_by_external_id ON workspaces (external_id);
        """,
    ),
)


def migration(number: int) -> str:
    """The SQL of migration `number` (schema_postgres builds on it by number)."""
    return dict(MIGRATIONS)[number]


LATEST = MIGRATIONS[-1][0]

# The system account: the operator behind the command line and the platform's
# own accounts on the other side of every posting.
SYSTEM_USER_ID = 0
SYSTEM_EMAIL = "system@billing.local"
TOPUPS_ACCOUNT = "platform:top-ups"
USAGE_ACCOUNT = "platform:usage"
EXPIRED_ACCOUNT = "platform:expired"  # the other side of expiry entries (from migration 5)
PLATFORM_ACCOUNTS = {TOPUPS_ACCOUNT: 1, USAGE_ACCOUNT: 2, EXPIRED_ACCOUNT: 0}
_FIRST_ACCOUNTS = (TOPUPS_ACCOUNT, USAGE_ACCOUNT)  # made with the first migration


LEDGER_MARK = "schema_version"  # the table every ledger has, from its first migration on
TABLES_SQL = """
    SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()
"""


def check_opening(where: str, tables: set[str], *, create: bool) -> None:
    """Refuse to open a database that is not a ledger, before anything is written to it.

    A ledger (it has `schema_version`) opens and is migrated. An empty database becomes a
    ledger only when `create` is set (`billing init`, `billing seed`, the target of
    `billing migrate`, `make run`'s own default file); a database holding other tables
    belongs to another program and is never touched.
    """
    if LEDGER_MARK in tables:
        return
    if tables:
        raise LedgerUnavailable(
            f"{where} is another program's database (it holds tables, but not a billing "
            "ledger's). It was not opened and nothing in it was changed."
        )
    if not create:
        raise LedgerUnavailable(
            f"{where} holds no ledger yet. To create one there, run: billing init --db {where}"
        )


def current_version(cur: Any) -> int:
    cur.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    row = cur.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(cur: Any) -> int:
    """Apply every migration not yet recorded, in order of number, each in one transaction
    (by number, not by the highest applied: numbers merged out of order still apply)."""
    current_version(cur)  # creates schema_version on a new database
    applied = {int(r[0]) for r in cur.execute("SELECT version FROM schema_version").fetchall()}
    for number, sql in MIGRATIONS:
        if number in applied:
            continue
        cur.execute("BEGIN TRANSACTION")
        try:
            cur.execute(sql)
            if number == 1:
                seed_constants(cur)
            cur.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [number])
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
    return current_version(cur)


def seed_constants(cur: Any) -> None:
    cur.execute(
        """
        INSERT INTO users (id, email, name, is_admin, password_hash, created_at)
        VALUES (?, ?, 'Billing system', TRUE, NULL, now()::TIMESTAMP)
        """,
        [SYSTEM_USER_ID, SYSTEM_EMAIL],
    )
    for code in _FIRST_ACCOUNTS:
        cur.execute(
            "INSERT INTO accounts (id, code, workspace_id) VALUES (?, ?, NULL)",
            [PLATFORM_ACCOUNTS[code], code],
        )
