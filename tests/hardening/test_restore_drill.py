"""Issue 16: the restore drill, end to end, as an operator would run it.

An app process (pages._shared.get_ledger, with its backup thread) holds the ledger and
debits it without pause, logging every debit it was told was committed. `billing backup`
from another process asks that app for a backup through the ledger's folder; the app
keeps debiting; then the machine dies (SIGKILL) and the ledger file is destroyed with its
write-ahead log. `billing restore` puts the backup back, says what it holds and lists the
acknowledged transactions it lacks; those must be exactly the ones committed after the
backup, `billing verify` must pass, and the next debit must not reuse a lost id.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import billing_core
from billing_core.backup import Manifest, list_backups
from billing_core.cli import main
from tests.hardening.books import cast, rows

ROOT = Path(__file__).resolve().parents[2]
APP = """
import os, sys
os.environ["BILLING_DB"] = sys.argv[1]
os.environ["BILLING_BACKUP_POLL"] = "0.05"
from pages._shared import get_ledger
ledger = get_ledger()  # as the app opens it: with its backup thread
system = ledger.system_user()
space = ledger.workspaces(system)[0].id
log = open(sys.argv[2], "a")
print("ready", flush=True)
while not os.path.exists(sys.argv[3]):  # until told to stop: every debit it made is logged
    debit = ledger.consume(system, space, "0.01", feature="AI", description="drill")
    log.write(f"{debit.id}\\n")
    log.flush()
    os.fsync(log.fileno())
print("stopped", flush=True)
sys.stdin.read()  # and waits for its end
"""
WAIT = 120  # seconds for the app to reach each step (never reached when all is well)


def acknowledged(log: Path) -> list[int]:
    text = log.read_text() if log.exists() else ""
    return [int(x) for x in text.splitlines()[: text.count("\n")]]


def wait_until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_restore_drill(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, log, backups = tmp_path / "billing.duckdb", tmp_path / "acknowledged.log", tmp_path / "backups"
    with billing_core.open_ledger(str(path), create=True) as ledger:
        cast(ledger, 1, funding="100000")
    stop = tmp_path / "stop"
    app = subprocess.Popen([sys.executable, "-c", APP, str(path), str(log), str(stop)], cwd=ROOT,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == "ready"
        wait_until(lambda: len(acknowledged(log)) >= 40, "the first debits")

        assert main(["backup", "--to", str(backups), "--db", str(path)]) == 0
        backed_up = capsys.readouterr().out
        (manifest,) = list_backups(backups)
        wait_until(lambda: len([i for i in acknowledged(log) if i > manifest.high_water.entries]) >= 40,
                   "debits after the backup")
        stop.touch()
        assert app.stdout.readline().strip() == "stopped"
    finally:
        app.send_signal(signal.SIGKILL)  # the machine dies
        app.wait(timeout=60)
    for lost in (path, Path(f"{path}.wal")):  # and the ledger's file with it
        lost.unlink(missing_ok=True)
    committed = acknowledged(log)

    assert main(["restore", "--from", str(manifest.folder), "--to", str(path)]) == 0
    restored = capsys.readouterr().out
    assert main(["verify", "--db", str(path)]) == 0
    verified = capsys.readouterr().out
    print(f"\n$ billing backup --to {backups}\n{backed_up}"
          f"$ (debits go on; the app is killed; {path.name} and its WAL are deleted)\n"
          f"$ billing restore --from {manifest.folder} --to {path}\n{restored}"
          f"$ billing verify --db {path}\n{verified}", file=sys.__stdout__)

    after_backup = [i for i in committed if i > manifest.high_water.entries]
    listed = re.search(r"(\d+) acknowledged transactions \(entries (\d+) to (\d+)\)", restored)
    assert listed is not None, restored
    count, first, last = (int(g) for g in listed.groups())
    assert list(range(first, last + 1)) == after_backup and count == len(after_backup), (
        "exactly the transactions acknowledged after the backup are listed as missing")
    assert "holding" in restored and "verify() passed" in restored
    with billing_core.open_ledger(str(path)) as ledger:
        present = {i for (i,) in rows(ledger, "SELECT id FROM entries")}
        assert set(committed) - present == set(after_backup)
        system = ledger.system_user()
        debit = ledger.consume(system, ledger.workspaces(system)[0].id, "1", feature="AI",
                               description="after the restore")
        assert debit.id > committed[-1], "no lost id is handed out again"
    assert isinstance(Manifest.read(manifest.folder), Manifest)
    assert not os.path.exists(f"{path}.restoring")
