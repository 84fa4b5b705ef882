"""The embedded store: one DuckDB connection per process, shared by every thread.

- Reads take a fresh cursor each (DuckDB cursors are connections to the same
  database; each sees the last committed state).
- Writes are serialised by one process-wide lock and run as one transaction
  each: DuckDB fails the second of two concurrent updates of a row at once
  ("Conflict on update"), and serialising measured twice as fast as retrying.
- Ids are allocated in-process under that lock (only one process can open the
  file for writing), which keeps bulk inserts free of sequences.
- Every DuckDB error is translated here into a BillingError, once.
- A file ledger keeps a high-water mark of what it acknowledged beside it
  (highwater.py): written after every commit that hands out ids, checked at open;
  its own `ledger_state` row records its identity, the position it was closed at
  (NULL while open) and the id floors of a recovery.
"""

from __future__ import annotations

import logging
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
from .errors import BillingError, LedgerCorrupt, LedgerInUse, LedgerUnavailable
from .highwater import FileState, Finding, MarkFile, Position, judge, mark_path, new_ledger_id, read_mark
from .money import to_decimal
from .store import (
    ID_TABLES,
    BatchSource,
    Database,
    KeyRef,
    Snapshot,
    StoredKey,
    insert_values,
    local_mutex,
)

_VALUES_ROWS = 32  # up to this many rows go in as one INSERT … VALUES


def memory_limit() -> str:
    """DuckDB's cache and working memory: $BILLING_DB_MEMORY, else 384MB. DuckDB keeps
    pages it has read up to this limit, so it is most of the app's memory."""
    return os.environ.get("BILLING_DB_MEMORY") or "384MB"


_log = logging.getLogger("billing.store")


