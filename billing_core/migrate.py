"""`billing migrate`: copy an embedded DuckDB ledger into another store (a
PostgreSQL server, usually) with every invariant checked.

The source is verified first; the whole copy is one transaction on the target
(all of it lands, or nothing); the target's id sequences are moved past the
copied ids and its planner statistics refreshed; then the target is verified and
compared with the source: the same rows in every table, the same balance in every
wallet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa

from .errors import InvalidInput, LedgerCorrupt
from .ledger import Ledger
from .schema import PLATFORM_ACCOUNTS, SYSTEM_USER_ID
from .store_duckdb import DuckDatabase

BATCH_ROWS = 200_000

# Every table, parents first, and the rows the target already holds from its own set-up.
TABLES: tuple[tuple[str, str], ...] = (
    ("users", f"id <> {SYSTEM_USER_ID}"),
    ("workspaces", "TRUE"),
    ("memberships", "TRUE"),
    ("accounts", "id NOT IN ({})".format(", ".join(str(i) for i in PLATFORM_ACCOUNTS.values()))),
    ("wallets", "TRUE"),
    ("entries", "TRUE"),
    ("postings", "TRUE"),
    ("grants", "TRUE"),
    ("legacy_entries", "TRUE"),
    ("idempotency_keys", "TRUE"),
    ("daily_rollups", "TRUE"),
    ("credit_requests", "TRUE"),
    ("credit_policies", "TRUE"),
    ("audit_log", "TRUE"),
    ("sign_in_attempts", "TRUE"),
    ("outbox", "TRUE"),
    ("inbox", "TRUE"),
    ("deliveries", "TRUE"),
    ("webhooks", "TRUE"),
    ("notification_settings", "TRUE"),
    ("balance_thresholds", "TRUE"),
    ("active_alerts", "TRUE"),
    ("reported_spikes", "TRUE"),
    ("sessions", "TRUE"),
    ("password_links", "TRUE"),
    ("prices", "TRUE"),
    ("usage_remainders", "TRUE"),
)


@dataclass(frozen=True, slots=True)
class MigrationReport:
    rows: dict[str, int]  # table -> rows in the target after the copy
    wallets: int
    entries: int
    total_balance: Decimal


def _counts(ledger: Ledger) -> dict[str, int]:
    with ledger.db.reading() as cur:
        # table names come from the constant TABLES above
        return {
            table: int(cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table, _ in TABLES
        }


def _balances(ledger: Ledger) -> dict[int, Decimal]:
    with ledger.db.reading() as cur:
        rows = cur.execute("SELECT workspace_id, balance FROM wallets").fetchall()
    return {int(w): Decimal(b) for w, b in rows}


def copy_ledger(
    source: Ledger, target: Ledger, progress: Callable[[str, int], None] | None = None
) -> MigrationReport:
    """Copy `source` (a DuckDB ledger) into the empty ledger `target`; see the module docstring."""
    if not isinstance(source.db, DuckDatabase):
        raise InvalidInput("Migrate from an embedded DuckDB ledger file.")
    if source.db.path == target.db.path:
        raise InvalidInput("The source and the target are the same ledger.")
    before = _counts(target)
    if before["users"] > 1 or any(n for t, n in before.items() if t not in ("users", "accounts")) or (
        before["accounts"] > len(PLATFORM_ACCOUNTS)
    ):
        raise InvalidInput(
            f"The target {target.db.path} already holds data; migrate into a new, empty ledger only."
        )
    source.verify()
    reader = source.db.cursor()
    try:
        with target.db.writing() as cur:
            for table, keep in TABLES:
                # table names and filters are the constants above, never input
                batches = reader.sql(f"SELECT * FROM {table} WHERE {keep}").fetch_record_batch(
                    BATCH_ROWS
                )
                copied = 0
                for batch in batches:
                    target.db.insert_arrow(cur, table, plain_table(batch))
                    copied += batch.num_rows
                    if progress is not None:
                        progress(table, copied)
            target.db.after_bulk_copy(cur)
    finally:
        reader.close()
    target.db.directory_changed()
    target.db.refresh_statistics()
    return _compare(source, target)


def plain_table(batch: pa.RecordBatch) -> pa.Table:
    table = pa.Table.from_batches([batch])
    # DuckDB may hand text out as string_view; every store takes plain strings
    fields = [
        pa.field(f.name, pa.string()) if f.type == pa.string_view() else f for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def _compare(source: Ledger, target: Ledger) -> MigrationReport:
    report = target.verify()
    want, got = _counts(source), _counts(target)
    if want != got:
        differ = {t: (want[t], got[t]) for t in want if want[t] != got[t]}
        raise LedgerCorrupt(f"The copy differs from the source in row counts (source, target): {differ}")
    balances = _balances(source)
    if balances != _balances(target):
        raise LedgerCorrupt("The copy differs from the source in wallet balances.")
    return MigrationReport(
        rows=got,
        wallets=report.wallets,
        entries=report.entries,
        total_balance=sum(balances.values(), Decimal(0)),
    )
