"""Issue 16: the high-water mark beside an embedded ledger (billing_core/highwater.py).

A ledger left by a crashed process (its last commits only in the WAL) is opened with its
mark missing, damaged, torn, or another ledger's; `billing recover` accepts a refused
ledger, audited, without ever reusing an id; a new ledger is not made over a lost one's
mark; and the mark is on disk before a caller hears that its debit was committed.
(Damage to the WAL itself: test_damaged_ledger.py.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import billing_core
from billing_core import LedgerCorrupt
from billing_core.cli import main
from billing_core.highwater import SLOT, FileState, read_mark
from tests.hardening.books import audit_problems, cast, rows

WRITER = """
import os, sys, billing_core
ledger = billing_core.open_ledger(sys.argv[1])
system = ledger.system_user()
space = ledger.workspaces(system)[0].id
ids = [ledger.consume(system, space, "1", feature="AI", description=f"acknowledged {i}").id
       for i in range(int(sys.argv[2]))]
print(" ".join(map(str, ids)), flush=True)
os._exit(0)  # no close: these commits live only in the WAL, the ledger is not closed cleanly
"""
DEBITS = 12


def crashed(path: Path) -> list[int]:
    """Make a ledger at `path`, then debit it from a process that dies without closing it;
    the ids of the debits that process was told were committed."""
    ledger = billing_core.open_ledger(str(path), create=True)
    cast(ledger, 1, funding="1000")
    ledger.close()
    done = subprocess.run([sys.executable, "-c", WRITER, str(path), str(DEBITS)],
                          capture_output=True, text=True, timeout=120, check=True)
    assert Path(f"{path}.wal").exists() and Path(f"{path}.hwm").exists()
    return [int(x) for x in done.stdout.split()]


@pytest.fixture
def after_crash(tmp_path: Path) -> tuple[Path, list[int]]:
    path = tmp_path / "ledger.duckdb"
    return path, crashed(path)


def refusal(path: Path) -> str:
    with pytest.raises(LedgerCorrupt) as refused:
        billing_core.open_ledger(str(path))
    return str(refused.value)


def test_a_crashed_ledger_with_its_mark_opens_with_every_acknowledged_debit(after_crash) -> None:
    path, acknowledged = after_crash
    with billing_core.open_ledger(str(path)) as ledger:
        assert [i for (i,) in rows(ledger, "SELECT id FROM entries WHERE id >= ? ORDER BY id",
                                    [acknowledged[0]])] == acknowledged
        ledger.verify()


def test_the_mark_is_readable_text_and_says_the_last_ids(after_crash) -> None:
    path, acknowledged = after_crash
    text = Path(f"{path}.hwm").read_bytes().decode("ascii")
    assert f"entries={acknowledged[-1]} " in text and text.startswith("BILLING-HWM v1 seq=")
    state, mark = read_mark(Path(f"{path}.hwm"))
    assert state is FileState.FOUND and mark is not None and mark.position.entries == acknowledged[-1]


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("missing", "is missing"),
        ("emptied", "is damaged"),
        ("garbage", "is damaged"),
        ("both slots flipped", "is damaged"),
        ("another ledger's", "belongs to another ledger"),
    ],
)
def test_a_crashed_ledger_whose_mark_cannot_be_trusted_is_refused(
    after_crash, tmp_path: Path, damage: str, said: str
) -> None:
    path, _ = after_crash
    mark = Path(f"{path}.hwm")
    if damage == "missing":
        mark.unlink()
    elif damage == "emptied":
        mark.write_bytes(b"")
    elif damage == "garbage":
        mark.write_bytes(os.urandom(2 * SLOT))
    elif damage == "both slots flipped":
        raw = bytearray(mark.read_bytes())
        for at in (40, SLOT + 40):
            raw[at] ^= 0x5A
        mark.write_bytes(bytes(raw))
    else:
        other = tmp_path / "other.duckdb"
        billing_core.open_ledger(str(other), create=True).close()
        shutil.copy(f"{other}.hwm", mark)
    message = refusal(path)
    assert said in message and "not closed cleanly" in message and "billing recover" in message
    assert Path(f"{path}.wal").exists(), "the refusal left the write-ahead log as it was"


def test_a_torn_write_of_the_newest_slot_falls_back_to_the_one_before(after_crash) -> None:
    """A crash in the middle of writing the mark spoils the slot being written; the other
    slot holds the mark before it (the commit being recorded was never acknowledged)."""
    path, acknowledged = after_crash
    mark = Path(f"{path}.hwm")
    _, newest = read_mark(mark)
    assert newest is not None
    raw = bytearray(mark.read_bytes())
    raw[SLOT * (newest.sequence % 2) + 100] ^= 0x5A
    mark.write_bytes(bytes(raw))
    state, older = read_mark(mark)
    assert state is FileState.FOUND and older is not None and older.sequence == newest.sequence - 1
    with billing_core.open_ledger(str(path)) as ledger:
        ledger.verify()
    _, rewritten = read_mark(mark)
    assert rewritten is not None and rewritten.position.entries == acknowledged[-1]


def test_a_cleanly_closed_ledger_proves_itself_without_its_mark(tmp_path: Path) -> None:
    """A copy of a closed ledger (a file moved, a backup restored by hand) opens without its
    mark: its own state, checkpointed into the file, says it holds all it held at close."""
    path = tmp_path / "ledger.duckdb"
    with billing_core.open_ledger(str(path), create=True) as ledger:
        cast(ledger, 1, funding="10")
    copy = tmp_path / "copy.duckdb"
    shutil.copy(path, copy)
    with billing_core.open_ledger(str(copy)) as ledger:
        ledger.verify()
    assert Path(f"{copy}.hwm").exists(), "the copy keeps a mark of its own from now on"


def test_a_ledger_open_in_a_process_that_died_is_refused_without_its_mark(tmp_path: Path) -> None:
    """Even with no commit in its WAL: the ledger recorded at open that it was open, so
    its file alone cannot pass for a cleanly closed one."""
    path = tmp_path / "ledger.duckdb"
    billing_core.open_ledger(str(path), create=True).close()
    subprocess.run([sys.executable, "-c", "import os, sys, billing_core\n"
                    "billing_core.open_ledger(sys.argv[1]); os._exit(0)", str(path)],
                   check=True, timeout=60)
    Path(f"{path}.hwm").unlink()
    assert "is missing" in refusal(path)


def test_recover_accepts_a_refused_ledger_audited_and_never_reuses_an_id(
    after_crash, capsys: pytest.CaptureFixture[str]
) -> None:
    path, acknowledged = after_crash
    with open(f"{path}.wal", "r+b") as f:
        f.truncate(Path(f"{path}.wal").stat().st_size // 2)
    assert "acknowledged transactions (entries" in refusal(path)
    assert main(["recover", "--db", str(path)]) == 0
    said = capsys.readouterr().out
    assert "Accepted" in said and "none is reused" in said and "ledger.recover" in said
    kept = Path(f"{path}.wal.before-recover")
    assert kept.exists(), "the write-ahead log as found is kept"
    with billing_core.open_ledger(str(path)) as ledger:
        ledger.verify()
        present = [i for (i,) in rows(ledger, "SELECT id FROM entries WHERE id >= ?", [acknowledged[0]])]
        lost = sorted(set(acknowledged) - set(present))
        assert lost and f"entries {lost[0]} to {lost[-1]}" in said
        (action, before, after), = rows(
            ledger, "SELECT action, before, after FROM audit_log WHERE action = 'ledger.recover'")
        assert json.loads(before)["acknowledged"]["entries"] == acknowledged[-1]
        assert json.loads(after)["holds"]["entries"] == (present[-1] if present else acknowledged[0] - 1)
        system = ledger.system_user()
        space = ledger.workspaces(system)[0].id
        debit = ledger.consume(system, space, "1", feature="AI", description="after recover")
        assert debit.id == acknowledged[-1] + 1, "the next id comes after every acknowledged one"
        assert audit_problems(ledger) == []
    with billing_core.open_ledger(str(path)) as ledger:  # and it stays that way
        assert ledger.consume(ledger.system_user(), space, "1", feature="AI", description="again").id \
            == acknowledged[-1] + 2
    assert main(["recover", "--db", str(path)]) == 0
    assert "Nothing to recover" in capsys.readouterr().out


def test_recover_accepts_a_ledger_whose_mark_is_missing(after_crash, capsys) -> None:
    path, acknowledged = after_crash
    Path(f"{path}.hwm").unlink()
    assert main(["recover", "--db", str(path)]) == 0
    said = capsys.readouterr().out
    assert "was missing, so what it may have lost is unknown" in said
    with billing_core.open_ledger(str(path)) as ledger:
        assert len(rows(ledger, "SELECT id FROM entries WHERE id >= ?", [acknowledged[0]])) == DEBITS


def test_recover_of_a_ledger_that_does_not_balance_accepts_nothing(after_crash, capsys) -> None:
    import duckdb

    path, _ = after_crash
    Path(f"{path}.hwm").unlink()
    with duckdb.connect(str(path)) as con:  # damage the books behind the ledger's back
        con.execute("UPDATE wallets SET balance = balance + 1")
    assert main(["recover", "--db", str(path)]) == 1
    assert "does not balance" in capsys.readouterr().err
    assert "is missing" in refusal(path)


def test_a_new_ledger_is_not_made_where_a_lost_ones_mark_is(tmp_path: Path, capsys) -> None:
    path = tmp_path / "ledger.duckdb"
    with billing_core.open_ledger(str(path), create=True) as ledger:
        cast(ledger, 1, funding="10")
    path.unlink()  # the ledger is lost; its mark is not
    assert main(["init", "--db", str(path)]) == 1
    assert "a ledger that acknowledged transactions lived here" in capsys.readouterr().err
    assert not path.exists()


def test_the_mark_is_on_disk_before_the_debit_is_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each sync of the mark file is watched: by the time `consume` returns a transaction,
    a sync has made a mark with that transaction's id durable."""
    from billing_core import highwater

    path = tmp_path / "ledger.duckdb"
    ledger = billing_core.open_ledger(str(path), create=True)
    synced: list[int] = []
    real_sync = os.fdatasync

    def watched(fd: int) -> None:
        real_sync(fd)
        _, mark = read_mark(Path(f"{path}.hwm"))
        synced.append(mark.position.entries if mark else -1)

    try:
        people = cast(ledger, 1, funding="100")
        space = people["spaces"][0]
        monkeypatch.setattr(highwater.os, "fdatasync", watched)
        for _ in range(5):
            debit = ledger.consume(ledger.system_user(), space, "1", feature="AI", description="d")
            assert synced and synced[-1] >= debit.id
    finally:
        monkeypatch.undo()
        ledger.close()


