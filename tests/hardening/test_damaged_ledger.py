"""Issue 4, item 6 (damage): a truncated or corrupted ledger is refused, never silently
opened with data missing.

Two files can be damaged: the database file (checkpointed blocks, each with a checksum)
and its write-ahead log `<file>.wal` (commits since the last checkpoint). Every case
below opens a damaged copy with `open_ledger` and classifies what happens:

- refused:     open_ledger raised LedgerCorrupt or LedgerUnavailable (what we want);
- intact:      it opened and every row of every table is exactly as before the damage
               (the damage hit a free block, or nothing that was needed);
- error-later: it opened, and a later read raised a BillingError;
- different:   it opened and rows are missing or changed, with no error at all;
- crash:       something other than a BillingError escaped.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import billing_core
from billing_core import BillingError, LedgerCorrupt, LedgerUnavailable
from tests.hardening.books import audit_problems, cast, replay_problems, rows

TABLES = (
    "users",
    "workspaces",
    "memberships",
    "accounts",
    "wallets",
    "entries",
    "postings",
    "idempotency_keys",
    "daily_rollups",
    "credit_requests",
    "audit_log",
)
ACKNOWLEDGED = 120  # debits committed (and returned to the caller) before the process died

WRITER = """
import os, sys, billing_core
ledger = billing_core.open_ledger(sys.argv[1])
system = ledger.system_user()
space = ledger.workspaces(system)[0].id
ids = [ledger.consume(system, space, "1", feature="AI", description=f"acknowledged {i}",
                      idempotency_key=f"k{i}").id for i in range(int(sys.argv[2]))]
print(" ".join(map(str, ids)), flush=True)
os._exit(0)  # no close, so no checkpoint: these commits live only in the WAL
"""


def everything(ledger: billing_core.Ledger) -> dict[str, list[int]]:
    # table names come from the constant TABLES
    return {
        t: sorted(h for (h,) in rows(ledger, f"SELECT hash(x) FROM {t} x"))  # noqa: S608
        for t in TABLES
    }


@dataclass(frozen=True)
class Outcome:
    kind: str
    detail: str = ""


def open_damaged(path: Path, original: dict[str, list[int]]) -> Outcome:
    try:
        ledger = billing_core.open_ledger(str(path))
    except (LedgerCorrupt, LedgerUnavailable) as error:
        return Outcome("refused", f"{type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001 - classified
        return Outcome("crash", f"{type(error).__name__} at open: {error}")
    try:
        data = everything(ledger)
        ledger.verify()
        if data == original:
            return Outcome("intact")
        missing = {t: len(original[t]) - len(data[t]) for t in TABLES if data[t] != original[t]}
        return Outcome("different", f"rows missing per table: {missing}")
    except BillingError as error:
        return Outcome("error-later", f"{type(error).__name__}: {str(error)[:160]}")
    except Exception as error:  # noqa: BLE001 - classified
        return Outcome("crash", f"{type(error).__name__}: {error}")
    finally:
        try:
            ledger.close()
        except Exception:  # noqa: BLE001, S110 - closing a damaged file may fail too
            pass


@pytest.fixture(scope="module")
def damaged_source(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A ledger whose last ACKNOWLEDGED debits are only in its WAL, and a checkpointed
    copy of the same ledger; with the rows each should hold."""
    home = tmp_path_factory.mktemp("damage")
    wal_base = home / "with-wal.duckdb"
    ledger = billing_core.open_ledger(str(wal_base), create=True)
    cast(ledger, 2, members_each=2, funding="100000")
    for i in range(5):
        ledger.request_credits(ledger.system_user(), 1, "10", note=f"request {i}")
    ledger.close()
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(wal_base), str(ACKNOWLEDGED)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    acknowledged = [int(x) for x in done.stdout.split()]
    assert len(acknowledged) == ACKNOWLEDGED
    wal = Path(f"{wal_base}.wal")
    assert wal.exists() and wal.stat().st_size > 10_000, "the commits should be in the WAL"
    checkpointed = home / "checkpointed.duckdb"
    shutil.copy(wal_base, checkpointed)
    shutil.copy(wal, f"{checkpointed}.wal")
    book = billing_core.open_ledger(str(checkpointed))
    full = everything(book)
    book.checkpoint()
    book.close()
    assert not Path(f"{checkpointed}.wal").exists()
    return {
        "home": home,
        "wal_base": wal_base,
        "checkpointed": checkpointed,
        "full": full,
        "acknowledged": acknowledged,
    }


def damaged_copy(source: dict[str, object], name: str, *, with_wal: bool) -> Path:
    base = source["wal_base"] if with_wal else source["checkpointed"]
    path = Path(str(source["home"])) / f"{name}.duckdb"
    for leftover in (path, Path(f"{path}.wal")):
        leftover.unlink(missing_ok=True)
    shutil.copy(base, path)  # type: ignore[arg-type]
    if with_wal:
        shutil.copy(f"{base}.wal", f"{path}.wal")
    return path


