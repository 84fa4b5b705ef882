"""The high-water mark: proof, beside an embedded ledger, of what it acknowledged.

DuckDB replays a damaged or cut-short write-ahead log (WAL) up to the damage and opens
without the commits after it, with no error; the next write would then reuse their ids.
So every write transaction that hands out ids records, after its COMMIT and before its
caller hears of it, the last id of every id table (the ledger's *position*) in a small
file beside the ledger, `<ledger>.hwm`, and syncs it to disk. Opening compares the file
with what the ledger holds: a ledger behind its mark is refused with `LedgerCorrupt`,
naming what is missing, and never written to, so no id is reused.

The file has two 512-byte slots, written in turn, each a readable line with a sequence
number and a CRC: a write torn by a crash spoils one slot and leaves the previous one
(a commit that was never acknowledged is all that slot lacks).

A missing or unreadable mark, or another ledger's, is not trusted blindly either: the
ledger then opens only if it proves itself complete, i.e. it was closed cleanly (its
`ledger_state` row, checkpointed into the file, records the position at close and it
holds exactly that). Otherwise it is refused; `billing recover` accepts it as it is,
moves the id counters past everything the mark (if readable) acknowledged, and audits
the acceptance.
"""

from __future__ import annotations

import json
import os
import uuid
import zlib
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from pathlib import Path

from .errors import LedgerCorrupt

SLOT = 512
# the id tables every mark has named; one added later (notifications, grants, sessions, ...)
# reads as 0 from a mark written before it existed
_FIRST = frozenset({"users", "workspaces", "accounts", "entries", "credit_requests", "audit_log"})
_MAGIC = "BILLING-HWM v1"
_SUFFIX = ".hwm"


@dataclass(frozen=True, slots=True)
class Position:
    """The last id used in each id table (store.ID_TABLES): where the ledger stands."""

    users: int = 0
    workspaces: int = 0
    accounts: int = 0
    entries: int = 0
    credit_requests: int = 0
    audit_log: int = 0
    outbox: int = 0  # the notifications' tables (migration 4)
    inbox: int = 0
    deliveries: int = 0
    webhooks: int = 0
    grants: int = 0  # credit grants (migration 5)
    sessions: int = 0  # sign-in sessions and one-time password links (migration 6)
    password_links: int = 0
    prices: int = 0  # the rate card (migration 7)

    @classmethod
    def of(cls, last: dict[str, int]) -> Position:
        return cls(**{f.name: int(last.get(f.name, 0)) for f in fields(cls)})

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def behind(self, mark: Position) -> dict[str, tuple[int, int]]:
        """The tables where this position is short of `mark`: {table: (have, acknowledged)}."""
        have, want = self.as_dict(), mark.as_dict()
        return {t: (have[t], want[t]) for t in want if have[t] < want[t]}

    def highest(self, other: Position) -> Position:
        mine, theirs = self.as_dict(), other.as_dict()
        return Position.of({t: max(mine[t], theirs[t]) for t in mine})

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Position | None:
        return None if not text else cls.of(json.loads(text))


@dataclass(frozen=True, slots=True)
class Mark:
    """What the high-water file says: whose mark it is, its sequence and the position."""

    ledger_id: str
    sequence: int
    position: Position


class FileState(StrEnum):
    FOUND = "found"
    MISSING = "missing"
    DAMAGED = "damaged"  # no slot could be read
    FOREIGN = "foreign"  # a readable mark of another ledger


def new_ledger_id() -> str:
    return uuid.uuid4().hex


def mark_path(ledger_path: str) -> Path:
    return Path(ledger_path + _SUFFIX)


def _encode(mark: Mark) -> bytes:
    numbers = " ".join(f"{t}={n}" for t, n in mark.position.as_dict().items())
    body = f"{_MAGIC} seq={mark.sequence} ledger={mark.ledger_id} {numbers}"
    line = f"{body} crc={zlib.crc32(body.encode()):08x}"
    return (line.ljust(SLOT - 1) + "\n").encode()


def _decode(raw: bytes) -> Mark | None:
    try:
        line = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    body, _, crc = line.rpartition(" crc=")
    if not body.startswith(_MAGIC + " ") or f"{zlib.crc32(body.encode()):08x}" != crc:
        return None
    try:
        values = dict(token.split("=", 1) for token in body[len(_MAGIC) + 1:].split())
        # the tables a mark has always named must be there; a later id table is 0 until named
        position = Position.of({f.name: int(values[f.name]) if f.name in _FIRST else
                                int(values.get(f.name, 0)) for f in fields(Position)})
        return Mark(values["ledger"], int(values["seq"]), position)
    except (KeyError, ValueError):
        return None