def test_the_mark_counts_every_id_table_the_notifications_included(tmp_path: Path) -> None:
    """A request writes its event, the admins' inbox rows and their deliveries: those ids
    are in the mark as well, so a lost event's id is never handed out again either."""
    from dataclasses import fields

    from billing_core.highwater import Position
    from billing_core.store import ID_TABLES

    assert tuple(f.name for f in fields(Position)) == ID_TABLES
    path = tmp_path / "ledger.duckdb"
    with billing_core.open_ledger(str(path), create=True) as ledger:
        people = cast(ledger, 1, funding="100")
        space = people["spaces"][0]
        ledger.request_credits(people["members"][space][0], space, "5")
        (last,) = rows(ledger, "SELECT (SELECT max(id) FROM outbox), (SELECT max(id) FROM inbox), "
                               "(SELECT max(id) FROM deliveries)")
        _, mark = read_mark(Path(f"{path}.hwm"))
        assert mark is not None and all(n > 0 for n in last)
        assert (mark.position.outbox, mark.position.inbox, mark.position.deliveries) == last


def test_a_mark_written_before_the_notifications_tables_is_still_read(tmp_path: Path) -> None:
    """A mark naming only the first six id tables (as the first marks did) is read, the
    notifications' ids as 0, not taken for damage."""
    import zlib

    from billing_core.highwater import _MAGIC

    body = (f"{_MAGIC} seq=7 ledger={'a' * 32} users=3 workspaces=1 accounts=3 entries=40 "
            "credit_requests=2 audit_log=50")
    line = f"{body} crc={zlib.crc32(body.encode()):08x}"
    mark_file = tmp_path / "old.hwm"
    mark_file.write_bytes((line.ljust(SLOT - 1) + "\n").encode() + b"\0" * SLOT)
    state, mark = read_mark(mark_file)
    assert state is FileState.FOUND and mark is not None and mark.sequence == 7
    assert (mark.position.entries, mark.position.audit_log, mark.position.outbox) == (40, 50, 0)
    assert (mark.position.grants, mark.position.sessions, mark.position.password_links,
            mark.position.prices) == (0, 0, 0, 0)


def test_the_mark_counts_the_grants_ids(tmp_path: Path) -> None:
    """A credit makes a grant: its id is in the mark too, so a lost grant's id is never
    handed out again (grants are an id table since migration 5)."""
    path = tmp_path / "ledger.duckdb"
    with billing_core.open_ledger(str(path), create=True) as ledger:
        people = cast(ledger, 1, funding="100")
        space = people["spaces"][0]
        ledger.grant_credits(ledger.system_user(), space, "5", description="more", kind="promotional")
        ((last,),) = rows(ledger, "SELECT max(id) FROM grants")
        _, mark = read_mark(Path(f"{path}.hwm"))
        assert mark is not None and last >= 2 and mark.position.grants == last
