"""The Ledger: one object per process, safe to share between threads.

Its operations live in small modules by concern (directory, wallets, requests,
history, analytics, sign-in); this class puts them together over one Database.
"""

from __future__ import annotations

from datetime import date, datetime

from . import audit, rollups
from .access import require_admin
from .analytics import AnalyticsOps
from .clock import Clock, clock_from_env
from .directory import DirectoryOps
from .group_commit import DebitWriter
from .history import HistoryOps
from .ingest import consume_many
from .models import AuditRecord, IngestResult, User, VerificationReport
from .requests import RequestOps
from .schema import SYSTEM_USER_ID
from .signin import SignInOps
from .store import Database, as_utc, open_database
from .text import clean_limit
from .verify import verify
from .wallets import WalletOps


class Ledger(DirectoryOps, WalletOps, RequestOps, HistoryOps, AnalyticsOps, SignInOps):
    def __init__(self, db: Database) -> None:
        self.db = db
        self._debits = DebitWriter(db)

    @property
    def path(self) -> str:
        return self.db.path

    def now(self) -> datetime:
        """The ledger's clock as an aware UTC datetime: what relative times are measured from."""
        return as_utc(self.db.clock())

    def consume_many(self, actor: User, events: object) -> IngestResult:
        """Debit a batch of usage events (a DataFrame or Arrow table) in one transaction:
        what fits is posted, the rest reported; see billing_core.ingest."""
        return consume_many(self.db, actor, events)

    def has_data(self) -> bool:
        """Whether anyone or anything beyond the built-in system account was set up."""
        with self.db.reading() as cur:
            row = cur.execute(
                "SELECT (SELECT count(*) FROM workspaces) + (SELECT count(*) FROM users WHERE id <> ?)",
                [SYSTEM_USER_ID],
            ).fetchone()
        return bool(row and row[0])

    def has_admin(self) -> bool:
        """Whether anyone can administer this ledger yet (the first-run question)."""
        with self.db.reading() as cur:
            row = cur.execute(
                "SELECT count(*) FROM users WHERE is_admin AND id <> ?", [SYSTEM_USER_ID]
            ).fetchone()
        return bool(row and row[0])

    def verify(self) -> VerificationReport:
        """Recompute every balance, entry and rollup; raise LedgerCorrupt on any difference."""
        return verify(self.db)

    def audit_trail(
        self, actor: User, *, workspace_id: int | None = None, limit: int = 200
    ) -> list[AuditRecord]:
        """The newest audit rows (admins only)."""
        clean_limit(limit, most=10_000)
        with self.db.reading() as cur:
            require_admin(self.db, actor, "read the audit trail")
            rows = cur.execute(
                """
                SELECT id, recorded_at, actor_id, action, subject, workspace_id, before, after
                FROM audit_log WHERE (? IS NULL OR workspace_id = ?)
                ORDER BY id DESC LIMIT ?
                """,
                [workspace_id, workspace_id, limit],
            ).fetchall()
        return audit.rows_to_records(rows)

    def compact_rollups(self, since: date) -> int:
        """Merge the daily rollup rows from `since` on (the writer does this as it goes)."""
        return rollups.compact(self.db, since)

    def checkpoint(self) -> None:
        self.db.checkpoint()

    def close(self) -> None:
        self._debits.close()
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_ledger(path: str | None = None, *, clock: Clock | None = None, create: bool = False) -> Ledger:
    """Open (and migrate) the ledger at `path`: a DuckDB file, ":memory:", or a
    postgresql:// URL; by default $BILLING_DB, else data/billing.duckdb. A new ledger is
    made only with `create=True` (`billing init`); a missing file, an empty database
    without `create`, and another program's database are refused, untouched.
    `clock` (naive UTC) defaults to $BILLING_CLOCK when set, else the system clock."""
    return Ledger(open_database(path, clock or clock_from_env(), create=create))
