"""Issue 4, item 5: an idempotency key debits once, however many times and ways it is sent."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal

from billing_core import IdempotencyConflict
from tests.hardening.books import (
    audit_problems,
    cast,
    counts,
    in_one_batch,
    in_threads,
    one,
    replay_problems,
)


def test_one_key_sent_many_times_at_once_debits_once(size, tally, new_ledger) -> None:
    rounds, threads = size.pick((3, 20), (10, 100))
    ledger = new_ledger()
    try:
        people = cast(ledger, 1, funding="1000")
        space = people["spaces"][0]
        member = people["members"][space][0]
        for round_ in range(rounds):
            before = one(ledger, "SELECT count(*) FROM entries")

            def send(_: int, barrier: threading.Barrier, key: str = f"click-{round_}") -> object:
                barrier.wait()
                try:
                    return ledger.consume(
                        member, space, "7.5", feature="AI", description="double click", idempotency_key=key
                    ).id
                except Exception as error:  # noqa: BLE001 - a finding
                    return f"{type(error).__name__}: {error}"

            ids = Counter(in_threads(threads, send))
            if len(ids) != 1 or not isinstance(next(iter(ids)), int):
                tally.problem(f"round {round_}: {threads} sends gave {dict(ids)}")
            if one(ledger, "SELECT count(*) FROM entries") != before + 1:
                tally.problem(
                    f"round {round_}: {threads} sends wrote "
                    f"{one(ledger, 'SELECT count(*) FROM entries') - before} debits"
                )
            tally.add(runs=1, operations=threads)
        expected = Decimal(1000) - rounds * Decimal("7.5")
        if ledger.wallet(member, space).balance != expected:
            tally.problem(f"balance {ledger.wallet(member, space).balance}, expected {expected}")
        tally.problems(replay_problems(ledger) + audit_problems(ledger))
        ledger.verify()
    finally:
        ledger.close()
    tally.assert_clean()


OTHER_WORKSPACE = 2  # the variant that sends the key for the second workspace


def test_one_key_raced_with_other_charges_debits_once_and_refuses_the_rest(size, tally, new_ledger) -> None:
    """The same key raced with a different amount or feature: whichever call commits
    first owns the key in its workspace; the calls identical to it replay, every other is
    refused. The same key sent for another workspace at the same moment is that
    workspace's own: it debits there once, whatever happens in the first."""
    rounds, threads = size.pick((3, 16), (10, 100))
    ledger = new_ledger()
    try:
        people = cast(ledger, 2, funding="1000")
        a, b = people["spaces"]
        admin = people["admins"][0]  # may charge both workspaces
        variants = [(a, "5", "AI"), (a, "6", "AI"), (b, "5", "AI"), (a, "5", "OCR")]  # 2: OTHER_WORKSPACE
        for round_ in range(rounds):
            before = counts(ledger)

            def send(n: int, barrier: threading.Barrier, key: str = f"k-{round_}") -> object:
                space, amount, feature = variants[n % len(variants)]
                barrier.wait()
                try:
                    entry = ledger.consume(
                        admin, space, amount, feature=feature, description="raced", idempotency_key=key
                    )
                    return (n % len(variants), entry.id)
                except IdempotencyConflict:
                    return (n % len(variants), "conflict")
                except Exception as error:  # noqa: BLE001 - a finding
                    return (n % len(variants), f"{type(error).__name__}: {error}")

            outcome = in_threads(threads, send)
            in_a = [(v, r) for v, r in outcome if v != OTHER_WORKSPACE]  # type: ignore[misc]
            in_b = [r for v, r in outcome if v == OTHER_WORKSPACE]  # type: ignore[misc]
            winners = {v for v, r in in_a if isinstance(r, int)}
            entries = {r for _, r in in_a if isinstance(r, int)}
            if len(winners) != 1 or len(entries) != 1:
                tally.problem(f"round {round_}: variants {winners} succeeded with entries {entries}")
            for variant, result in in_a:
                if variant not in winners and result != "conflict":
                    tally.problem(f"round {round_}: variant {variant} of the key got {result}")
            if len({r for r in in_b if isinstance(r, int)}) != 1 or not all(isinstance(r, int) for r in in_b):
                tally.problem(f"round {round_}: the other workspace's use of the key got {set(in_b)}")
            after = counts(ledger)
            if after[0] != before[0] + 2 or after[5] != before[5] + 2:
                tally.problem(f"round {round_}: entries/keys went {before} -> {after}")
            tally.add(runs=1, operations=threads)
        tally.problems(replay_problems(ledger) + audit_problems(ledger))
        ledger.verify()
    finally:
        ledger.close()
    tally.assert_clean()


def test_a_replayed_key_never_fails_new_debits_committed_with_it(new_ledger) -> None:
    ledger = new_ledger()
    try:
        people = cast(ledger, 2, funding="100")
        a, b = people["spaces"]
        alice, bob = people["members"][a][0], people["members"][b][0]
        first = ledger.consume(alice, a, "3", feature="AI", description="first", idempotency_key="once")
        results = in_one_batch(
            ledger,
            [
                lambda: ledger.consume(bob, b, "1", feature="AI", description="opener"),
                lambda: ledger.consume(
                    alice, a, "3", feature="AI", description="retry", idempotency_key="once"
                ),
                lambda: ledger.consume(bob, b, "2", feature="AI", description="new"),
                lambda: ledger.consume(
                    alice, a, "4", feature="AI", description="new, keyed", idempotency_key="twice"
                ),
            ],
        )
        failures = [r for r in results if isinstance(r, Exception)]
        assert not failures, failures
        assert results[1].id == first.id  # type: ignore[attr-defined]
        assert ledger.wallet(alice, a).balance == Decimal(93)
        assert ledger.wallet(bob, b).balance == Decimal(97)
    finally:
        ledger.close()
