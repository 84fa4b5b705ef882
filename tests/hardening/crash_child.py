"""The process the crash test kills: writer threads on a ledger file, logging each commit.

    python crash_child.py LEDGER LOG SEED MODE      (MODE: "run" or "checkpoint")

Opens LEDGER (prepared by the test: admins admin0/admin1, workspaces with members
m<w>.<k>), starts threads that consume (some with idempotency keys), request, decide and
grant, and appends one line per call that returned to LOG, flushed and fsynced before the
thread goes on:

    debit <entry id> <workspace> <amount> <key or ->
    credit <entry id> <workspace> <amount>
    request <request id> <workspace> <amount>
    approved|rejected|cancelled <request id> <entry id or ->

Prints "ready" once the threads run; in "checkpoint" mode a thread also prints
"checkpoint" just before each `ledger.checkpoint()` and "checkpointed" after it (or
"checkpoint-refused" when DuckDB refuses it because readers are active), so the test can
kill the process inside one. Runs until killed; any unexpected error is written
to stderr as a line starting with "ODD".
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
import traceback
from decimal import Decimal

import billing_core
from billing_core import InsufficientCredits, InvalidTransition, WalletInactive

EXPECTED = (InsufficientCredits, InvalidTransition, WalletInactive)


def main(path: str, log_path: str, seed: int, mode: str) -> None:
    ledger = billing_core.open_ledger(path)
    system = ledger.system_user()
    admins = [ledger.user_by_email(f"admin{i}@example.com") for i in (0, 1)]
    spaces = [w.id for w in ledger.workspaces(system)]
    members = {ws: ledger.members(system, ws) for ws in spaces}
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - open until killed
    log_lock = threading.Lock()

    def note(line: str) -> None:
        with log_lock:
            log.write(line + "\n")
            log.flush()
            os.fsync(log.fileno())

    def guarded(name: str, step: object) -> None:
        while True:
            try:
                step()  # type: ignore[operator]
            except EXPECTED:
                pass
            except Exception as error:  # noqa: BLE001 - reported to the test
                where = traceback.format_exc().strip().splitlines()[-3:]
                print(f"ODD {name}: {type(error).__name__}: {error} | {where}", file=sys.stderr, flush=True)
                time.sleep(0.05)

    def consumer(n: int) -> None:
        rng = random.Random(seed * 100 + n)
        counter = iter(range(10**9))

        def step() -> None:
            ws = rng.choice(spaces)
            amount = Decimal(rng.randint(1, 50_000)).scaleb(-4)
            key = f"s{seed}-c{n}-{next(counter)}" if rng.random() < 0.3 else None
            entry = ledger.consume(
                rng.choice(members[ws]),
                ws,
                amount,
                feature="AI",
                description="crash test",
                idempotency_key=key,
            )
            note(f"debit {entry.id} {ws} {amount} {key or '-'}")

        guarded(f"consumer {n}", step)

    def requester() -> None:
        rng = random.Random(seed * 100 + 50)

        def step() -> None:
            ws = rng.choice(spaces)
            amount = Decimal(rng.randint(10, 200))
            request = ledger.request_credits(rng.choice(members[ws]), ws, amount, note="crash")
            note(f"request {request.id} {ws} {amount}")
            time.sleep(0.01)

        guarded("requester", step)

    def decider() -> None:
        rng = random.Random(seed * 100 + 60)

        def step() -> None:
            pending = ledger.requests(admins[0], status="pending", limit=50)
            if not pending:
                time.sleep(0.01)
                return
            request = rng.choice(pending)
            verdict = rng.choice(["approved", "approved", "rejected", "cancelled"])
            admin = rng.choice(admins)
            if verdict == "approved":
                done = ledger.approve_request(admin, request.id, note="ok")
            elif verdict == "rejected":
                done = ledger.reject_request(admin, request.id, "not now")
            else:
                done = ledger.cancel_request(admin, request.id, "withdrawn")
            note(f"{verdict} {done.id} {done.entry_id or '-'}")

        guarded("decider", step)

    def granter() -> None:
        rng = random.Random(seed * 100 + 70)

        def step() -> None:
            ws = rng.choice(spaces)
            amount = Decimal(rng.randint(1, 100))
            entry = ledger.grant_credits(admins[1], ws, amount, description="top-up")
            note(f"credit {entry.id} {ws} {amount}")
            time.sleep(0.02)

        guarded("granter", step)

    def checkpointer() -> None:
        rng = random.Random(seed * 100 + 80)

        def step() -> None:
            time.sleep(rng.uniform(0.05, 0.3))
            print("checkpoint", flush=True)
            try:
                ledger.checkpoint()
            except Exception as error:  # noqa: BLE001 - a known defect, pinned by test_crash
                if "Cannot CHECKPOINT" not in str(error):
                    raise
                print("checkpoint-refused", flush=True)
                return
            print("checkpointed", flush=True)

        guarded("checkpointer", step)

    workers = [lambda n=n: consumer(n) for n in range(3)] + [requester, decider, granter]
    if mode == "checkpoint":
        workers.append(checkpointer)
    for work in workers:
        threading.Thread(target=work, daemon=True).start()
    print("ready", flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