def read_mark(path: Path) -> tuple[FileState, Mark | None]:
    """The newest readable slot of the file at `path` (FOUND), or why there is none."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return FileState.MISSING, None
    except OSError:
        return FileState.DAMAGED, None
    marks = [m for m in (_decode(raw[i:i + SLOT]) for i in (0, SLOT)) if m is not None]
    if not marks:
        return FileState.DAMAGED, None
    return FileState.FOUND, max(marks, key=lambda m: m.sequence)


class MarkFile:
    """The open high-water file of one ledger, written after every commit that moved it."""

    def __init__(self, path: Path, ledger_id: str, sequence: int = 0) -> None:
        self.path = path
        self.ledger_id = ledger_id
        self._sequence = sequence
        self._last: Position | None = None
        created = not path.exists()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if created:  # the file's name must be as durable as what it will hold
            _sync_directory(path.parent)

    def write(self, position: Position) -> None:
        """Record `position` and sync it to disk (one 512-byte write and an fdatasync);
        nothing to do when it has not moved since the last write."""
        if position == self._last:
            return
        self._sequence += 1
        os.pwrite(self._fd, _encode(Mark(self.ledger_id, self._sequence, position)),
                  SLOT * (self._sequence % 2))
        os.fdatasync(self._fd)
        self._last = position

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _sync_directory(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------- judging


@dataclass(frozen=True, slots=True)
class Finding:
    """What opening found: nothing wrong (`ok`), acknowledged work missing (`missing`
    non-empty), or a mark that cannot be trusted and a ledger that cannot prove itself
    complete (`unproven`)."""

    where: str
    mark_file: Path
    found: Position  # what the ledger holds (with any id floors of an earlier recovery)
    file_state: FileState
    mark: Mark | None
    missing: dict[str, tuple[int, int]]
    unproven: bool

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unproven

    @property
    def acknowledged(self) -> Position | None:
        """The position the mark says was acknowledged, when it is this ledger's."""
        return self.mark.position if self.file_state is FileState.FOUND and self.mark else None

    def describe_loss(self) -> str:
        """`120 acknowledged transactions (entries 1115 to 1234) and 121 audit records
        (ids 2225 to 2345) are missing`."""
        return describe_missing(self.missing)

    def refusal(self) -> LedgerCorrupt:
        """The LedgerCorrupt that refuses this opening, saying what to do."""
        remedy = (
            "It was not opened and nothing in it was changed. Restore the latest backup into a "
            "new file (billing restore --from BACKUP --to NEW_FILE; README, Backups), or accept "
            f"the ledger as it is, audited, with: billing recover --db {self.where}"
        )
        if self.missing:
            mark = self.acknowledged
            assert mark is not None
            return LedgerCorrupt(
                f"The ledger {self.where} is missing acknowledged work: its high-water mark "
                f"({self.mark_file}) says entries up to {mark.entries:,} and audit records up to "
                f"{mark.audit_log:,} were committed, but it holds entries up to "
                f"{self.found.entries:,} and audit records up to {self.found.audit_log:,}: "
                f"{self.describe_loss()}. {remedy}"
            )
        why = {
            FileState.MISSING: "is missing",
            FileState.DAMAGED: "is damaged (no readable record)",
            FileState.FOREIGN: "belongs to another ledger",
        }[self.file_state]
        return LedgerCorrupt(
            f"The ledger {self.where} cannot show that it holds every acknowledged transaction: "
            f"its high-water mark ({self.mark_file}) {why}, and the ledger was not closed cleanly, "
            f"so commits may have been lost with its write-ahead log. {remedy}"
        )


def describe_missing(missing: dict[str, tuple[int, int]]) -> str:
    """The acknowledged work a ledger lacks, from `Position.behind`, ids as ranges (ids are
    handed out one after another, so exactly the lost ones are named): `120 acknowledged
    transactions (entries 1115 to 1234) and 121 audit records (ids 2225 to 2345) are
    missing`, or `no transaction, but 1 audit record (id 2346) is missing`."""

    def counted(have: int, acknowledged: int, what: tuple[str, str], ids: tuple[str, str]) -> str:
        count = acknowledged - have
        if count == 1:
            return f"1 {what[0]} ({ids[0]} {acknowledged})"
        return f"{count} {what[1]} ({ids[1]} {have + 1} to {acknowledged})"

    entries, audit = missing.get("entries"), missing.get("audit_log")
    parts = []
    if entries:
        parts.append(counted(*entries, ("acknowledged transaction", "acknowledged transactions"),
                             ("entry", "entries")))
    if audit:
        parts.append(counted(*audit, ("audit record", "audit records"), ("id", "ids")))
    others = [t.replace("_", " ") for t in missing if t not in ("entries", "audit_log")]
    if others:
        parts.append("the newest ids of " + ", ".join(others))
    first = entries or audit or (0, 0)
    plural = len(parts) > 1 or first[1] - first[0] > 1
    text = " and ".join(parts) + (" are missing" if plural else " is missing")
    return text if entries else "no transaction, but " + text


def judge(
    where: str,
    mark_file: Path,
    found: Position,
    closed_at: Position | None,
    *,
    ledger_id: str,
    tracked: bool,
) -> Finding:
    """Compare a ledger's position with its high-water file.

    `closed_at` is the position the ledger recorded when it was last closed cleanly
    (None while it is open or after a crash); `tracked` is False for a ledger that has
    never kept a mark (made before this check existed), which is accepted as it is."""
    state, mark = read_mark(mark_file)
    if state is FileState.FOUND and mark is not None and mark.ledger_id != ledger_id:
        state = FileState.FOREIGN
    if state is FileState.FOUND and mark is not None:
        missing = found.behind(mark.position)
        return Finding(where, mark_file, found, state, mark, missing, unproven=False)
    proven = not tracked or (closed_at is not None and closed_at == found)
    return Finding(where, mark_file, found, state, mark, {}, unproven=not proven)
