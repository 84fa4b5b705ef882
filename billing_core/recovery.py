"""`billing restore` and `billing recover`: bring an embedded ledger back.

- `restore(backup, to)`: the backup's file (checked against its manifest's SHA-256) is
  copied into a new file, verified and compared with the manifest, and put in place;
  a ledger that exists at `to` (the running one, say) is never written over. When the
  high-water mark of the ledger the backup was taken from is still there (beside its
  old file, or at `to`), the restore names exactly what that ledger acknowledged after
  the backup (by id), and the restored ledger never hands those ids out again.
- `recover(path)`: accept a ledger that its high-water check refused, as it is. Its
  id counters move past everything the mark acknowledged (no id is ever reused), the
  mark follows the ledger from then on, and an audit row records what was accepted.

Both write a `ledger.*` audit row into the ledger they bring back.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import audit
from .audit import AuditAction
from .backup import Manifest, file_digest
from .clock import Clock, clock_from_env
from .errors import InvalidInput, LedgerCorrupt
from .highwater import FileState, Finding, Position, describe_missing, mark_path, read_mark
from .ledger import Ledger
from .models import User, VerificationReport
from .store import is_server_url
from .store_duckdb import DuckDatabase


@dataclass(frozen=True, slots=True)
class Restored:
    manifest: Manifest
    path: str
    report: VerificationReport
    acknowledged: Position | None  # what the original ledger's high-water mark said, if found
    mark: Path | None  # where that mark was read
    missing: dict[str, tuple[int, int]]  # {table: (in the backup, acknowledged)}
    moved_aside: Path | None  # an old mark at the target, kept under another name

    def lines(self) -> list[str]:
        said = [
            f"Restored {self.manifest.folder} to {self.path}.",
            f"The backup was {self.manifest.summary()}.",
            f"verify() passed on the restored ledger ({self.report.entries:,} entries) and every "
            "table's row count matches the manifest.",
        ]
        if self.acknowledged is None:
            said.append(
                "No high-water mark of the original ledger was found, so what it acknowledged "
                "after this backup is unknown."
            )
        elif self.missing:
            said.append(
                f"The original ledger's high-water mark ({self.mark}) says it acknowledged more: "
                f"{describe_missing(self.missing)} from this backup. New ids start after those, "
                "so none is reused."
            )
        else:
            said.append(f"The original ledger's high-water mark ({self.mark}) acknowledged nothing "
                        "after this backup: nothing is missing.")
        if self.moved_aside is not None:
            said.append(f"The old high-water mark at the target was kept as {self.moved_aside}.")
        return said


def restore(
    backup: str | Path, to: str, *, actor_email: str | None = None, clock: Clock | None = None
) -> Restored:
    """Restore the backup at `backup` into the new file `to`; see the module docstring."""
    if is_server_url(to):
        raise InvalidInput(
            "Restore into a ledger file; to move it onto a PostgreSQL server afterwards, run "
            "billing migrate --from FILE --to URL (a server's own backups: README, Backups)."
        )
    manifest = Manifest.read(backup)
    target = Path(to)
    if target.exists() or Path(to + ".wal").exists():
        raise InvalidInput(
            f"{to} already exists: a restore never writes over a ledger (the running one, "
            "perhaps). Restore into a new file, then stop the app and put it in place."
        )
    try:
        digest, _ = file_digest(manifest.data_file)
    except OSError as error:
        raise InvalidInput(
            f"The backup's file {manifest.data_file} cannot be read: {error.strerror}."
        ) from None
    if digest != manifest.sha256:
        raise LedgerCorrupt(
            f"The backup {manifest.folder} is damaged: its file's SHA-256 differs from its "
            "manifest's. Nothing was restored; use another backup."
        )
    acknowledged, mark = _acknowledged(manifest, to)
    missing = manifest.high_water.behind(acknowledged) if acknowledged is not None else {}
    work = Path(to + ".restoring")
    for leftover in (work, Path(str(work) + ".wal"), Path(str(work) + ".hwm")):
        leftover.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    moved: Path | None = None
    try:
        shutil.copyfile(manifest.data_file, work)
        book = Ledger(DuckDatabase(str(work), clock or clock_from_env(), high_water=False))
        try:
            report = book.verify()
            _check_against(book, manifest)
            actor = _actor(book, actor_email, "restore a backup")
            with book.db.writing() as cur:
                db = book.db
                assert isinstance(db, DuckDatabase)
                db.raise_id_floors(cur, acknowledged or Position())
                audit.record(
                    db, cur, at=db.clock(), actor_id=actor.id, action=AuditAction.LEDGER_RESTORE,
                    subject="ledger", workspace_id=None,
                    before={
                        "backup": str(manifest.folder),
                        "taken_at": manifest.taken_at.isoformat() + "Z",
                        "sha256": manifest.sha256,
                        "high_water": manifest.high_water.as_dict(),
                    },
                    after={
                        "path": os.path.abspath(to),
                        "acknowledged": acknowledged.as_dict() if acknowledged else None,
                        "missing": describe_missing(missing) if missing else None,
                    },
                )
        finally:
            book.close()
        if target.exists():
            raise InvalidInput(f"{to} appeared while restoring; nothing was written over it.")
        old_mark = mark_path(to)
        if old_mark.exists():
            moved = Path(str(old_mark) + ".before-restore")
            os.replace(old_mark, moved)
        os.rename(work, target)
        _sync(target.parent)
    except BaseException:
        work.unlink(missing_ok=True)
        raise
    DuckDatabase(to, clock or clock_from_env()).close()  # opens as itself: starts its own mark
    return Restored(manifest, to, report, acknowledged, mark, missing, moved)


def _acknowledged(manifest: Manifest, to: str) -> tuple[Position | None, Path | None]:
    """The highest position that a high-water mark of the backup's ledger acknowledged:
    beside its original file, or at the target (where that ledger may have lived)."""
    places = [mark_path(to)]
    if not is_server_url(manifest.source):
        places.insert(0, mark_path(manifest.source))
    marks = []
    for place in dict.fromkeys(places):
        state, mark = read_mark(place)
        if state is FileState.FOUND and mark is not None and mark.ledger_id == manifest.ledger_id:
            marks.append((mark.position, place))
    if not marks:
        return None, None
    newest = max(marks, key=lambda m: (m[0].audit_log, m[0].entries))
    position = newest[0]
    for other, _ in marks:
        position = position.highest(other)
    return position, newest[1]


def _check_against(book: Ledger, manifest: Manifest) -> None:
    with book.db.reading() as cur:
        got = {t: int(cur.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in manifest.rows}
    if got != manifest.rows:
        differ = {t: (manifest.rows[t], got[t]) for t in got if got[t] != manifest.rows[t]}
        raise LedgerCorrupt(f"The backup differs from its manifest in row counts (manifest, file): {differ}")


def _actor(book: Ledger, email: str | None, doing: str) -> User:
    user = book.system_user() if email is None else book.user_by_email(email)
    if user is None:
        raise InvalidInput(f"There is no user {email} in this ledger.")
    return book.access.admin(user, doing)


def _sync(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------- recover


@dataclass(frozen=True, slots=True)
class Recovered:
    path: str
    finding: Finding | None  # what the high-water check found (None: nothing to recover)
    floors: Position | None
    report: VerificationReport | None
    kept_wal: Path | None

    @property
    def accepted(self) -> bool:
        return self.floors is not None

    def lines(self) -> list[str]:
        if not self.accepted or self.finding is None:
            return [f"Nothing to recover: {self.path} holds everything its high-water mark acknowledged."]
        finding = self.finding
        said = [f"Accepted {self.path} as it is; verify() passed ({self.report.entries:,} entries)."
                if self.report else f"Accepted {self.path} as it is."]
        if finding.missing:
            said.append(f"Its high-water mark ({finding.mark_file}) acknowledged more: "
                        f"{finding.describe_loss()}, lost for good unless a backup holds them.")
        else:
            said.append(f"Its high-water mark ({finding.mark_file}) was {finding.file_state.value}, "
                        "so what it may have lost is unknown.")
        assert self.floors is not None
        said.append(f"New ids start after entry {self.floors.entries} and audit record "
                    f"{self.floors.audit_log}, so none is reused. The acceptance is in the audit "
                    "log (ledger.recover).")
        if self.kept_wal is not None:
            said.append(f"Its write-ahead log as found is kept in {self.kept_wal}.")
        return said


def recover(path: str, *, actor_email: str | None = None, clock: Clock | None = None) -> Recovered:
    """Accept the ledger at `path` as it is; see the module docstring."""
    if is_server_url(path):
        raise InvalidInput(
            "A PostgreSQL server recovers from its own write-ahead log; billing recover is for "
            "a ledger file."
        )
    kept: Path | None = None
    wal = Path(path + ".wal")
    if wal.exists():  # DuckDB folds what it can replay into the file: keep the log as found
        kept = Path(path + ".wal.before-recover")
        shutil.copyfile(wal, kept)
    db = DuckDatabase(path, clock or clock_from_env(), accept_loss=True)
    book = Ledger(db)
    try:
        finding = db.finding
        if finding is None or finding.ok:
            if kept is not None:
                kept.unlink()
            return Recovered(path, None, None, None, None)
        report = book.verify()
        actor = _actor(book, actor_email, "recover the ledger")
        with db.writing() as cur:
            floors = db.accept_as_is(cur)
            audit.record(
                db, cur, at=db.clock(), actor_id=actor.id, action=AuditAction.LEDGER_RECOVER,
                subject="ledger", workspace_id=None,
                before={"high_water_mark": finding.file_state.value,
                        "acknowledged": finding.acknowledged.as_dict() if finding.acknowledged else None},
                after={"holds": finding.found.as_dict(),
                       "missing": finding.describe_loss() if finding.missing else None,
                       "ids_start_after": floors.as_dict()},
            )
        return Recovered(path, finding, floors, report, kept)
    finally:
        book.close()
