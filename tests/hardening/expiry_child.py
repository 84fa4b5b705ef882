"""The process the expiry crash test kills: an expiry job catching up after downtime while a
member debits, on a ledger prepared with many grants already due.

    python expiry_child.py LEDGER LOG SEED

LEDGER is a DuckDB file or a postgresql:// URL (its clock is pinned by $BILLING_CLOCK, as in
every test process). The job catches up an hour of expiries at a time (`expire_due(now=t)`,
t rising to the ledger's clock), in the same process a debiting thread locks wallets (and
so expires their due grants first). After each call returns (committed) one line per
expiry goes to LOG, flushed and fsynced:

    expired <entry id> <grant id> <amount>

Prints "ready" once both run; runs until killed. Any unexpected error is written to stderr
as a line starting with "ODD".
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
import traceback
from datetime import timedelta

import billing_core
from billing_core import InsufficientCredits, WalletInactive


def main(where: str, log_path: str, seed: int) -> None:
    ledger = billing_core.open_ledger(where)
    system = ledger.system_user()
    admin = ledger.user_by_email("admin0@example.com")
    assert admin is not None
    spaces = [w.id for w in ledger.workspaces(system)]
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - open until killed
    lock = threading.Lock()

    def note(expired: list[billing_core.Transaction]) -> None:
        lines = []
        for entry in expired:
            (drawn,) = ledger.draws(system, entry.id)
            lines.append(f"expired {entry.id} {drawn.grant_id} {entry.amount}\n")
        with lock:
            log.write("".join(lines))
            log.flush()
            os.fsync(log.fileno())

    def guarded(name: str, step: object) -> None:
        while True:
            try:
                step()  # type: ignore[operator]
            except (InsufficientCredits, WalletInactive):
                pass
            except Exception as error:  # noqa: BLE001 - reported to the test
                where_ = traceback.format_exc().strip().splitlines()[-3:]
                print(f"ODD {name}: {type(error).__name__}: {error} | {where_}", file=sys.stderr, flush=True)
                time.sleep(0.05)

    rng = random.Random(seed)
    moment = [ledger.now().replace(tzinfo=None) - timedelta(days=16)]

    def job() -> None:
        if moment[0] >= ledger.now().replace(tzinfo=None):
            time.sleep(0.05)
            return
        moment[0] = min(moment[0] + timedelta(hours=1), ledger.now().replace(tzinfo=None))
        note(ledger.expire_due(now=moment[0]))

    def spender() -> None:
        ledger.consume(admin, rng.choice(spaces), "0.5", feature="AI", description="while expiring")
        time.sleep(0.02)

    for name, step in (("job", job), ("spender", spender)):
        threading.Thread(target=guarded, args=(name, step), daemon=True).start()
    print("ready", flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
