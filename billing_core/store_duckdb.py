"""The embedded store: one DuckDB connection per process, shared by every thread.

- Reads take a fresh cursor each (DuckDB cursors are connections to the same
  database; each sees the last committed state).
- Writes are serialised by one process-wide lock and run as one transaction
  each: DuckDB fails the second of two concurrent updates of a row at once
  ("Conflict on update"), and serialising measured twice as fast as retrying.
- Ids are allocated in-process under that lock (only one process can open the
  file for writing), which keeps bulk inserts free of sequences.
- Every DuckDB error is translated here into a BillingError, once.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from . import schema
from .clock import Clock
from .errors import BillingError, LedgerCorrupt, LedgerUnavailable
from .money import to_decimal
from .store import ID_TABLES, BatchSource, Database, KeyRef, StoredKey, insert_values, local_mutex

_VALUES_ROWS = 32  # up to this many rows go in as one INSERT … VALUES


def memory_limit() -> str:
    """DuckDB's cache and working memory: $BILLING_DB_MEMORY, else 384MB. DuckDB keeps
    pages it has read up to this limit, so it is most of the app's memory."""
    return os.environ.get("BILLING_DB_MEMORY") or "384MB"


def _connect(path: str, *, create: bool) -> duckdb.DuckDBPyConnection:
    if path != ":memory:" and not os.path.exists(path):
        if not create:
            raise LedgerUnavailable(
                f"There is no ledger at {path}. To create one, run: billing init --db {path}"
            )
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(path, config={"memory_limit": memory_limit()})
    except duckdb.IOException as error:
        text = str(error)
        if "lock" in text.lower():
            raise LedgerUnavailable(
                f"The ledger {path} is in use by another process (most likely the running "
                "billing app). Stop that process, or do this through the app."
            ) from None
        if "not a valid" in text.lower():
            raise LedgerCorrupt(
                f"The ledger {path} is damaged or is not a DuckDB ledger and was not opened "
                "(nothing was changed; restore it from a backup)."
            ) from None
        raise LedgerUnavailable(f"The ledger {path} could not be opened: {text}") from None
    except duckdb.Error as error:
        raise LedgerCorrupt(
            f"The ledger {path} is damaged or is not a DuckDB ledger and was not opened "
            f"(nothing was changed; restore it from a backup): {error}"
        ) from None


_OPEN: set[str] = set()  # ledger files this process holds
_OPEN_LOCK = threading.Lock()


def _claim(path: str) -> str | None:
    """Register a file ledger as open in this process; a second Database over the same
    file would share DuckDB's instance but not the write lock or the id counters."""
    if path == ":memory:":
        return None
    key = os.path.realpath(path)
    with _OPEN_LOCK:
        if key in _OPEN:
            raise LedgerUnavailable(
                f"The ledger {path} is already open in this process; use that Ledger "
                "(open it once and share it between threads)."
            )
        _OPEN.add(key)
    return key


def _release(key: str | None) -> None:
    if key is not None:
        with _OPEN_LOCK:
            _OPEN.discard(key)


