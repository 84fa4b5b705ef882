"""Backups taken by the process that holds the ledger: on a schedule, on an admin's
request in the app, and on request of `billing backup` run in another process.

The embedded ledger's file can be opened by one process only (the app, while it runs),
so that process takes every backup. `BackupScheduler` is a thread owned by its Ledger:
every `poll` seconds it answers backup requests left in the ledger's folder, then takes
the scheduled backup when one is due and prunes the old ones.

A request from another process (`ask_app`) goes through the ledger's folder:
`<ledger>.requests/<id>.request.json` names the target folder and who asks; the app
claims it by renaming it to `<id>.taken`, takes the backup, and writes its answer to
`<id>.answer.json` (every file written whole, then renamed into place).

Settings (environment; `BackupSettings.from_env`):

- `BILLING_BACKUP_DIR`: where scheduled and app backups go (default: `backups/` beside
  the ledger file);
- `BILLING_BACKUP_EVERY`: `1h` by default (`30m`, `6h`, `1d`, ...; `off` for none). A
  ledger on a PostgreSQL server is backed up by the server's own tools, so there it is
  off unless set;
- `BILLING_BACKUP_KEEP` (48) and `BILLING_BACKUP_DAILY` (30): retention, see backup.prune;
- `BILLING_BACKUP_POLL`: seconds between looks for requests (default 1).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .backup import Manifest, list_backups, prune, take_backup
from .errors import BillingError, InvalidInput, LedgerInUse
from .ledger import Ledger
from .models import User

_log = logging.getLogger("billing.backups")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400}
SCHEDULE = "schedule"  # `taken_by` of a scheduled backup


def parse_every(text: str) -> timedelta | None:
    """`1h`, `30m`, `90s`, `2d` or a number of seconds; `off`, `0` or empty for none."""
    if text.strip().lower() in ("", "off", "none", "0"):
        return None
    found = _DURATION.match(text.lower())
    if not found:
        raise InvalidInput(f"BILLING_BACKUP_EVERY={text!r} is not a duration such as 1h, 30m or off.")
    return timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


def _whole(name: str, default: int) -> int:
    text = os.environ.get(name) or str(default)
    if not text.isdigit():
        raise InvalidInput(f"{name}={text!r} is not a whole number.")
    return int(text)


@dataclass(frozen=True, slots=True)
class BackupSettings:
    folder: Path | None  # None: nowhere set (a server's ledger without BILLING_BACKUP_DIR)
    every: timedelta | None
    keep: int = 48
    daily: int = 30
    poll: float = 1.0

    @classmethod
    def from_env(cls, ledger: Ledger) -> BackupSettings:
        embedded = ledger.db.single_process and ledger.path != ":memory:"
        folder = os.environ.get("BILLING_BACKUP_DIR")
        where = Path(folder) if folder else (Path(ledger.path).parent / "backups" if embedded else None)
        every = os.environ.get("BILLING_BACKUP_EVERY")
        return cls(
            folder=where,
            every=parse_every(every) if every is not None else (timedelta(hours=1) if embedded else None),
            keep=_whole("BILLING_BACKUP_KEEP", 48),
            daily=_whole("BILLING_BACKUP_DAILY", 30),
            poll=float(os.environ.get("BILLING_BACKUP_POLL") or 1.0),
        )

    def describe(self) -> str:
        if self.folder is None or self.every is None:
            return "No scheduled backups (BILLING_BACKUP_EVERY is off, or no BILLING_BACKUP_DIR)."
        return (f"Every {_readable(self.every)} into {self.folder}; keeping the newest {self.keep} "
                f"and one a day for {self.daily} days.")


def _readable(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}s" if count != 1 else unit
    return f"{seconds} seconds"


def requests_folder(ledger_path: str) -> Path:
    return Path(ledger_path + ".requests")


class BackupScheduler:
    """The backup thread of the process holding the ledger; see the module docstring."""

    def __init__(self, ledger: Ledger, settings: BackupSettings) -> None:
        self.ledger = ledger
        self.settings = settings
        self._lock = threading.Lock()  # one backup at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: datetime | None = None  # when the newest backup in the folder was taken
        self.last_error: str | None = None
        if settings.folder is not None:
            newest = list_backups(settings.folder)
            self._last = newest[-1].taken_at if newest else None

    # ---------------------------------------------------------------- the thread
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="billing-backups", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.settings.poll):
            try:
                self.run_pending()
            except Exception:  # a bug must not end the thread: logged, tried again next time
                _log.exception("the backup thread failed")

    def run_pending(self) -> None:
        """One pass: answer the requests waiting, then take the scheduled backup if due."""
        if self.ledger.db.single_process:
            self.serve_requests()
        if self.due():
            try:
                self.backup(self.ledger.system_user(), taken_by=SCHEDULE)
                self.last_error = None
            except Exception as error:  # kept for the admin page; tried again when next due
                self.last_error = f"{self.ledger.db.clock():%Y-%m-%d %H:%M} UTC: {error}"
                self._last = self.ledger.db.clock()
                _log.error("the scheduled backup failed: %s", error,
                           exc_info=not isinstance(error, BillingError))

    def due(self) -> bool:
        if self.settings.every is None or self.settings.folder is None:
            return False
        return self._last is None or self.ledger.db.clock() - self._last >= self.settings.every

    # ---------------------------------------------------------------- backing up
    def backup(self, actor: User, *, to: str | Path | None = None, taken_by: str | None = None) -> Manifest:
        """Take a backup now (into the settings' folder unless `to`), one at a time; a
        backup into the settings' folder prunes it afterwards."""
        folder = Path(to) if to is not None else self.settings.folder
        if folder is None:
            raise InvalidInput("No backup folder is set: set BILLING_BACKUP_DIR.")
        with self._lock:
            manifest = take_backup(self.ledger, actor, folder, taken_by=taken_by)
            if self.settings.folder is not None and folder.resolve() == self.settings.folder.resolve():
                self._last = manifest.taken_at
                prune(folder, keep=self.settings.keep, daily=self.settings.daily,
                      today=self.ledger.db.clock().date())
        return manifest

    def backups(self) -> list[Manifest]:
        """The backups in the settings' folder, newest first."""
        return list(reversed(list_backups(self.settings.folder))) if self.settings.folder else []

    # ---------------------------------------------------------------- requests
    def serve_requests(self) -> None:
        folder = requests_folder(self.ledger.path)
        if not folder.is_dir():
            return
        for request in sorted(folder.glob("*.request.json")):
            ident = request.name.removesuffix(".request.json")
            taken = folder / f"{ident}.taken"
            try:
                os.rename(request, taken)  # the claim: exactly one taker, or none if withdrawn
            except FileNotFoundError:
                continue
            _write_json(folder / f"{ident}.answer.json", self._answer(taken))
            taken.unlink(missing_ok=True)

    def _answer(self, taken: Path) -> dict[str, Any]:
        try:
            asked = json.loads(taken.read_text(encoding="utf-8"))
            email = asked.get("as")
            actor = self.ledger.system_user() if email is None else self.ledger.user_by_email(str(email))
            if actor is None:
                raise InvalidInput(f"There is no user {email} in this ledger.")
            manifest = self.backup(actor, to=str(asked["to"]))
        except BillingError as error:
            return {"ok": False, "error": str(error)}
        except (ValueError, KeyError, TypeError) as error:
            return {"ok": False, "error": f"The request could not be read: {error}"}
        except Exception as error:  # the asking process must hear of it, not wait in vain
            _log.exception("a requested backup failed")
            return {"ok": False, "error": f"The backup failed: {error}"}
        return {"ok": True, "folder": str(manifest.folder), "summary": manifest.summary()}


def _write_json(path: Path, value: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(value), encoding="utf-8")
    os.replace(partial, path)


# ------------------------------------------------------------------ the asking side


def ask_app(
    ledger_path: str,
    to: str,
    *,
    email: str | None,
    refusal: LedgerInUse,
    say: Callable[[str], None] = print,
    claim_within: float | None = None,
    answer_within: float = 24 * 3_600,
) -> str:
    """Ask the process holding the ledger at `ledger_path` to back it up into `to`; wait
    for its answer and return the summary of the backup. Raises `refusal` (with a word on
    why) when nothing takes the request within `claim_within` seconds
    ($BILLING_BACKUP_WAIT, default 15)."""
    folder = requests_folder(ledger_path)
    folder.mkdir(exist_ok=True)
    ident = uuid.uuid4().hex
    request = folder / f"{ident}.request.json"
    _write_json(request, {"to": os.path.abspath(to), "as": email})
    say(f"The ledger is held by another process (the billing app); asked it to take the backup "
        f"(request {ident[:8]} in {folder}).")
    limit = claim_within if claim_within is not None else float(os.environ.get("BILLING_BACKUP_WAIT") or 15)
    answer = folder / f"{ident}.answer.json"
    deadline = time.monotonic() + limit
    while request.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if request.exists():
        try:
            os.rename(request, folder / f"{ident}.withdrawn")
            (folder / f"{ident}.withdrawn").unlink()
            raise LedgerInUse(
                f"{str(refusal).rstrip('.')}; and it did not take the backup request within "
                f"{limit:g} s (an app of this version takes them; is it another program?)."
            ) from None
        except FileNotFoundError:
            pass  # taken at the last moment
    deadline = time.monotonic() + answer_within
    while not answer.exists():
        if time.monotonic() > deadline:
            raise LedgerInUse("The billing app took the backup request but gave no answer in time.")
        time.sleep(0.1)
    said = json.loads(answer.read_text(encoding="utf-8"))
    answer.unlink(missing_ok=True)
    if not said.get("ok"):
        raise BillingError(str(said.get("error") or "The billing app could not take the backup."))
    return f"Backed up into {said['folder']}: {said['summary']}."