def flip(path: Path | str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        old = f.read(4)
        f.seek(offset)
        f.write(bytes(b ^ 0x5A for b in old))


def file_damage_cases(source: dict[str, object], count: int) -> dict[str, Path]:
    size = Path(str(source["checkpointed"])).stat().st_size
    cases: dict[str, Path] = {}
    for i in range(count):
        offset = 4_200 + (size - 8_400) * i // max(1, count - 1)
        cases[f"flip@{offset}"] = path = damaged_copy(source, f"flip{i}", with_wal=False)
        flip(path, offset)
    for label, cut in (
        ("truncated to 12 KiB", 12_288),
        ("truncated to half", size // 2),
        ("last 4 KiB cut", size - 4_096),
    ):
        cases[label] = path = damaged_copy(source, label.replace(" ", "-"), with_wal=False)
        with open(path, "r+b") as f:
            f.truncate(cut)
    return cases


def test_damage_to_the_ledger_file_never_yields_wrong_data(size, tally, damaged_source) -> None:
    """Flipped bytes and truncations anywhere in the file: refused, or intact, or a read
    fails with a BillingError; never rows silently missing or changed, never a crash."""
    cases = file_damage_cases(damaged_source, size.pick(16, 96))
    seen: dict[str, int] = {}
    for label, path in cases.items():
        outcome = open_damaged(path, damaged_source["full"])  # type: ignore[arg-type]
        seen[outcome.kind] = seen.get(outcome.kind, 0) + 1
        if outcome.kind in ("different", "crash"):
            tally.problem(f"{label}: {outcome.kind}: {outcome.detail}")
        tally.add(runs=1, operations=1)
    tally.note = ", ".join(f"{n} {kind}" for kind, n in sorted(seen.items()))
    assert seen.get("refused"), f"no damage was refused at all: {seen}"
    tally.assert_clean()


@pytest.mark.xfail(
    strict=True,
    reason=(
        "OPEN DEFECT: store.Database opens a damaged file without reading it, so a truncated "
        "file or a corrupted data block is found only by the first query that reads it (now "
        "reported as LedgerCorrupt, never as wrong data). Refusing at open needs a full read of "
        "every table on each open: seconds at 10M entries, for every CLI call"
    ),
)
def test_a_damaged_ledger_file_is_refused_when_opened(damaged_source) -> None:
    found = {
        label: open_damaged(path, damaged_source["full"])  # type: ignore[arg-type]
        for label, path in file_damage_cases(damaged_source, 16).items()
    }
    late = {label: o.detail for label, o in found.items() if o.kind not in ("refused", "intact")}
    assert not late, late


def wal_damage_cases(source: dict[str, object]) -> dict[str, Path]:
    wal_size = Path(f"{source['wal_base']}.wal").stat().st_size
    cases: dict[str, Path] = {}
    for label, offset in (
        ("WAL header flipped", 0),
        ("WAL first record flipped", 40),
        ("WAL flipped at 1 KiB", 1_000),
    ):
        cases[label] = path = damaged_copy(source, label.replace(" ", "-"), with_wal=True)
        flip(f"{path}.wal", offset)
    for label, cut in (("WAL truncated to half", wal_size // 2), ("WAL last record torn", wal_size - 7)):
        cases[label] = path = damaged_copy(source, label.replace(" ", "-"), with_wal=True)
        with open(f"{path}.wal", "r+b") as f:
            f.truncate(cut)
    return cases


def test_a_torn_wal_opens_as_a_consistent_prefix_of_the_commits(damaged_source, tally) -> None:
    """What DuckDB does with a WAL cut inside a record: it replays the whole transactions
    before the cut and drops the rest, so the ledger opens balanced: entries 1..k of the
    acknowledged ones, each complete with its postings, rollup and audit row."""
    acknowledged: list[int] = damaged_source["acknowledged"]  # type: ignore[assignment]
    for label, path in wal_damage_cases(damaged_source).items():
        if "truncated" not in label and "torn" not in label:
            continue
        ledger = billing_core.open_ledger(str(path))
        try:
            ledger.verify()
            present = [
                i
                for (i,) in rows(
                    ledger, "SELECT id FROM entries WHERE id >= ? ORDER BY id", [acknowledged[0]]
                )
            ]
            if present != acknowledged[: len(present)]:
                tally.problem(f"{label}: entries {present[:5]}... are not a prefix of the commits")
            tally.problems([f"{label}: {p}" for p in replay_problems(ledger) + audit_problems(ledger)])
            tally.add(runs=1, operations=len(acknowledged) - len(present))  # commits dropped
            tally.note = "operations = acknowledged commits DuckDB dropped"
        finally:
            ledger.close()
    tally.assert_clean()


@pytest.mark.xfail(
    strict=True,
    reason=(
        "DEFECT (DuckDB WAL replay, not caught by billing_core): a WAL whose header or an early "
        "record is damaged, or which is cut short, is replayed only up to the damage and the "
        "ledger opens without the acknowledged transactions after it, with no error; the next "
        "write reuses their entry ids and the checkpoint then deletes the WAL, so they are lost "
        "for good"
    ),
)
def test_a_damaged_wal_never_silently_drops_acknowledged_commits(damaged_source) -> None:
    silent = {}
    for label, path in wal_damage_cases(damaged_source).items():
        outcome = open_damaged(path, damaged_source["full"])  # type: ignore[arg-type]
        if outcome.kind not in ("refused", "intact"):
            silent[label] = f"{outcome.kind}: {outcome.detail}"
    assert not silent, silent
