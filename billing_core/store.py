"""The database handle every operation runs through, whatever the store.

`open_database(where)` picks the store from one setting: a file path or
":memory:" is an embedded DuckDB ledger (store_duckdb.py, the default); a
`postgresql://` URL is a PostgreSQL server (store_postgres.py). Both give the
same interface, so the rules in the other modules are written once; where the
stores differ, the difference is a method here, never a test of the store's kind:

- `reading()` / `writing()`: a cursor for reads, and one atomic write
  transaction (rolled back on any error; errors become BillingErrors);
- `select_for_update`: a read that holds its rows until the transaction ends
  (row locks on a server; DuckDB's writes are serialised, so a plain read);
  `select_after_lock`: lock some rows, then read others as they are once the lock is
  held (on a server two statements in one round trip; on DuckDB only the read);
- `mutex(name)`: one holder at a time across every process using the ledger;
- ids: `next_id`, `allocate_ids`, `last_id`;
- `batch` (a batch of rows as a relation the journal's statements read),
  `find_keys` (idempotency keys by workspace), `compact_rollups`,
  `insert_arrow` (bulk insert of an Arrow table) and `frame` (a read as a DataFrame);
- `decisions` (a DuckDB cursor over what a bulk decision needs to read);
- the stamp that tells when the directory of people and workspaces changed;
- `snapshot()`: one consistent read of every table while writers go on (backups,
  exports); `single_process`: whether only one process can open the ledger (the
  embedded file), so other processes ask that one (backups through the ledger's folder).

SQL in the other modules is written once, in the dialect both stores accept, with
`?` placeholders (the PostgreSQL cursor translates them).
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd
import pyarrow as pa

from .clock import Clock, utc_now
from .highwater import Position

DEFAULT_PATH = Path("data") / "billing.duckdb"
ID_TABLES = (
    "users", "workspaces", "accounts", "entries", "credit_requests", "audit_log",
    "outbox", "inbox", "deliveries", "webhooks", "grants", "sessions", "password_links", "prices",
)


def default_path() -> str:
    """$BILLING_DB (a file path, ":memory:" or a postgresql:// URL), else data/billing.duckdb."""
    return os.environ.get("BILLING_DB") or str(DEFAULT_PATH)


def is_server_url(where: str) -> bool:
    return where.startswith(("postgresql://", "postgres://"))


KeyRef = tuple[int, str]  # (workspace_id, idempotency key): a key belongs to its workspace
StoredKey = tuple[int, Decimal, str | None]  # (entry_id, amount, feature)


class BatchSource(ABC):
    """A batch of rows (an Arrow table) as a relation that statements can read."""

    @abstractmethod
    def execute(self, cur: Any, template: str, params: Sequence[object] = ()) -> None:
        """Run `template` with `{batch}` standing for the batch's relation."""


class Snapshot(ABC):
    """Reads that all see the ledger as it was at one moment."""

    @abstractmethod
    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def batches(
        self, sql: str, params: Sequence[object] = (), size: int = 100_000
    ) -> Iterator[pa.RecordBatch]:
        """The rows of `sql` as Arrow record batches of at most `size` rows."""


class NamedRelation(BatchSource):
    """A batch that is already a table or view of this transaction (a bulk builder's)."""

    def __init__(self, name: str) -> None:
        if not name.isidentifier():
            raise ValueError(f"not a relation name: {name!r}")
        self.name = name

    def execute(self, cur: Any, template: str, params: Sequence[object] = ()) -> None:
        cur.execute(template.replace("{batch}", self.name), list(params))


class Database(ABC):
    """One ledger database, shared by every thread of the process."""

    single_process = False  # only one process can open it (then others ask that one)
    ledger_id: str | None = None  # the embedded ledger's identity (its high-water mark's)

    def __init__(self, path: str, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self._generation_lock = threading.Lock()
        self._local_generation = 0

    # ------------------------------------------------------------ transactions
    @abstractmethod
    def reading(self) -> AbstractContextManager[Any]:
        """A cursor for reads; each statement sees the last committed state."""

    @abstractmethod
    def writing(self) -> AbstractContextManager[Any]:
        """One atomic write transaction; rolled back on any error."""

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[Snapshot]:
        """One read-only transaction whose reads all see the same committed state."""

    @abstractmethod
    def select_for_update(self, cur: Any, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """Inside `writing()`: the rows of `sql`, held until the transaction ends, so
        another writer deciding on them waits for this one (and then sees its outcome)."""

    @abstractmethod
    def select_after_lock(
        self, cur: Any, lock: str, read: str, params: Sequence[object]
    ) -> list[tuple[Any, ...]]:
        """Inside `writing()`: lock the rows of `lock` (held until the transaction ends, as
        `select_for_update`), then return the rows of `read`, seeing every change committed
        before the lock was granted. Both statements take the same `params`. (One statement
        that locks and joins would not do on a server: a join waiting on a lock sees the
        locked row anew but the joined rows as they were when it started.)"""

    @abstractmethod
    def claim_rows(self, cur: Any, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """Inside `writing()`: the rows of `sql` that no other transaction holds, held by
        this one (work queues: two dispatchers never take the same row)."""

    @abstractmethod
    def mutex(self, name: str) -> AbstractContextManager[None]:
        """One holder of `name` at a time, across every process using this ledger."""

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
    def batch(self, cur: Any, rows: pa.Table) -> AbstractContextManager[BatchSource]:
        """`rows` as a relation for the statements of this write transaction."""

    @abstractmethod
    def find_keys(self, cur: Any, keys: Collection[KeyRef]) -> dict[KeyRef, StoredKey]:
        """The stored idempotency keys among `keys`."""

    @abstractmethod
    def compact_rollups(self, since: date) -> int:
        """Merge the daily rollup delta rows of every key from `since` on, in one
        transaction; returns how many rows were merged away."""

    @abstractmethod
    def decisions(
        self, cur: Any, mirror: Callable[[Any, Any], None]
    ) -> AbstractContextManager[Any]:
        """Inside `writing()`: a DuckDB cursor where set-based decisions (bulk ingest) can
        read the ledger's tables: this transaction's own cursor on DuckDB; on a server, a
        scratch DuckDB that `mirror(server_cursor, scratch_cursor)` fills first."""

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
        """What a snapshot of the directory must have been loaded at to be current."""

    @abstractmethod
    def bump_directory(self, cur: Any) -> None:
        """Inside a write that changes people, workspaces or memberships."""

    def directory_changed(self) -> None:
        """After such a write (committed or not): this process's snapshots are stale."""
        with self._generation_lock:
            self._local_generation += 1

    def id_floors(self) -> Position:
        """Ids at or below these are never handed out again (set by a recovery)."""
        return Position()

    # ------------------------------------------------------------- lifecycle
    @abstractmethod
    def checkpoint(self) -> None:
        """Make the data durable on its own (a no-op where the server does it)."""

    @abstractmethod
    def close(self) -> None: ...


_MUTEXES = tuple(threading.Lock() for _ in range(64))  # striped: bounded, whatever the names


@contextmanager
def local_mutex(*names: str) -> Iterator[None]:
    """Hold every name's stripe in this process (taken in one order: no two callers deadlock)."""
    with ExitStack() as stack:
        for stripe in sorted({hash(n) % len(_MUTEXES) for n in names}):
            stack.enter_context(_MUTEXES[stripe])
        yield


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
