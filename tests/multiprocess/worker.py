"""One app-like process for the multi-process test: THREADS threads on one shared
PostgreSQL ledger, each debiting and deciding requests, every outcome written to a
JSON file for the parent to check against the ledger.

    python -m tests.multiprocess.worker URL PLAN.json OUT.json PROCESS_NUMBER
"""

from __future__ import annotations

import json
import random
import sys
import threading
from decimal import Decimal
from typing import Any

import billing_core
from billing_core import BillingError, LedgerBusy


def main() -> None:
    url, plan_path, out_path, number = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(plan_path, encoding="utf-8") as f:
        plan = json.load(f)
    ledger = billing_core.open_ledger(url)
    members = {int(k): [ledger.user_by_email(e) for e in v] for k, v in plan["members"].items()}
    admins = [ledger.user_by_email(e) for e in plan["admins"]]
    start = threading.Barrier(plan["threads"])
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def work(thread: int) -> None:
        rng = random.Random(number * 1000 + thread)
        mine: list[dict[str, Any]] = []
        start.wait()
        for step in range(plan["steps"]):
            space = rng.choice(list(members))
            try:
                if step % 4 == 3:  # every fourth step: decide a request (all processes race on them)
                    request_id = rng.choice(plan["requests"])
                    admin = admins[(number + thread) % len(admins)]
                    if rng.random() < 0.8:
                        done = ledger.approve_request(admin, request_id, "multi-process test")
                    else:
                        done = ledger.reject_request(admin, request_id, "multi-process test")
                    mine.append({"op": done.status.value, "request": request_id, "entry": done.entry_id})
                else:
                    amount = Decimal(rng.randint(1, 400)) / 100
                    key = f"p{number}-t{thread}-s{step}" if step % 2 else None
                    entry = ledger.consume(
                        rng.choice(members[space]), space, amount,
                        feature="AI", description=f"p{number} t{thread} s{step}", idempotency_key=key,
                    )
                    mine.append({"op": "debit", "entry": entry.id, "workspace": space, "amount": str(amount)})
                    if key is not None:  # the same key again debits nothing more
                        again = ledger.consume(
                            rng.choice(members[space]), space, amount,
                            feature="AI", description="replayed", idempotency_key=key,
                        )
                        mine.append({"op": "replay", "entry": again.id, "first": entry.id})
            except LedgerBusy as error:
                mine.append({"op": "busy", "error": str(error)})
            except BillingError as error:
                mine.append({"op": "refused", "error": type(error).__name__})
            except Exception as error:  # noqa: BLE001 - anything else is a finding
                mine.append({"op": "crash", "error": f"{type(error).__name__}: {error}"})
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(plan["threads"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ledger.close()
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