def _connect(path: str, *, create: bool, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    if path != ":memory:" and not os.path.exists(path):
        if not create:
            raise LedgerUnavailable(
                f"There is no ledger at {path}. To create one, run: billing init --db {path}"
            )
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(path, read_only=read_only, config={"memory_limit": memory_limit()})
    except duckdb.IOException as error:
        text = str(error)
        if "lock" in text.lower():
            raise LedgerInUse(
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
    """A DuckDB database with serialised write transactions.

    `high_water=False` keeps no mark file beside it (a backup being written, a restore
    being checked); `accept_loss=True` opens a ledger even when its high-water check
    fails, for `billing recover`, which must then call `accept_as_is`."""

    single_process = True

    def __init__(
        self,
        path: str,
        clock: Clock,
        *,
        create: bool = False,
        high_water: bool = True,
        accept_loss: bool = False,
    ) -> None:
        super().__init__(path, clock)
        tracked = path != ":memory:"
        self._mark_path = mark_path(path) if tracked and high_water else None
        self._mark: MarkFile | None = None
        self._floors = Position()
        self.ledger_id: str | None = None
        self.finding: Finding | None = None
        self._claim = _claim(path)
        try:
            if self._mark_path is not None:
                self._before_connecting(create, accept_loss)
            self._con = _connect(path, create=create)
        except BaseException:
            _release(self._claim)
            raise
        self._cursor_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._writer = self._con.cursor()
        self._next_ids: dict[str, int] = {}
        self._closed = False
        self._paused = False  # the mark is not written until accept_as_is (billing recover)
        try:
            tables = {str(r[0]) for r in self._writer.execute(schema.TABLES_SQL).fetchall()}
            schema.check_opening(path, tables, create=create or path == ":memory:")
            if tracked and _STATE_TABLE in tables:  # judged before anything is written
                closed_at = self._read_state()
                self._load_ids()
                if self._mark_path is not None:
                    self.finding = judge(path, self._mark_path, self.position(), closed_at,
                                         ledger_id=self.ledger_id or "", tracked=True)
                    if not self.finding.ok and not accept_loss:
                        raise self.finding.refusal()
                    self._paused = not self.finding.ok
            schema.migrate(self._writer)
            if tracked and _STATE_TABLE not in tables:  # new, or made before the mark
                self._start_state()
            self._load_ids()
            if tracked:
                self._mark_open()
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

    # --------------------------------------------------------- the high-water mark
    def _before_connecting(self, create: bool, accept_loss: bool) -> None:
        """Checks that must not let DuckDB touch the file: a new ledger is never made where
        another one's mark says it acknowledged work; a ledger whose write-ahead log is to
        be replayed is first checked read-only (a refused open then changes nothing:
        DuckDB checkpoints what it replayed when a writable connection closes)."""
        assert self._mark_path is not None
        exists = os.path.exists(self.path)
        if not exists and create and self._mark_path.exists():
            raise LedgerCorrupt(
                f"There is no ledger at {self.path}, but its high-water mark {self._mark_path} "
                "is there: a ledger that acknowledged transactions lived here. Restore it "
                f"(billing restore --from BACKUP --to {self.path}), or, if it is gone for good "
                "and a new, empty ledger is wanted, move that file away first."
            )
        if exists and os.path.exists(self.path + ".wal") and not accept_loss:
            probe = _connect(self.path, create=False, read_only=True)
            try:
                tables = {str(r[0]) for r in probe.execute(schema.TABLES_SQL).fetchall()}
                if _STATE_TABLE not in tables:
                    return  # a ledger from before the mark: checked after migrating
                row = probe.execute(_STATE_SELECT).fetchone()
                if row is None:
                    return  # refused after connecting, with the reason
                floors = Position.from_json(row[2]) or Position()
                found = _position(probe).highest(floors)
                finding = judge(self.path, self._mark_path, found, Position.from_json(row[1]),
                                ledger_id=str(row[0]), tracked=True)
            except duckdb.Error as error:
                raise LedgerCorrupt(
                    f"The ledger {self.path} could not be read (nothing was changed; restore it "
                    f"from a backup): {error}"
                ) from None
            finally:
                probe.close()
            if not finding.ok:
                raise finding.refusal()

    def _read_state(self) -> Position | None:
        """This ledger's identity and id floors from its `ledger_state` row; returns the
        position it was closed at (None while open, or after a crash)."""
        row = self._writer.execute(_STATE_SELECT).fetchone()
        if row is None:
            raise LedgerCorrupt(f"The ledger {self.path} has lost its state row; restore it from a backup.")
        self.ledger_id = str(row[0])
        self._floors = Position.from_json(row[2]) or Position()
        return Position.from_json(row[1])

    def _start_state(self) -> None:
        """The `ledger_state` row of a new ledger (or of one made before the mark)."""
        self.ledger_id = new_ledger_id()
        self._writer.execute(
            "CREATE TABLE ledger_state (ledger_id VARCHAR NOT NULL, closed_position VARCHAR, "
            "id_floors VARCHAR)"
        )
        self._writer.execute("INSERT INTO ledger_state VALUES (?, NULL, NULL)", [self.ledger_id])

    def _mark_open(self) -> None:
        """Record the mark, then that the ledger is open (checkpointed into the file, so a
        ledger whose log is lost later cannot pass for one closed cleanly)."""
        self._record_high_water()
        self._writer.execute("UPDATE ledger_state SET closed_position = NULL")
        self._writer.execute("CHECKPOINT")

    def id_floors(self) -> Position:
        return self._floors

    def position(self) -> Position:
        """The last id handed out in each id table (all committed outside a write)."""
        return Position.of({t: self._next_ids[t] - 1 for t in ID_TABLES})

    def _record_high_water(self) -> None:
        """After a commit, before its caller hears of it: sync the position to the mark.
        The commit stands whatever happens here, so a failure is logged, not raised (a
        raise would make group commit try the debits again)."""
        if self._mark_path is None or self._paused:
            return
        try:
            if self._mark is None:
                self._mark = _open_mark(self._mark_path, self.ledger_id or "")
            self._mark.write(self.position())
        except OSError as error:
            _log.error("the high-water mark %s could not be written: %s", self._mark_path, error)

    def accept_as_is(self, cur: Any) -> Position:
        """`billing recover`, inside `writing()`: never hand out again an id that the mark
        acknowledged (the floors are kept in the ledger), and let the mark follow this ledger
        from the commit on. Returns the new floors."""
        acknowledged = self.finding.acknowledged if self.finding else None
        floors = self.position().highest(acknowledged or Position()).highest(self._floors)
        cur.execute("UPDATE ledger_state SET id_floors = ?", [floors.to_json()])
        self._floors = floors
        self._next_ids = {t: max(self._next_ids[t], n + 1) for t, n in floors.as_dict().items()}
        self._paused = False
        return floors

    def raise_id_floors(self, cur: Any, floors: Position) -> None:
        """Inside `writing()`: ids up to `floors` are never handed out (a restored ledger
        whose original acknowledged more than the backup holds)."""
        self._floors = self._floors.highest(floors)
        cur.execute("UPDATE ledger_state SET id_floors = ?", [self._floors.to_json()])
        self._next_ids = {t: max(self._next_ids[t], n + 1) for t, n in self._floors.as_dict().items()}

    def _load_ids(self) -> None:
        found = _position(self._writer).highest(self._floors)
        self._next_ids = {t: n + 1 for t, n in found.as_dict().items()}

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
            self._record_high_water()

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """One read transaction: every read sees the ledger as of its start (DuckDB's
        MVCC), while writers go on."""
        cur = self.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            yield _DuckSnapshot(cur)
            cur.execute("ROLLBACK")
        except duckdb.Error as error:
            raise translate(error) from None
        finally:
            cur.close()

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
        """Record the position closed at and checkpoint (so the file stands alone, without
        its WAL, and proves itself complete), then close."""
        with self._write_lock:
            if not self._closed:
                self._closed = True
                try:
                    if self.path != ":memory:" and not self._paused:
                        self._writer.execute(
                            "UPDATE ledger_state SET closed_position = ?", [self.position().to_json()]
                        )
                    self._writer.execute("CHECKPOINT")
                except duckdb.Error:
                    pass  # the WAL still holds everything; DuckDB replays it at the next open
                self._con.close()
                if self._mark is not None:
                    self._mark.close()
                _release(self._claim)


_BATCH = "journal_batch"
_STATE_TABLE = "ledger_state"
_STATE_SELECT = "SELECT ledger_id, closed_position, id_floors FROM ledger_state"


def _position(cur: Any) -> Position:
    """The highest id in each id table, as stored."""
    # table names come from the constant ID_TABLES, never from input
    row = cur.execute(
        "SELECT " + ", ".join(f"(SELECT coalesce(max(id), 0) FROM {t})" for t in ID_TABLES)
    ).fetchone()
    return Position.of(dict(zip(ID_TABLES, (int(v) for v in row), strict=True)))


def _open_mark(path: Path, ledger_id: str) -> MarkFile:
    """The mark file of this ledger, continuing its sequence; anything else found there
    (another ledger's mark, an unreadable one) is kept aside as `<file>.old`."""
    state, mark = read_mark(path)
    if state is FileState.FOUND and mark is not None and mark.ledger_id == ledger_id:
        return MarkFile(path, ledger_id, mark.sequence)
    if state is not FileState.MISSING:
        os.replace(path, str(path) + ".old")
    return MarkFile(path, ledger_id)


class _DuckSnapshot(Snapshot):
    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self._cur = cur

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._cur.execute(sql, list(params)).fetchall()

    def batches(
        self, sql: str, params: Sequence[object] = (), size: int = 100_000
    ) -> Iterator[pa.RecordBatch]:
        reader = self._cur.sql(sql, params=list(params)).to_arrow_reader(size)
        assert reader is not None
        yield from reader


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
