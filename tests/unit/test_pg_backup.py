"""Issue 16: a ledger on PostgreSQL is backed up and restored with the server's own tools
(README, Backups): pg_dump of a ledger the app is writing, pg_restore into a new database,
and the copy verifies, balances and never hands out an id twice."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import billing_core
from tests.conftest import PostgresForTests
from tests.pg_server import find_bin_dir


def tool(name: str) -> str:
    """pg_dump or pg_restore from the same PostgreSQL as the test server (as it finds its own)."""
    path = find_bin_dir() / name
    assert path.is_file(), path
    return str(path)


def test_pg_dump_and_pg_restore_round_trip_a_ledger_while_it_is_written(
    postgres: PostgresForTests, tmp_path: Path
) -> None:
    name, url = postgres.fresh(demo=True)
    copy_name = f"{name}_restored"
    dump = tmp_path / "billing.dump"
    try:
        ledger = billing_core.open_ledger(url)
        alan = ledger.user_by_email("alan@example.com")
        assert alan is not None
        stop = threading.Event()

        def debit() -> None:
            for _ in range(200):
                if stop.is_set():
                    return
                ledger.consume(alan, 1, "0.01", feature="AI", description="during pg_dump")

        writer = threading.Thread(target=debit)
        writer.start()
        try:
            subprocess.run([tool("pg_dump"), "--format=custom", f"--file={dump}", url],
                           check=True, capture_output=True, timeout=300)
        finally:
            stop.set()
            writer.join()
        copy_url = postgres.server.create_database(copy_name)
        subprocess.run([tool("pg_restore"), "--no-owner", f"--dbname={copy_url}", str(dump)],
                       check=True, capture_output=True, timeout=300)
        # pg_restore brings no planner statistics: without them verify() takes 30 s, not 0.3
        subprocess.run([tool("vacuumdb"), "--analyze-only", f"--dbname={copy_url}"],
                       check=True, capture_output=True, timeout=300)
        with billing_core.open_ledger(copy_url) as copy:
            report = copy.verify()
            with copy.db.reading() as cur:
                last = cur.execute("SELECT max(id) FROM entries").fetchall()[0][0]
                balance = cur.execute("SELECT balance FROM wallets WHERE workspace_id = 1").fetchall()[0][0]
            assert report.entries == last  # the demo's ids have no gaps, nor the debits after
            assert copy.wallet(alan, 1).balance == balance
            after = copy.consume(alan, 1, "1", feature="AI", description="after the restore")
            # pg_dump saves each sequence as it reads it, after its snapshot: the copy's next
            # ids come after every id in the dump, and after those committed while it ran
            assert after.id > last, "the sequences came with the dump: no id is handed out twice"
            assert copy.verify().entries == report.entries + 1
        with ledger.db.reading() as cur:
            assert cur.execute("SELECT max(id) FROM entries").fetchall()[0][0] >= last
        ledger.close()
    finally:
        postgres.drop(copy_name)
        postgres.drop(name)
