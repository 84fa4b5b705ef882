"""The server store: a PostgreSQL ledger shared by many processes and machines.

- A psycopg 3 connection pool ($BILLING_PG_POOL connections, default 10) per
  process; connections run in autocommit for reads, and `writing()` wraps one
  transaction (READ COMMITTED) around each change.
- Concurrency is row locking: a change reads the rows it decides on with
  `SELECT … FOR UPDATE` (`lock_rows`), always in the same order (a request before
  its wallet; several wallets by id), so two writers of one wallet queue up
  instead of both deciding on the same balance, and no two wait on each other.
  A deadlock or serialisation failure, should one happen anyway, is LedgerBusy:
  nothing was changed and the call can be repeated.
- Ids come from sequences; the directory stamp is a counter row (schema_postgres.py).
- Queries keep DuckDB's `?` placeholders; the cursor translates them (client-side
  binding, so a NULL or a list binds wherever a literal would).
"""

from __future__ import annotations

import io
import os
import re
import select
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import psycopg.errors
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from . import schema, schema_postgres
from .clock import Clock
from .errors import BillingError, LedgerBusy, LedgerUnavailable
from .money import to_decimal
from .store import BatchSource, Database, KeyRef, Snapshot, StoredKey, insert_values, local_mutex

_COPY_ROWS = 100_000  # rows per chunk of a bulk COPY
_VALUES_ROWS = 2_048  # up to this many rows (a debit batch) go in as one INSERT … VALUES


def pool_size() -> int:
    """Connections per process: $BILLING_PG_POOL, else 10."""
    return int(os.environ.get("BILLING_PG_POOL") or 10)


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://…"
    host = parts.get("host", "localhost")
    port = parts.get("port", "5432")
    user = str(parts.get("user", ""))
    name = parts.get("dbname", "")
    return f"postgresql://{user + '@' if user else ''}{host}:{port}/{name}"


_TOKENS = re.compile(
    r"""
      (?P<quoted>'(?:[^']|'')*'|"(?:[^"]|"")*")      # a literal or a quoted name: kept
    | (?P<comment>--[^\n]*|/\*.*?\*/)                # a comment: kept
    | (?P<dollar>\$(?P<tag>(?:[A-Za-z_]\w*)?)\$.*?\$(?P=tag)\$)  # a dollar-quoted body: kept
    | (?P<named>\$[A-Za-z_]\w*)                      # $name: a named parameter
    | (?P<mark>\?)                                  # ?: a positional parameter
    """,
    re.VERBOSE | re.DOTALL,
)


@lru_cache(maxsize=1024)
def pg_sql(query: str) -> str:
    """DuckDB-style placeholders (`?` and `$name`) as psycopg's (`%s` and `%(name)s`); a `?`
    or `$` inside a literal, a quoted name, a comment or a dollar-quoted body is left as it
    is. psycopg reads `%` anywhere in the text, so every `%` is doubled."""

    def swap(match: re.Match[str]) -> str:
        if match.group("named"):
            return f"%({match.group('named')[1:]})s"
        if match.group("mark"):
            return "%s"
        return match.group(0)

    return _TOKENS.sub(swap, query.replace("%", "%%"))


