"""`billing export`: the journal, wallets, credit requests and audit log for analysts.

The four tables are read from one snapshot (`Database.snapshot`, so they agree with
each other while the ledger keeps writing) and written as Parquet files that pandas,
DuckDB, Polars and spreadsheet tools open directly, and on request as CSV (through
`billing_core.export`, so no cell runs as a formula). Money is DECIMAL(18,4); times are
UTC timestamps. `since` (a day) keeps the journal entries and audit records from that
day on and the requests asked for or decided from then; wallets are their current
state. The columns are described in the README (Backups > Export for analysts). Every
export is audited (`ledger.export`).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import audit
from .audit import AuditAction
from .errors import InvalidInput
from .export import csv_chunks
from .ledger import Ledger
from .models import User
from .store import Snapshot

MONEY = pa.decimal128(18, 4)
TIME = pa.timestamp("us", tz="UTC")
FORMATS = ("parquet", "csv")


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    sql: str
    since: str | None  # the condition `since` adds (each ? is the day it starts)
    schema: pa.Schema


TABLES: tuple[_Table, ...] = (
    _Table(
        "journal",
        """
        SELECT e.id AS entry_id, e.created_at, e.workspace_id, w.name AS workspace, e.kind, e.amount,
               CASE WHEN e.kind = 'credit' THEN e.amount ELSE -e.amount END AS signed_amount,
               e.feature, e.description, e.actor_id, e.request_id, k.key AS idempotency_key
        FROM entries e JOIN workspaces w ON w.id = e.workspace_id
        LEFT JOIN idempotency_keys k ON k.entry_id = e.id AND k.workspace_id = e.workspace_id
        {where} ORDER BY e.id
        """,
        "e.created_at >= ?",
        pa.schema([
            ("entry_id", pa.int64()), ("created_at", TIME), ("workspace_id", pa.int64()),
            ("workspace", pa.string()), ("kind", pa.string()), ("amount", MONEY),
            ("signed_amount", MONEY), ("feature", pa.string()), ("description", pa.string()),
            ("actor_id", pa.int64()), ("request_id", pa.int64()), ("idempotency_key", pa.string()),
        ]),
    ),
    _Table(
        "wallets",
        """
        SELECT w.workspace_id, s.name AS workspace, w.status, w.balance, w.updated_at
        FROM wallets w JOIN workspaces s ON s.id = w.workspace_id {where} ORDER BY w.workspace_id
        """,
        None,
        pa.schema([
            ("workspace_id", pa.int64()), ("workspace", pa.string()), ("status", pa.string()),
            ("balance", MONEY), ("updated_at", TIME),
        ]),
    ),
    _Table(
        "requests",
        """
        SELECT r.id AS request_id, r.workspace_id, w.name AS workspace, r.amount, r.status, r.note,
               r.requested_by, r.requested_at, r.decided_by, r.decided_at, r.decision_note, r.entry_id
        FROM credit_requests r JOIN workspaces w ON w.id = r.workspace_id {where} ORDER BY r.id
        """,
        "(r.requested_at >= ? OR r.decided_at >= ?)",
        pa.schema([
            ("request_id", pa.int64()), ("workspace_id", pa.int64()), ("workspace", pa.string()),
            ("amount", MONEY), ("status", pa.string()), ("note", pa.string()),
            ("requested_by", pa.int64()), ("requested_at", TIME), ("decided_by", pa.int64()),
            ("decided_at", TIME), ("decision_note", pa.string()), ("entry_id", pa.int64()),
        ]),
    ),
    _Table(
        "audit_log",
        """
        SELECT id AS audit_id, recorded_at, actor_id, action, subject, workspace_id, before, after
        FROM audit_log {where} ORDER BY id
        """,
        "recorded_at >= ?",
        pa.schema([
            ("audit_id", pa.int64()), ("recorded_at", TIME), ("actor_id", pa.int64()),
            ("action", pa.string()), ("subject", pa.string()), ("workspace_id", pa.int64()),
            ("before", pa.string()), ("after", pa.string()),
        ]),
    ),
)


@dataclass(frozen=True, slots=True)
class Exported:
    folder: Path
    since: date | None
    rows: dict[str, int]
    files: list[Path]

    def summary(self) -> str:
        counts = ", ".join(f"{t} {n:,} rows" for t, n in self.rows.items())
        window = f" from {self.since.isoformat()} on" if self.since else ""
        return f"Exported{window} into {self.folder}: {counts} ({len(self.files)} files)."


def export_tables(
    ledger: Ledger,
    actor: User,
    to: str | Path,
    *,
    since: date | None = None,
    formats: Sequence[str] = ("parquet",),
) -> Exported:
    """Write the four tables into the folder `to` (administrators only); see the module
    docstring. Files of an earlier export there are replaced, each only once it is whole."""
    user = ledger.access.admin(actor, "export the ledger")
    unknown = set(formats) - set(FORMATS)
    if unknown or not formats:
        raise InvalidInput(f"Export formats are {', '.join(FORMATS)}; not {', '.join(sorted(unknown))}.")
    folder = Path(to)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInput(f"Cannot make the export folder {folder}: {error.strerror}.") from None
    start = datetime.combine(since, datetime.min.time()) if since else None
    rows: dict[str, int] = {}
    files: list[Path] = []
    with ledger.db.snapshot() as snap:
        for table in TABLES:
            where, params = _window(table, start)
            rows[table.name] = 0
            for fmt in formats:
                path = folder / f"{table.name}.{fmt}"
                written = _write(snap, table, where, params, fmt, path)
                rows[table.name] = written
                files.append(path)
    with ledger.db.writing() as cur:
        audit.record(
            ledger.db, cur, at=ledger.db.clock(), actor_id=user.id, action=AuditAction.LEDGER_EXPORT,
            subject="ledger", workspace_id=None, before=None,
            after={"since": since.isoformat() if since else None, "rows": rows,
                   "formats": list(formats), "to": str(folder)},
        )
    exported = Exported(folder, since, rows, files)
    _write_text(folder / "export.json", json.dumps({
        "exported_at": ledger.db.clock().isoformat() + "Z", "by": user.email,
        "since": since.isoformat() if since else None, "rows": rows,
        "files": [p.name for p in files],
    }, indent=2) + "\n")
    return exported


def export_archive(
    ledger: Ledger, actor: User, *, since: date | None = None, formats: Sequence[str] = ("csv",)
) -> bytes:
    """The same export as one zip file, for a download."""
    with tempfile.TemporaryDirectory(prefix="billing-export-") as scratch:
        exported = export_tables(ledger, actor, scratch, since=since, formats=formats)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in [*exported.files, Path(scratch) / "export.json"]:
                archive.write(path, arcname=path.name)
    return buffer.getvalue()


def _window(table: _Table, start: datetime | None) -> tuple[str, list[object]]:
    if start is None or table.since is None:
        return "", []
    return "WHERE " + table.since.replace("?", "CAST(? AS TIMESTAMP)"), [start] * table.since.count("?")


def _batches(snap: Snapshot, table: _Table, where: str, params: list[object]) -> Iterator[pa.Table]:
    # the SQL and its condition are the constants above; values are bound
    for batch in snap.batches(table.sql.format(where=where), params):
        yield _shaped(pa.Table.from_batches([batch]), table.schema)


def _shaped(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """The columns as the export's schema has them, whatever store they came from
    (DuckDB's text views, a server's wide decimals, naive UTC times)."""
    return pa.table([data.column(f.name).cast(f.type) for f in schema], schema=schema)


def _write(snap: Snapshot, table: _Table, where: str, params: list[object], fmt: str, path: Path) -> int:
    partial = path.with_name(path.name + ".partial")
    count = 0
    if fmt == "parquet":
        with pq.ParquetWriter(partial, table.schema, compression="zstd") as writer:
            for piece in _batches(snap, table, where, params):
                writer.write_table(piece)
                count += piece.num_rows
    else:
        with partial.open("wb") as out:
            frames = _frames(snap, table, where, params)
            for chunk in csv_chunks(frames):
                out.write(chunk)
            count = frames.counted
    os.replace(partial, path)
    return count


class _Counted:
    """Frames of a table for the CSV writer (the header comes from the first, so an empty
    table still gets one), counting rows as they go."""

    def __init__(self, pieces: Iterator[pa.Table], schema: pa.Schema) -> None:
        self._pieces = pieces
        self._schema = schema
        self.counted = 0

    def __iter__(self) -> Iterator[pd.DataFrame]:
        empty = True
        for piece in self._pieces:
            self.counted += piece.num_rows
            empty = False
            yield _for_csv(piece)
        if empty:
            yield _for_csv(self._schema.empty_table())


def _for_csv(piece: pa.Table) -> pd.DataFrame:
    """Times as `2026-11-27 18:00:00` (UTC, as every time in the export), which every
    spreadsheet reads as a date and time."""
    naive = [c.cast(pa.timestamp("us")) if pa.types.is_timestamp(c.type) else c for c in piece.columns]
    return pa.table(naive, names=piece.column_names).to_pandas(types_mapper=pd.ArrowDtype)


def _frames(snap: Snapshot, table: _Table, where: str, params: list[object]) -> _Counted:
    return _Counted(_batches(snap, table, where, params), table.schema)


def _write_text(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