class DuckDatabase(Database):
    """A DuckDB database with serialised write transactions."""

    def __init__(self, path: str, clock: Clock, *, create: bool = False) -> None:
        super().__init__(path, clock)
        self._claim = _claim(path)
        try:
            self._con = _connect(path, create=create)
        except BaseException:
            _release(self._claim)
            raise
        self._cursor_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._writer = self._con.cursor()
        self._next_ids: dict[str, int] = {}
        self._closed = False
        try:
            tables = {str(r[0]) for r in self._writer.execute(schema.TABLES_SQL).fetchall()}
            schema.check_opening(path, tables, create=create or path == ":memory:")
            schema.migrate(self._writer)
            self._load_ids()
        except BillingError:
            self._con.close()
            _release(self._claim)
            raise
        except duckdb.Error as error:
            self._con.close()
            _release(self._claim)
            raise LedgerCorrupt(
                f"The ledger {path} could not be read (nothing was changed; restore it from a "
                f"backup): {error}"
            ) from None

    def _load_ids(self) -> None:
        for table in ID_TABLES:
            # table names come from the constant tuple above, never from input
            row = self._writer.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
            self._next_ids[table] = int(row[0]) + 1 if row else 1

    # ----------------------------------------------------------------- reads
    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._cursor_lock:
            return self._con.cursor()

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self.cursor()
        try:
            yield cur
        except duckdb.Error as error:
            raise translate(error) from None
        finally:
            cur.close()

    # ---------------------------------------------------------------- writes
    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One serialised, atomic write transaction; rolled back on any error."""
        with self._write_lock:
            saved_ids = dict(self._next_ids)
            cur = self._writer
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException as error:
                self._next_ids = saved_ids
                try:
                    cur.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                if isinstance(error, duckdb.Error):
                    raise translate(error) from None
                raise

    def select_for_update(self, cur: Any, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """Writes are serialised: what a write transaction reads stays current until it ends."""
        return cur.execute(sql, list(params)).fetchall()  # type: ignore[no-any-return]

    def select_after_lock(
        self, cur: Any, lock: str, read: str, params: Sequence[object]
    ) -> list[tuple[Any, ...]]:
        """Writes are serialised: nothing changes under this transaction, so only the read runs."""
        return cur.execute(read, list(params)).fetchall()  # type: ignore[no-any-return]

    def claim_rows(self, cur: Any, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """Writes are serialised: no other transaction can hold them meanwhile."""
        return cur.execute(sql, list(params)).fetchall()  # type: ignore[no-any-return]

    def mutex(self, name: str) -> AbstractContextManager[None]:
        """Only this process opens the file: a lock of this process is every process's."""
        return local_mutex(name)

    def next_id(self, table: str) -> int:
        return self.reserve_ids(table, 1)

    def reserve_ids(self, table: str, count: int) -> int:
        """Reserve `count` consecutive ids of `table` and return the first; call only
        inside `writing()` (the counters are rolled back with the transaction)."""
        first = self._next_ids[table]
        self._next_ids[table] = first + count
        return first

    def allocate_ids(self, table: str, count: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        first = self.reserve_ids(table, count)
        return np.arange(first, first + count, dtype=np.int64)

    def directory_stamp(self) -> object:
        # only this process writes the file, so its own count of changes is the stamp
        return self._local_generation

    def after_bulk_copy(self, cur: Any) -> None:
        self._load_ids()

    def refresh_statistics(self) -> None:
        """Nothing to do: DuckDB keeps its statistics as it writes."""

    def bump_directory(self, cur: Any) -> None:
        """Nothing to write: the stamp is this process's own count of changes."""

    @contextmanager
    def batch(self, cur: Any, rows: pa.Table) -> Iterator[BatchSource]:
        """The Arrow table registered on the write cursor: statements read it in place."""
        cur.register(_BATCH, rows)
        try:
            yield _Registered()
        finally:
            cur.unregister(_BATCH)

    def find_keys(self, cur: Any, keys: Collection[KeyRef]) -> dict[KeyRef, StoredKey]:
        """One point lookup through the key index per key, all in one statement (a list
        filter would scan every key)."""
        wanted = sorted(keys)
        if not wanted:
            return {}
        one = (
            "SELECT workspace_id, key, entry_id, amount, feature FROM idempotency_keys "
            "WHERE workspace_id = ? AND key = ?"
        )
        rows = cur.execute(
            " UNION ALL ".join([one] * len(wanted)), [v for ref in wanted for v in ref]
        ).fetchall()
        return {(int(r[0]), str(r[1])): (int(r[2]), to_decimal(r[3]), r[4]) for r in rows}

    def compact_rollups(self, since: date) -> int:
        with self.writing() as cur:
            merged = cur.sql(
                """
                SELECT workspace_id, feature, day,
                       sum(debits)::DECIMAL(18,4) AS debits, sum(credits)::DECIMAL(18,4) AS credits,
                       sum(debit_count)::BIGINT AS debit_count,
                       sum(credit_count)::BIGINT AS credit_count,
                       sum(expired)::DECIMAL(18,4) AS expired, sum(expiry_count)::BIGINT AS expiry_count
                FROM daily_rollups WHERE day >= ? GROUP BY 1, 2, 3 ORDER BY day, workspace_id, feature
                """,
                params=[since],
            ).to_arrow_table()
            row = cur.execute("DELETE FROM daily_rollups WHERE day >= ?", [since]).fetchone()
            removed = int(row[0]) if row else 0
            self.insert_arrow(cur, "daily_rollups", merged)
        return removed - int(merged.num_rows)

    @contextmanager
    def decisions(self, cur: Any, mirror: Callable[[Any, Any], None]) -> Iterator[Any]:
        """The ledger is DuckDB itself: decide in this very transaction, nothing to copy."""
        yield cur

    def insert_arrow(self, cur: Any, table: str, data: pa.Table) -> None:
        if data.num_rows <= _VALUES_ROWS:  # registering a table costs more than binding a few rows
            insert_values(cur, table, data)
            return
        columns = ", ".join(data.column_names)
        name = f"arrow_{table}"
        cur.register(name, data)
        try:
            # table and column names come from this package's code, never from input
            cur.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {name}")
        finally:
            cur.unregister(name)

    def frame(self, sql: str, params: list[object]) -> pd.DataFrame:
        """Run a read as a relation on its own cursor. Columns stay Arrow-backed, so money
        is an exact decimal128(…, 4) column (each cell a Decimal), with no per-cell objects."""
        cur = self.cursor()
        try:
            return cur.sql(sql, params=params).to_arrow_table().to_pandas(types_mapper=pd.ArrowDtype)
        except duckdb.Error as error:
            raise translate(error) from None
        finally:
            cur.close()

    def last_id(self, table: str) -> int:
        """The highest id handed out for `table` so far (may include an uncommitted one)."""
        return self._next_ids[table] - 1

    def checkpoint(self, attempts: int = 20) -> None:
        """Write the WAL into the main file. DuckDB refuses while another transaction is
        open (a reader's, say), so try again for a moment before giving up."""
        for attempt in range(attempts):
            with self._write_lock:
                try:
                    self._writer.execute("CHECKPOINT")
                    return
                except duckdb.TransactionException:
                    pass
                except duckdb.Error as error:
                    raise translate(error) from None
            time.sleep(0.01 * (attempt + 1))
        raise LedgerUnavailable(
            "The ledger is busy and could not be checkpointed now; its data is safe in the "
            "write-ahead log. Try again later."
        )

    def close(self) -> None:
        """Checkpoint (so the file stands alone, without its WAL) and close."""
        with self._write_lock:
            if not self._closed:
                self._closed = True
                try:
                    self._writer.execute("CHECKPOINT")
                except duckdb.Error:
                    pass  # the WAL still holds everything; DuckDB replays it at the next open
                self._con.close()
                _release(self._claim)


_BATCH = "journal_batch"


class _Registered(BatchSource):
    def execute(self, cur: Any, template: str, params: Sequence[object] = ()) -> None:
        # the relation's name is the constant above; values are bound or read from the table
        cur.execute(template.replace("{batch}", _BATCH), list(params))


def translate(error: duckdb.Error) -> BillingError:
    """Map a DuckDB error to the BillingError a user can act on."""
    text = str(error)
    if isinstance(error, duckdb.ConversionException) and "out of range" in text:
        return BillingError("That amount is beyond what the ledger can hold.")
    if any(mark in text for mark in ("Corrupt database file", "Could not read enough bytes",
                                      "checksum", "Checksum")):
        return LedgerCorrupt(
            "The ledger file is damaged: a part of it could not be read. Nothing was changed; "
            "restore the file from a backup."
        )
    if isinstance(error, duckdb.ConstraintException):
        return BillingError(f"That change conflicts with existing data: {text.splitlines()[0]}")
    return BillingError(f"The ledger could not complete the operation: {text.splitlines()[0]}")