class LedgerCursor(psycopg.ClientCursor[Any]):
    """A cursor that accepts the ledger's `?` placeholders."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> LedgerCursor:
        if params is not None and isinstance(query, str):
            query = pg_sql(query)
        super().execute(query, params, **kwargs)
        return self


_ARROW_TYPES = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    25: pa.string(),
    1043: pa.string(),
    701: pa.float64(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1700: pa.decimal128(38, 4),  # money: every numeric the ledger returns has 4 places
}


def _check_if_suspect(conn: psycopg.Connection[Any]) -> None:
    """Checked as the pool hands a connection out. An idle connection's socket has nothing
    to read unless the server spoke: after a restart, a failover or an administrator's
    termination it has (its goodbye). Only then is the connection really checked (a round
    trip), and the pool replaces it if dead, so the call goes on on a live one instead of
    failing. A select() of the socket costs microseconds, not a round trip."""
    ready, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if ready:
        ConnectionPool.check_connection(conn)


class PostgresDatabase(Database):

    def __init__(self, url: str, clock: Clock, *, create: bool = False) -> None:
        super().__init__(safe_url(url), clock)
        self._local = threading.local()
        options: dict[str, Any] = {
            "autocommit": True,
            "cursor_factory": LedgerCursor,
            "options": "-c TimeZone=UTC",
        }
        try:
            # one plain connection first: a wrong URL fails at once with the server's reason
            # (a pool would keep retrying in the background until its timeout)
            timeout = conninfo_to_dict(url).get("connect_timeout", 10)
            with psycopg.connect(url, connect_timeout=timeout, **options) as conn:
                with conn.cursor() as cur:
                    tables = {str(r[0]) for r in cur.execute(schema.TABLES_SQL).fetchall()}
                schema.check_opening(self.path, tables, create=create)
                schema_postgres.migrate(conn)
        except psycopg.Error as error:
            raise LedgerUnavailable(
                f"The ledger database {self.path} could not be reached or prepared: "
                f"{str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__}"
            ) from None
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size(),
            kwargs=options,
            name="billing-ledger",
            open=False,
            check=_check_if_suspect,
        )
        try:
            self._pool.open(wait=True, timeout=30)
        except PoolTimeout:
            self._pool.close()
            raise LedgerUnavailable(f"The ledger database {self.path} could not be reached.") from None

    # ----------------------------------------------------------- transactions
    @contextmanager
    def reading(self) -> Iterator[LedgerCursor]:
        """A pooled connection's cursor; inside this thread's write transaction, a cursor
        of that transaction (a thread never holds two connections, so a full pool
        cannot leave writers waiting on each other for a second one)."""
        held = getattr(self._local, "conn", None)
        try:
            if held is not None:
                with held.cursor() as cur:
                    yield cur
                return
            with self._pool.connection() as conn, conn.cursor() as cur:
                yield cur  # type: ignore[misc]
        except (psycopg.Error, PoolTimeout) as error:
            raise translate(error, self.path) from None

    @contextmanager
    def writing(self) -> Iterator[LedgerCursor]:
        if getattr(self._local, "conn", None) is not None:
            raise RuntimeError("writing() does not nest")
        try:
            with self._pool.connection() as conn:
                try:
                    with conn.transaction(), conn.cursor() as cur:
                        self._local.conn = conn
                        yield cur  # type: ignore[misc]
                finally:
                    self._local.conn = None
        except (psycopg.Error, PoolTimeout) as error:
            raise translate(error, self.path) from None

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A REPEATABLE READ, READ ONLY transaction: every read sees one snapshot of the
        database while other processes write (what pg_dump does too)."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield _PgSnapshot(conn)
        except (psycopg.Error, PoolTimeout) as error:
            raise translate(error, self.path) from None

    def select_for_update(self, cur: Any, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """Row locks, held to the commit: another process deciding on these rows waits."""
        return cur.execute(sql + " FOR UPDATE", list(params)).fetchall()  # type: ignore[no-any-return]

    def select_after_lock(
        self, cur: Any, lock: str, read: str, params: Sequence[object]
    ) -> list[tuple[Any, ...]]:
        """The lock, then the read as a statement of its own (READ COMMITTED: a fresh snapshot,
        taken once the lock is held), sent together in one round trip."""
        conn = cur.connection
        with conn.pipeline(), conn.cursor() as reader:
            cur.execute(lock + " FOR UPDATE", list(params))
            reader.execute(read, list(params))
            return reader.fetchall()  # type: ignore[no-any-return]

    def claim_rows(self, cur: Any, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """Rows another dispatcher holds are skipped, not waited for."""
        return cur.execute(sql + " FOR UPDATE SKIP LOCKED", list(params)).fetchall()  # type: ignore[no-any-return]

    @contextmanager
    def mutex(self, name: str) -> Iterator[None]:
        """This process's lock, then the server's advisory lock of `name` on a connection of
        its own (so every process using the ledger takes turns)."""
        with local_mutex(name):
            try:
                with self._pool.connection() as conn:
                    conn.execute("SELECT pg_advisory_lock(hashtextextended(?, 0))", [name])
                    try:
                        yield
                    finally:
                        conn.execute("SELECT pg_advisory_unlock(hashtextextended(?, 0))", [name])
            except (psycopg.Error, PoolTimeout) as error:
                raise translate(error, self.path) from None

    def _write_connection(self) -> psycopg.Connection[Any]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            raise RuntimeError("ids are handed out inside writing() only")
        return conn  # type: ignore[no-any-return]

    # -------------------------------------------------------------------- ids
    def next_id(self, table: str) -> int:
        return int(self.allocate_ids(table, 1)[0])

    def allocate_ids(self, table: str, count: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        sequence = schema_postgres.SEQUENCES[table]
        if count <= 0:
            return np.zeros(0, dtype=np.int64)
        with self._write_connection().cursor() as cur:
            rows = cur.execute(
                "SELECT nextval(?) FROM generate_series(1, ?)", [sequence, count]
            ).fetchall()
        return np.sort(np.fromiter((r[0] for r in rows), dtype=np.int64, count=count))

    def last_id(self, table: str) -> int:
        sequence = schema_postgres.SEQUENCES[table]
        with self.reading() as cur:
            # the name comes from the constant mapping, never from input
            row = cur.execute(f"SELECT last_value, is_called FROM {sequence}").fetchone()
        assert row is not None
        return int(row[0]) if row[1] else int(row[0]) - 1

    def pipelined(self, cur: Any) -> AbstractContextManager[None]:
        return cur.connection.pipeline()  # type: ignore[no-any-return]

    # ------------------------------------------------------------------- bulk
    @contextmanager
    def batch(self, cur: Any, rows: pa.Table) -> Iterator[BatchSource]:
        """A few rows (a debit batch) as arrays unnested in each statement; more are copied
        into a temporary table of this transaction first."""
        if rows.num_rows <= _VALUES_ROWS:
            yield _Unnested(rows)
            return
        definition = ", ".join(f"{f.name} {_pg_type(f.type)}" for f in rows.schema)
        # column names and types come from the batch's schema (this package's code)
        cur.execute(f"CREATE TEMPORARY TABLE {_BATCH} ({definition}) ON COMMIT DROP")
        self.insert_arrow(cur, _BATCH, rows)
        yield _Copied()

    def find_keys(self, cur: Any, keys: Collection[KeyRef]) -> dict[KeyRef, StoredKey]:
        wanted = sorted(keys)
        if not wanted:
            return {}
        rows = cur.execute(
            "SELECT workspace_id, key, entry_id, amount, feature FROM idempotency_keys "
            "WHERE (workspace_id, key) IN (SELECT unnest(?::BIGINT[]), unnest(?::VARCHAR[]))",
            [[w for w, _ in wanted], [k for _, k in wanted]],
        ).fetchall()
        return {(int(r[0]), str(r[1])): (int(r[2]), to_decimal(r[3]), r[4]) for r in rows}

    def compact_rollups(self, since: date) -> int:
        """Other processes insert rows meanwhile: delete and re-insert in one statement, so
        exactly the rows that were deleted are the ones merged."""
        with self.writing() as cur:
            row = cur.execute(
                """
                WITH gone AS (DELETE FROM daily_rollups WHERE day >= ? RETURNING *),
                merged AS (
                    INSERT INTO daily_rollups
                        (workspace_id, feature, day, debits, credits, debit_count, credit_count,
                         expired, expiry_count)
                    SELECT workspace_id, feature, day, sum(debits), sum(credits),
                           sum(debit_count), sum(credit_count), sum(expired), sum(expiry_count)
                    FROM gone GROUP BY 1, 2, 3
                    RETURNING 1
                )
                SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM merged)
                """,
                [since],
            ).fetchone()
        return int(row[0]) if row else 0

    @contextmanager
    def decisions(self, cur: Any, mirror: Callable[[Any, Any], None]) -> Iterator[Any]:
        """A scratch in-memory DuckDB beside the server transaction, filled by `mirror`."""
        from .store_duckdb import DuckDatabase

        scratch = DuckDatabase(":memory:", self.clock)
        try:
            with scratch.writing() as duck:
                mirror(cur, duck)
                yield duck
        finally:
            scratch.close()

    def insert_arrow(self, cur: Any, table: str, data: pa.Table) -> None:
        """A batch's few rows as one INSERT; more by COPY as CSV (each value quoted, so an
        empty text stays empty and only a missing value is NULL)."""
        if data.num_rows <= _VALUES_ROWS:  # a debit batch's rows: one INSERT (pipelined)
            insert_values(cur, table, data)
            return
        columns = ", ".join(data.column_names)
        options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
        # table and column names come from this package's code, never from input
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
            for batch in data.to_batches(max_chunksize=_COPY_ROWS):
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, write_options=options)
                copy.write(buffer.getvalue())

    def frame(self, sql: str, params: list[object]) -> pd.DataFrame:
        with self.reading() as cur:
            cur.execute(sql, params)
            described = cur.description or []
            rows = cur.fetchall()
        names = [d.name for d in described]
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        arrays = [
            pa.array(list(values), type=_ARROW_TYPES.get(d.type_code))
            for values, d in zip(columns, described, strict=True)
        ]
        return pa.table(arrays, names=names).to_pandas(types_mapper=pd.ArrowDtype)

    # -------------------------------------------------------------- directory
    def directory_stamp(self) -> object:
        with self.reading() as cur:
            row = cur.execute("SELECT generation FROM directory_version WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def after_bulk_copy(self, cur: Any) -> None:
        schema_postgres.sync_sequences(cur)
        self.bump_directory(cur)

    def refresh_statistics(self) -> None:
        with self.reading() as cur:
            cur.execute("ANALYZE")

    def bump_directory(self, cur: Any) -> None:
        cur.execute("UPDATE directory_version SET generation = generation + 1 WHERE id = 1")

    # -------------------------------------------------------------- lifecycle
    def checkpoint(self) -> None:
        """Nothing to do: the server makes each commit durable itself."""

    def close(self) -> None:
        self._pool.close()


_BATCH = "journal_batch"


def _record_batch(rows: Sequence[tuple[Any, ...]], described: Sequence[Any]) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in described]
    arrays = [
        pa.array(list(values), type=_ARROW_TYPES.get(d.type_code))
        for values, d in zip(columns, described, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, names=[d.name for d in described])


class _PgSnapshot(Snapshot):
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._cursors = 0

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._conn.cursor() as cur:
            return cur.execute(sql, list(params)).fetchall()

    def batches(
        self, sql: str, params: Sequence[object] = (), size: int = 100_000
    ) -> Iterator[pa.RecordBatch]:
        """Through a server-side cursor, `size` rows at a time (the table never sits whole
        in this process)."""
        self._cursors += 1
        with self._conn.cursor(name=f"billing_snapshot_{self._cursors}") as cur:
            cur.execute(pg_sql(sql), list(params))
            described = cur.description or []
            while rows := cur.fetchmany(size):
                yield _record_batch(rows, described)


def _pg_type(kind: pa.DataType) -> str:
    """The column type of an Arrow type the journal's batches use."""
    if pa.types.is_integer(kind):
        return "BIGINT"
    if pa.types.is_decimal(kind):  # money DECIMAL(18,4); usage quantities and rates their own
        return f"DECIMAL({kind.precision},{kind.scale})"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMP"
    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    return "VARCHAR"


