"""`billing backup`: a consistent, verified copy of a ledger, taken while it runs.

One read transaction (`Database.snapshot`) sees the whole ledger at one moment while
writers go on; every table is copied from it into a new DuckDB ledger file, which is
then verified (`verify()`), compared with the snapshot (every table's row count, the
last id of every id table) and closed cleanly. Beside it goes a manifest: when, from
where, by whom, the entry high-water mark, row counts, the total balance and the file's
SHA-256. A backup is written in a hidden folder and renamed into place only when it is
complete, so a folder named `billing-…` with a manifest is a whole, verified backup.

Retention (`prune`): the newest `keep` backups, and the newest of each of the last
`daily` days; the rest of a folder's backups are deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from .errors import InvalidInput, LedgerCorrupt
from .highwater import Position
from .ledger import Ledger
from .migrate import TABLES, plain_table
from .models import User
from .store import ID_TABLES, Snapshot, is_server_url
from .store_duckdb import DuckDatabase

FORMAT = "en-credits ledger backup v1"
DATA_FILE = "ledger.duckdb"
MANIFEST = "manifest.json"
PREFIX = "billing-"
_BATCH_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a backup holds; read from (and written as) its manifest.json."""

    folder: Path
    taken_at: datetime  # naive UTC, by the ledger's clock
    taken_by: str  # who asked: an email, or "schedule"
    source: str  # the ledger's path (a server's URL without its password)
    ledger_id: str | None  # the embedded ledger's identity (its high-water mark's)
    high_water: Position  # the last id of every id table in the backup
    rows: dict[str, int]
    wallets: int
    total_balance: Decimal
    size: int
    sha256: str
    seconds: float

    @property
    def data_file(self) -> Path:
        return self.folder / DATA_FILE

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "taken_at": self.taken_at.isoformat() + "Z",
            "taken_by": self.taken_by,
            "source": self.source,
            "ledger_id": self.ledger_id,
            "high_water": self.high_water.as_dict(),
            "rows": self.rows,
            "wallets": self.wallets,
            "total_balance": str(self.total_balance),
            "file": DATA_FILE,
            "bytes": self.size,
            "sha256": self.sha256,
            "verified": "verify() passed; row counts and last ids match the snapshot",
            "seconds": round(self.seconds, 3),
            "duckdb": duckdb.__version__,
        }

    @classmethod
    def read(cls, where: str | Path) -> Manifest:
        """The manifest of the backup at `where` (its folder, or its manifest.json)."""
        path = Path(where)
        folder = path.parent if path.name == MANIFEST else path
        try:
            raw = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            if raw.get("format") != FORMAT:
                raise ValueError(raw.get("format"))
            return cls(
                folder=folder,
                taken_at=datetime.fromisoformat(str(raw["taken_at"]).removesuffix("Z")),
                taken_by=str(raw["taken_by"]),
                source=str(raw["source"]),
                ledger_id=raw.get("ledger_id"),
                high_water=Position.of(raw["high_water"]),
                rows={str(k): int(v) for k, v in raw["rows"].items()},
                wallets=int(raw["wallets"]),
                total_balance=Decimal(str(raw["total_balance"])),
                size=int(raw["bytes"]),
                sha256=str(raw["sha256"]),
                seconds=float(raw.get("seconds", 0.0)),
            )
        except FileNotFoundError:
            raise InvalidInput(f"There is no backup at {where} (no {MANIFEST} there).") from None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InvalidInput(f"{folder / MANIFEST} is not the manifest of a ledger backup.") from None

    def summary(self) -> str:
        """One sentence on what the backup holds."""
        return (
            f"taken {self.taken_at:%Y-%m-%d %H:%M:%S} UTC by {self.taken_by} from {self.source}: "
            f"{self.wallets} wallet{'s' if self.wallets != 1 else ''} holding "
            f"{self.total_balance:,.2f} en-credits in all, "
            f"{self.rows.get('entries', 0):,} transactions (entries up to id {self.high_water.entries}), "
            f"{self.rows.get('audit_log', 0):,} audit records (up to id {self.high_water.audit_log})"
        )


