"""Issue 16: backups (backup.py), restores (recovery.py) and the app's backup thread
(backup_schedule.py). A backup reads one snapshot, so it is taken on both stores; a
restore and the schedule's requests concern the embedded file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import billing_core
from billing_core import InvalidInput, Ledger, LedgerCorrupt, LedgerInUse, PermissionDenied
from billing_core.backup import FORMAT, MANIFEST, kept, list_backups, prune, take_backup
from billing_core.backup_schedule import BackupScheduler, BackupSettings, ask_app, parse_every
from billing_core.cli import main
from billing_core.migrate import TABLES
from billing_core.notify.channels import new_secret
from billing_core.recovery import restore
from tests.conftest import FakeClock, fund

# every table of the ledger (the notifications' included): a backup copies them all
MIGRATED_TABLES = tuple(t for t, _ in TABLES)


def count(ledger: Ledger, table: str) -> int:
    with ledger.db.reading() as cur:
        # table names come from the constant above
        return int(cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def test_a_backup_taken_while_debits_run_is_a_verified_snapshot(
    ledger: Ledger, people: dict, tmp_path: Path
) -> None:
    admin, alice, acme = people["admin"], people["alice"], people["acme"]
    fund(ledger, admin, acme.id, "100000")
    stop = threading.Event()

    def debit() -> None:
        while not stop.is_set():
            ledger.consume(alice, acme.id, "0.5", feature="AI", description="while backing up")

    writers = [threading.Thread(target=debit) for _ in range(3)]
    for writer in writers:
        writer.start()
    try:
        ledger.consume(alice, acme.id, "0.5", feature="AI", description="before")
        manifest = take_backup(ledger, admin, tmp_path / "backups")
    finally:
        stop.set()
        for writer in writers:
            writer.join()
    assert list_backups(tmp_path / "backups") == [manifest]
    assert manifest.taken_by == "ada@example.com" and manifest.ledger_id == ledger.db.ledger_id
    assert 0 < manifest.rows["entries"] and manifest.wallets == 2
    assert manifest.rows["postings"] == 2 * manifest.rows["entries"]
    restored = restore(manifest.folder, str(tmp_path / "restored.duckdb"))
    with billing_core.open_ledger(str(tmp_path / "restored.duckdb")) as copy:
        assert copy.verify().entries == manifest.rows["entries"] == restored.report.entries
        assert {t: count(copy, t) for t in MIGRATED_TABLES if t != "audit_log"} == {
            t: n for t, n in manifest.rows.items() if t != "audit_log"
        }
        assert count(copy, "audit_log") == manifest.rows["audit_log"] + 1  # + the restore's own row
        with copy.db.reading() as cur:
            assert cur.execute("SELECT max(id) FROM entries").fetchall()[0][0] == manifest.high_water.entries
    assert count(ledger, "entries") > manifest.rows["entries"], "the debits went on meanwhile"


def test_backups_are_whole_while_the_notification_dispatcher_sends(
    ledger: Ledger, people: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app process runs the notification dispatcher and the backup thread side by side:
    backups taken while requests, decisions and debits write events and the dispatcher
    delivers them (a webhook) are verified snapshots of every table, the notifications'
    included, and a restore holds them."""
    from billing_core.notify import runner
    from tests.peers import http_endpoint

    monkeypatch.setattr(runner, "PASS_SECONDS", 0.02)  # the dispatcher looks for work at once
    admin, alice, acme = people["admin"], people["alice"], people["acme"]
    fund(ledger, admin, acme.id, "100000")
    stop = threading.Event()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            while not stop.is_set():
                asked = ledger.request_credits(alice, acme.id, "5")
                ledger.approve_request(admin, asked.id)
                ledger.consume(alice, acme.id, "0.5", feature="AI", description="while backing up")
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    with http_endpoint() as endpoint:
        ledger.add_webhook(admin, endpoint.url, secret=new_secret(), events=["request.created"])
        ledger.start_dispatcher()
        writer = threading.Thread(target=work)
        writer.start()
        try:
            assert endpoint.arrived.wait(30), "the dispatcher delivered nothing"
            manifests = [ledger.backup_now(admin, to=str(tmp_path / "backups")) for _ in range(3)]
        finally:
            stop.set()
            writer.join()
    assert not failures, failures
    assert {m.folder for m in list_backups(tmp_path / "backups")} == {m.folder for m in manifests}
    last = manifests[-1]
    assert {"outbox", "inbox", "deliveries", "webhooks", "balance_thresholds"} <= set(last.rows)
    assert last.rows["outbox"] > 0 and last.rows["inbox"] > 0 and last.rows["deliveries"] > 0
    assert last.rows["webhooks"] == 1
    assert last.high_water.outbox == max(i for (i,) in snapshot_ids(last.data_file, "outbox"))
    restore(last.folder, str(tmp_path / "restored.duckdb"))
    with billing_core.open_ledger(str(tmp_path / "restored.duckdb")) as copy:
        assert copy.verify().entries == last.rows["entries"]
        assert {t: count(copy, t) for t in MIGRATED_TABLES if t != "audit_log"} == {
            t: n for t, n in last.rows.items() if t != "audit_log"
        }


