"""Issue 4, item 1: a barrier-released debit race spends exactly the balance, never more."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

from billing_core import InsufficientCredits, Ledger
from tests.hardening.books import audit_counts, audit_problems, in_threads, one, replay_problems
from tests.hardening.conftest import Tally


def one_race(new_ledger: Callable[..., Ledger], threads: int, per_thread: int, tally: Tally) -> None:
    """`threads` x `per_thread` one-credit debits on a wallet holding half of that, while
    another thread reads the balance throughout."""
    balance = threads * per_thread // 2
    ledger = new_ledger()
    try:
        admin = ledger.add_user("ada@example.com", "Ada", admin=True)
        member = ledger.add_user("alice@example.com", "Alice")
        space = ledger.create_workspace("Acme").id
        ledger.add_member(space, member.id)
        ledger.grant_credits(admin, space, str(balance), description="funding")
        lowest = [Decimal(balance)]
        racing = threading.Event()

        def watch() -> None:
            while not racing.is_set():
                lowest[0] = min(lowest[0], ledger.wallet(admin, space).balance)

        def debit(_: int, barrier: threading.Barrier) -> tuple[int, int, list[str]]:
            done = refused = 0
            odd: list[str] = []
            barrier.wait()
            for _ in range(per_thread):
                try:
                    ledger.consume(member, space, "1", feature="AI", description="race")
                    done += 1
                except InsufficientCredits:
                    refused += 1
                except Exception as error:  # noqa: BLE001 - anything else is a finding
                    odd.append(f"{type(error).__name__}: {error}")
            return done, refused, odd

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            outcomes: list[tuple[int, int, list[str]]] = in_threads(threads, debit)  # type: ignore[assignment]
        finally:
            racing.set()
            watcher.join()
        successes = sum(o[0] for o in outcomes)
        refusals = sum(o[1] for o in outcomes)
        for o in outcomes:
            tally.problems(o[2])
        debits = one(ledger, "SELECT count(*) FROM entries WHERE kind = 'debit'")
        final = ledger.wallet(admin, space).balance
        if successes != balance:
            tally.problem(f"{successes} debits succeeded for a balance of {balance}")
        if refusals != threads * per_thread - balance:
            tally.problem(f"{refusals} refusals, expected {threads * per_thread - balance}")
        if final != 0:
            tally.problem(f"the balance ended at {final}")
        if lowest[0] < 0:
            tally.problem(f"the balance was seen at {lowest[0]}")
        if debits != successes:
            tally.problem(f"{debits} debit entries for {successes} successes")
        if audit_counts(ledger)["wallet.consume"] != successes:
            tally.problem("wallet.consume audit rows differ from the debits")
        tally.problems(replay_problems(ledger) + audit_problems(ledger))
        ledger.verify()
    finally:
        ledger.close()
    tally.add(runs=1, operations=threads * per_thread)


def test_debit_race_spends_exactly_the_balance_and_never_overdraws(size, tally, new_ledger) -> None:
    threads, per_thread = size.pick((8, 40), (16, 250))
    for _ in range(size.pick(2, 20)):
        one_race(new_ledger, threads, per_thread, tally)
    tally.assert_clean()