class _Unnested(BatchSource):
    """The batch as `unnest` of one typed array per column, bound in each statement."""

    def __init__(self, rows: pa.Table) -> None:
        arrays = ", ".join(f"?::{_pg_type(f.type)}[]" for f in rows.schema)
        self._sql = f"(SELECT * FROM unnest({arrays}) AS t({', '.join(rows.schema.names)}))"
        self._params = [column.to_pylist() for column in rows.columns]

    def execute(self, cur: Any, template: str, params: Sequence[object] = ()) -> None:
        uses = template.count("{batch}")
        # the relation is built from the batch's schema; the values are bound parameters
        cur.execute(template.replace("{batch}", self._sql), self._params * uses + list(params))


class _Copied(BatchSource):
    def execute(self, cur: Any, template: str, params: Sequence[object] = ()) -> None:
        cur.execute(template.replace("{batch}", _BATCH), list(params))


def translate(error: Exception, where: str) -> BillingError:
    """Map a psycopg (or pool) error to the BillingError a user can act on."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, psycopg.errors.NumericValueOutOfRange):
        return BillingError("That amount is beyond what the ledger can hold.")
    if isinstance(error, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
        return LedgerBusy(
            "The ledger was busy with another change to the same data; nothing was changed. "
            "Try again."
        )
    if isinstance(error, psycopg.errors.LockNotAvailable):
        return LedgerBusy("The ledger is busy; nothing was changed. Try again.")
    if isinstance(error, psycopg.errors.UniqueViolation) and "idempotency_keys" in text:
        # another process stored the same key a moment ago: a retry sees it and replays
        return LedgerBusy("Another call with the same idempotency key was being recorded. Try again.")
    if isinstance(error, psycopg.IntegrityError):
        return BillingError(f"That change conflicts with existing data: {text}")
    if isinstance(error, PoolTimeout | psycopg.OperationalError):
        return LedgerUnavailable(f"The ledger database {where} could not be reached: {text}")
    return BillingError(f"The ledger could not complete the operation: {text}")
