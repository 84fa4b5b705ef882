"""The database handle every operation runs through, whatever the store.

`open_database(where)` picks the store from one setting: a file path or
":memory:" is an embedded DuckDB ledger (store_duckdb.py, the default); a
`postgresql://` URL is a PostgreSQL server (store_postgres.py). Both give the
same small interface, so the rules in the other modules are written once:

- `reading()` / `writing()`: a cursor for reads, and one atomic write
  transaction (rolled back on any error; errors become BillingErrors);
- `lock_rows`: the suffix that makes a SELECT lock what it read until the
  transaction ends (" FOR UPDATE" on a server; empty where writes are serialised);
- ids: `next_id`, `allocate_ids`, `last_id`;
- `insert_arrow` (bulk insert of an Arrow table) and `frame` (a read as a DataFrame);
- the directory snapshot cache and the stamp that tells when it went stale.

SQL in the other modules is written once, in the dialect both stores accept, with
`?` placeholders (the PostgreSQL cursor translates them).
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd
import pyarrow as pa

from .clock import Clock, utc_now

DEFAULT_PATH = Path("data") / "billing.duckdb"
ID_TABLES = ("users", "workspaces", "accounts", "entries", "credit_requests", "audit_log")


def default_path() -> str:
    """$BILLING_DB (a file path, ":memory:" or a postgresql:// URL), else data/billing.duckdb."""
    return os.environ.get("BILLING_DB") or str(DEFAULT_PATH)


def is_server_url(where: str) -> bool:
    return where.startswith(("postgresql://", "postgres://"))


class Database(ABC):
    """One ledger database, shared by every thread of the process."""

    kind: str  # "duckdb" | "postgresql"
    lock_rows: str  # appended to a SELECT that must hold its rows until the commit

    def __init__(self, path: str, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self._directory_lock = threading.Lock()
        self._directory: tuple[object, object] | None = None  # (snapshot, stamp)
        self._local_generation = 0

    # ------------------------------------------------------------ transactions
    @abstractmethod
    def reading(self) -> AbstractContextManager[Any]:
        """A cursor for reads; each statement sees the last committed state."""

    @abstractmethod
    def writing(self) -> AbstractContextManager[Any]:
        """One atomic write transaction; rolled back on any error."""

    # --------------------------------------------------------------------- ids
    @abstractmethod
    def next_id(self, table: str) -> int:
        """A new id of `table`; call inside `writing()`."""

    @abstractmethod
    def allocate_ids(self, table: str, count: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        """`count` new ids of `table`, ascending; call inside `writing()`."""

    @abstractmethod
    def last_id(self, table: str) -> int:
        """The highest id handed out for `table` so far (an estimate of its size)."""

    def pipelined(self, cur: Any) -> AbstractContextManager[None]:
        """Statements whose results nobody reads, sent without waiting for each answer
        where the store can (errors surface by the end of the block)."""
        return nullcontext()

    # ------------------------------------------------------------------ bulk
    @abstractmethod
    def insert_arrow(self, cur: Any, table: str, data: pa.Table) -> None:
        """Insert every row of `data` into `table` (columns matched by name)."""

    @abstractmethod
    def frame(self, sql: str, params: list[object]) -> pd.DataFrame:
        """A read as a DataFrame with Arrow-backed columns (money stays decimal)."""

    @abstractmethod
    def after_bulk_copy(self, cur: Any) -> None:
        """After rows with their own ids were copied in (billing migrate): move the id
        counters past them and mark the directory changed."""

    @abstractmethod
    def refresh_statistics(self) -> None:
        """After a bulk load, let the query planner see the new tables (committed data)."""

    # ------------------------------------------------------------- directory
    @abstractmethod
    def directory_stamp(self) -> object:
        """What the directory snapshot must have been loaded at to be current."""

    @abstractmethod
    def bump_directory(self, cur: Any) -> None:
        """Inside a write that changes people, workspaces or memberships."""

    def directory_changed(self) -> None:
        """After such a write (committed or not): drop this process's snapshot."""
        with self._directory_lock:
            self._local_generation += 1
            self._directory = None

    def cached_directory(self, stamp: object) -> object | None:
        held = self._directory
        return held[0] if held is not None and held[1] == stamp else None

    def store_directory(self, snapshot: object, stamp: object) -> None:
        with self._directory_lock:
            self._directory = (snapshot, stamp)

    # ------------------------------------------------------------- lifecycle
    @abstractmethod
    def checkpoint(self) -> None:
        """Make the data durable on its own (a no-op where the server does it)."""

    @abstractmethod
    def close(self) -> None: ...


def insert_values(cur: Any, table: str, data: pa.Table) -> None:
    """A few rows as one INSERT … VALUES: cheaper than a bulk path for a debit batch's rows."""
    if not data.num_rows:
        return
    columns = ", ".join(data.column_names)
    marks = "(" + ", ".join(["?"] * data.num_columns) + ")"
    values = [v for row in data.to_pylist() for v in row.values()]
    # table and column names come from this package's code, never from input
    cur.execute(f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([marks] * data.num_rows), values)


def open_database(where: str | None = None, clock: Clock = utc_now, *, create: bool = False) -> Database:
    """The store named by `where` (see the module docstring), migrated as needed. A new
    ledger is created only with `create` (or in memory); a database that is not a
    ledger is refused untouched (schema.check_opening)."""
    target = where or default_path()
    if is_server_url(target):
        from .store_postgres import PostgresDatabase

        return PostgresDatabase(target, clock, create=create)
    from .store_duckdb import DuckDatabase

    return DuckDatabase(target, clock, create=create)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """Stored times are naive UTC; hand them out as aware UTC datetimes."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