def snapshot_ids(data_file: Path, table: str) -> list[tuple[int]]:
    import duckdb

    with duckdb.connect(str(data_file), read_only=True) as con:
        # table names come from the test's own constants
        return [(int(i),) for (i,) in con.execute(f"SELECT id FROM {table}").fetchall()]


def test_only_an_administrator_backs_up_or_exports(ledger: Ledger, people: dict, tmp_path: Path) -> None:
    from billing_core.analyst_export import export_tables

    with pytest.raises(PermissionDenied, match="Only an administrator can take a backup"):
        take_backup(ledger, people["alice"], tmp_path)
    with pytest.raises(PermissionDenied, match="Only an administrator can export"):
        export_tables(ledger, people["alice"], tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def file_ledger(tmp_path: Path) -> Callable[..., Ledger]:
    """`file_ledger(name, clock=None)`: a new ledger file with two funded workspaces."""
    opened: list[Ledger] = []

    def make(name: str = "billing.duckdb", clock: FakeClock | None = None) -> Ledger:
        book = billing_core.open_ledger(str(tmp_path / name), create=True, clock=clock or FakeClock())
        opened.append(book)
        admin = book.add_user("ada@example.com", "Ada", admin=True)
        book.add_user("alan@example.com", "Alan")
        for name_ in ("Acme", "Beta"):
            fund(book, admin, book.create_workspace(name_).id, "100")
        return book

    yield make  # type: ignore[misc]
    for book in opened:
        book.close()


def test_restore_never_writes_over_a_ledger(file_ledger, tmp_path: Path) -> None:
    live = file_ledger()
    manifest = take_backup(live, live.system_user(), tmp_path / "backups")
    for target in (live.path, str(tmp_path / "new.duckdb")):
        if target != live.path:
            Path(f"{target}.wal").write_bytes(b"a log without its ledger")
        with pytest.raises(InvalidInput, match="already exists: a restore never writes over a ledger"):
            restore(manifest.folder, target)
    assert not Path(f"{live.path}.restoring").exists()
    live.consume(live.system_user(), 1, "1", feature="AI", description="still fine")


def test_a_damaged_or_foreign_backup_is_not_restored(file_ledger, tmp_path: Path) -> None:
    book = file_ledger()
    manifest = take_backup(book, book.system_user(), tmp_path / "backups")
    data = bytearray(manifest.data_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    manifest.data_file.write_bytes(bytes(data))
    with pytest.raises(LedgerCorrupt, match="is damaged: its file's SHA-256 differs"):
        restore(manifest.folder, str(tmp_path / "a.duckdb"))
    (manifest.folder / MANIFEST).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(InvalidInput, match="is not the manifest of a ledger backup"):
        restore(manifest.folder, str(tmp_path / "a.duckdb"))
    with pytest.raises(InvalidInput, match="no manifest.json there"):
        restore(tmp_path, str(tmp_path / "a.duckdb"))
    assert not (tmp_path / "a.duckdb").exists()


def test_a_restore_lists_what_the_original_acknowledged_after_the_backup(file_ledger, tmp_path: Path) -> None:
    book = file_ledger()
    system = book.system_user()
    manifest = take_backup(book, system, tmp_path / "backups")
    later = [book.consume(system, 1, "1", feature="AI", description=f"after {i}").id for i in range(3)]
    restored = restore(manifest.folder, str(tmp_path / "elsewhere.duckdb"))  # the original lives on
    assert restored.missing["entries"] == (manifest.high_water.entries, later[-1])
    assert f"3 acknowledged transactions (entries {later[0]} to {later[-1]})" in " ".join(restored.lines())
    with billing_core.open_ledger(str(tmp_path / "elsewhere.duckdb")) as copy:
        assert copy.consume(copy.system_user(), 1, "1", feature="AI", description="x").id == later[-1] + 1
        (after,) = [json.loads(a.after or "{}") for a in copy.audit_trail(copy.system_user(), limit=5)
                    if a.action == "ledger.restore"]
        assert after["missing"].startswith("3 acknowledged transactions")


def _fake_backup(folder: Path, at: datetime) -> None:
    """A backup folder with only its manifest: enough for retention, which reads manifests."""
    path = folder / f"billing-{at:%Y%m%dT%H%M%SZ}"
    path.mkdir(parents=True)
    (path / MANIFEST).write_text(json.dumps({
        "format": FORMAT, "taken_at": at.isoformat() + "Z", "taken_by": "schedule", "source": "x",
        "ledger_id": "id", "high_water": {}, "rows": {}, "wallets": 0, "total_balance": "0",
        "bytes": 0, "sha256": "",
    }))


def test_retention_keeps_the_newest_48_and_the_newest_of_each_of_30_days(tmp_path: Path) -> None:
    now = datetime(2026, 11, 27, 23, 30)
    taken = [now - timedelta(hours=h) for h in range(24 * 40)]  # hourly for 40 days
    for at in taken:
        _fake_backup(tmp_path, at)
    (tmp_path / "not-a-backup").mkdir()
    gone = prune(tmp_path, keep=48, daily=30, today=now.date())
    left = {m.taken_at for m in list_backups(tmp_path)}
    newest_48 = set(taken[:48])
    newest_a_day = {max(t for t in taken if t.date() == now.date() - timedelta(days=d)) for d in range(30)}
    assert left == newest_48 | newest_a_day
    assert len(left) == 48 + 28 and len(gone) == len(taken) - len(left)
    assert min(left).date() == now.date() - timedelta(days=29)
    assert (tmp_path / "not-a-backup").exists(), "nothing but backups is ever deleted"
    assert kept([], keep=48, daily=30, today=now.date()) == []


def test_the_schedule_backs_up_when_due_and_prunes(file_ledger, tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 27, 9, 0))
    book = file_ledger(clock=clock)
    folder = tmp_path / "scheduled"
    settings = BackupSettings(folder=folder, every=timedelta(hours=1), keep=2, daily=2)
    thread = BackupScheduler(book, settings)  # driven by hand: no timing in the test
    taken: list[int] = []
    for minutes in (0, 30, 59, 60, 90, 120, 180):
        clock.now = datetime(2026, 11, 27, 9, 0) + timedelta(minutes=minutes)
        thread.run_pending()
        taken.append(len(list_backups(folder)))
    assert taken == [1, 1, 1, 2, 2, 2, 2]  # due at 9:00, 10:00, 11:00, 12:00; two kept
    assert [m.taken_at.hour for m in thread.backups()] == [12, 11]
    assert all(m.taken_by == "schedule" for m in thread.backups())
    clock.now += timedelta(days=1)
    thread.run_pending()
    assert [m.taken_at.day for m in thread.backups()] == [28, 27]  # yesterday's newest stays a day


def test_the_schedule_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_every("1h") == timedelta(hours=1) and parse_every("30m") == timedelta(minutes=30)
    assert parse_every("90") == timedelta(seconds=90) and parse_every("2d") == timedelta(days=2)
    assert parse_every("off") is None and parse_every("0") is None
    with pytest.raises(InvalidInput, match="not a duration"):
        parse_every("hourly")


def test_settings_default_to_hourly_beside_an_embedded_ledger(file_ledger, monkeypatch) -> None:
    book = file_ledger()
    monkeypatch.delenv("BILLING_BACKUP_EVERY", raising=False)
    settings = BackupSettings.from_env(book)
    assert settings.every == timedelta(hours=1) and settings.keep == 48 and settings.daily == 30
    assert settings.folder == Path(book.path).parent / "backups"
    monkeypatch.setenv("BILLING_BACKUP_KEEP", "many")
    with pytest.raises(InvalidInput, match="BILLING_BACKUP_KEEP"):
        BackupSettings.from_env(book)


def test_a_request_is_answered_by_the_process_holding_the_ledger(file_ledger, tmp_path: Path) -> None:
    """The protocol of `billing backup` and the app, in one process: the asking side in a
    thread, the app's side served by hand."""
    book = file_ledger()
    thread = BackupScheduler(book, BackupSettings(folder=None, every=None))
    answers: list[object] = []

    def ask(email: str | None) -> None:
        try:
            answers.append(ask_app(book.path, str(tmp_path / "asked"), email=email,
                                   refusal=LedgerInUse("held"), say=lambda _: None, claim_within=60))
        except Exception as error:  # noqa: BLE001 - the answer under test
            answers.append(error)

    for email, expected in ((None, "Backed up into"), ("alan@example.com", "Only an administrator")):
        asker = threading.Thread(target=ask, args=(email,))
        asker.start()
        while asker.is_alive():
            thread.serve_requests()
            asker.join(timeout=0.02)
        assert expected in str(answers[-1])
    assert len(list_backups(tmp_path / "asked")) == 1
    assert sorted(p.name for p in Path(book.path + ".requests").iterdir()) == []


HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])  # another program holding the file, which takes no requests
print("holding", flush=True)
sys.stdin.read()
"""


def test_a_backup_request_nobody_takes_is_withdrawn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "billing.duckdb"
    billing_core.open_ledger(str(path), create=True).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        monkeypatch.setenv("BILLING_BACKUP_WAIT", "0.3")
        assert main(["backup", "--to", str(tmp_path / "b"), "--db", str(path)]) == 1
    finally:
        holder.communicate(timeout=60)
    out, err = capsys.readouterr()
    assert "asked it to take the backup" in out
    assert "in use by another process" in err and "did not take the backup request" in err
    assert list((tmp_path / "billing.duckdb.requests").iterdir()) == []


def test_the_cli_backs_up_and_restores_a_ledger_no_app_holds(tmp_path: Path, demo_file: Path, capsys) -> None:
    path = tmp_path / "billing.duckdb"
    shutil.copy(demo_file, path)
    assert main(["backup", "--to", str(tmp_path / "b"), "--db", str(path)]) == 0
    out = capsys.readouterr().out
    (manifest,) = list_backups(tmp_path / "b")
    assert out.startswith(f"Backed up into {manifest.folder}: taken 2026-11-27 00:00:00 UTC")
    assert main(["restore", "--from", str(manifest.folder / MANIFEST), "--to", str(tmp_path / "r.db")]) == 0
    out = capsys.readouterr().out
    assert "verify() passed" in out and "acknowledged nothing after this backup" in out
    assert main(["restore", "--from", str(manifest.folder), "--to", "postgresql://x@h/db"]) == 1
    assert "Restore into a ledger file" in capsys.readouterr().err


def test_a_failed_scheduled_backup_is_reported_and_tried_again_when_next_due(
    file_ledger, tmp_path: Path
) -> None:
    clock = FakeClock(datetime(2026, 11, 27, 9, 0))
    book = file_ledger(clock=clock)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the backups should go")
    thread = BackupScheduler(book, BackupSettings(folder=blocked, every=timedelta(hours=1)))
    thread.run_pending()
    assert thread.last_error is not None and "Cannot make the backup folder" in thread.last_error
    assert not thread.due(), "not tried again at every look, only when next due"
    blocked.unlink()
    clock.now += timedelta(hours=1)
    thread.run_pending()
    assert thread.last_error is None and len(list_backups(blocked)) == 1