def take_backup(ledger: Ledger, actor: User, to: str | Path, *, taken_by: str | None = None) -> Manifest:
    """Back `ledger` up into a new folder inside `to` (administrators only); see the
    module docstring. Returns the manifest of the complete, verified backup."""
    user = ledger.access.admin(actor, "take a backup")
    started = time.perf_counter()
    folder = Path(to)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInput(f"Cannot make the backup folder {folder}: {error.strerror}.") from None
    at = ledger.db.clock()
    partial = folder / f".{PREFIX}{at:%Y%m%dT%H%M%SZ}.partial-{uuid.uuid4().hex[:8]}"
    partial.mkdir()
    try:
        copy = DuckDatabase(str(partial / DATA_FILE), ledger.db.clock, create=True, high_water=False)
        try:
            with ledger.db.snapshot() as snap:
                rows, position = _copy(snap, copy, ledger.db.id_floors())
            report = Ledger(copy).verify()
            _compare(copy, rows, position)
            with copy.reading() as cur:
                total = Decimal(cur.execute("SELECT coalesce(sum(balance), 0) FROM wallets").fetchall()[0][0])
        finally:
            copy.close()
        _fsync(partial / DATA_FILE)
        digest, size = file_digest(partial / DATA_FILE)
        manifest = Manifest(
            folder=partial,
            taken_at=at,
            taken_by=taken_by or user.email,
            source=ledger.path if is_server_url(ledger.path) or ledger.path == ":memory:"
            else os.path.abspath(ledger.path),
            ledger_id=ledger.db.ledger_id,
            high_water=position,
            rows=rows,
            wallets=report.wallets,
            total_balance=total,
            size=size,
            sha256=digest,
            seconds=time.perf_counter() - started,
        )
        _write_durably(partial / MANIFEST, json.dumps(manifest.as_json(), indent=2) + "\n")
        final = _free_name(folder, f"{PREFIX}{at:%Y%m%dT%H%M%SZ}-e{position.entries}")
        os.rename(partial, final)
        _sync(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Manifest.read(final)


def _copy(snap: Snapshot, copy: DuckDatabase, floors: Position) -> tuple[dict[str, int], Position]:
    """Every table from the snapshot into the new ledger, in one transaction; returns the
    snapshot's row counts and position (ids the source will never hand out again count)."""
    # table names come from the constants of migrate.TABLES and store.ID_TABLES
    rows = {t: int(snap.rows(f"SELECT count(*) FROM {t}")[0][0]) for t, _ in TABLES}
    last = snap.rows("SELECT " + ", ".join(f"(SELECT coalesce(max(id), 0) FROM {t})" for t in ID_TABLES))[0]
    position = Position.of(dict(zip(ID_TABLES, (int(v) for v in last), strict=True))).highest(floors)
    with copy.writing() as cur:
        for table, keep in TABLES:
            for batch in snap.batches(f"SELECT * FROM {table} WHERE {keep}", size=_BATCH_ROWS):
                copy.insert_arrow(cur, table, plain_table(batch))
        copy.after_bulk_copy(cur)
        copy.raise_id_floors(cur, position)
    return rows, position


def _compare(copy: DuckDatabase, rows: dict[str, int], position: Position) -> None:
    with copy.reading() as cur:
        got = {t: int(cur.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in rows}
    if got != rows:
        differ = {t: (rows[t], got[t]) for t in rows if rows[t] != got[t]}
        raise LedgerCorrupt(f"The backup differs from the ledger in row counts (ledger, backup): {differ}")
    if copy.position() != position:
        raise LedgerCorrupt("The backup's last ids differ from the ledger's.")


def file_digest(path: Path) -> tuple[str, int]:
    """(SHA-256 hex, size in bytes) of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _write_durably(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    _sync(path.parent)


def _fsync(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def _sync(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _free_name(folder: Path, name: str) -> Path:
    candidate, n = folder / name, 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{name}-{n}"
    return candidate


# ------------------------------------------------------------------ the backups kept


def list_backups(folder: str | Path) -> list[Manifest]:
    """The complete backups in `folder`, oldest first."""
    found = []
    base = Path(folder)
    if not base.is_dir():
        return []
    for child in base.iterdir():
        if child.name.startswith(PREFIX) and (child / MANIFEST).is_file():
            try:
                found.append(Manifest.read(child))
            except InvalidInput:
                continue  # not ours, or damaged: never listed, never deleted
    return sorted(found, key=lambda m: (m.taken_at, m.folder.name))


def kept(backups: list[Manifest], *, keep: int, daily: int, today: date) -> list[Manifest]:
    """The backups retention keeps: the newest `keep`, and the newest of each of the last
    `daily` days (today included)."""
    newest_first = sorted(backups, key=lambda m: (m.taken_at, m.folder.name), reverse=True)
    keeping = {m.folder for m in newest_first[:keep]}
    first_day = today - timedelta(days=daily - 1)
    seen_days: set[date] = set()
    for manifest in newest_first:
        day = manifest.taken_at.date()
        if first_day <= day <= today and day not in seen_days:
            seen_days.add(day)
            keeping.add(manifest.folder)
    return [m for m in backups if m.folder in keeping]


def prune(folder: str | Path, *, keep: int, daily: int, today: date) -> list[Path]:
    """Delete the backups in `folder` that retention does not keep; returns their folders."""
    backups = list_backups(folder)
    keeping = {m.folder for m in kept(backups, keep=keep, daily=daily, today=today)}
    gone = [m.folder for m in backups if m.folder not in keeping]
    for path in gone:
        shutil.rmtree(path, ignore_errors=True)
    return gone
