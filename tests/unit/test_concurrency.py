"""The Ledger is shared by every Streamlit session thread: races must not lose a credit."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from billing_core import InsufficientCredits, InvalidTransition, Ledger, PermissionDenied
from tests.conftest import fund


def test_mixed_debits_and_credits_on_one_wallet(ledger: Ledger, people: dict) -> None:
    """8 threads x 200 movements; the balance is the sum of the ones that succeeded."""
    admin, member, space = people["admin"], people["alice"], people["acme"].id
    fund(ledger, admin, space, "50")
    barrier = threading.Barrier(8)
    results: list[tuple[str, Decimal]] = []
    lock = threading.Lock()
    low_water = [Decimal(50)]

    def worker(n: int) -> None:
        barrier.wait()
        for i in range(200):
            try:
                if (i + n) % 3 == 0:
                    ledger.grant_credits(admin, space, "2", description=f"t{n}")
                    outcome = ("credit", Decimal(2))
                else:
                    ledger.consume(member, space, "1.5", feature="AI", description=f"t{n}")
                    outcome = ("debit", Decimal("1.5"))
            except InsufficientCredits:
                outcome = ("refused", Decimal(0))
            balance = ledger.wallet(member, space).balance
            with lock:
                results.append(outcome)
                low_water[0] = min(low_water[0], balance)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(worker, range(8)))
    credits = sum(a for k, a in results if k == "credit")
    debits = sum(a for k, a in results if k == "debit")
    assert len(results) == 1600
    assert ledger.wallet(member, space).balance == Decimal(50) + credits - debits
    assert low_water[0] >= 0
    assert any(k == "debit" for k, _ in results)
    report = ledger.verify()
    assert report.entries == 1 + sum(1 for k, _ in results if k != "refused")


def test_debit_race_never_overdraws(ledger: Ledger, people: dict) -> None:
    fund(ledger, people["admin"], people["acme"].id, "100")
    barrier = threading.Barrier(8)

    def worker(_: int) -> int:
        barrier.wait()
        done = 0
        for _ in range(25):
            try:
                ledger.consume(people["alice"], people["acme"].id, "1", feature="AI", description="x")
                done += 1
            except InsufficientCredits:
                pass
        return done

    with ThreadPoolExecutor(8) as pool:
        successes = sum(pool.map(worker, range(8)))
    assert successes == 100
    assert ledger.wallet(people["alice"], people["acme"].id).balance == 0
    ledger.verify()


def test_concurrent_approvals_credit_exactly_once(ledger: Ledger, people: dict) -> None:
    requests = [ledger.request_credits(people["alice"], people["acme"].id, "10") for _ in range(10)]
    admins = [people["admin"], people["admin2"]]
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        barrier.wait()
        for request in requests:
            try:
                ledger.approve_request(admins[n % 2], request.id)
                result = "approved"
            except InvalidTransition:
                result = "lost"
            with lock:
                outcomes.append(result)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(worker, range(8)))
    assert outcomes.count("approved") == 10
    assert outcomes.count("lost") == 70
    assert ledger.wallet(people["admin"], people["acme"].id).balance == Decimal(100)
    ledger.verify()


def test_idempotent_consume_under_a_race(ledger: Ledger, people: dict) -> None:
    fund(ledger, people["admin"], people["acme"].id, "100")
    barrier = threading.Barrier(8)

    def worker(_: int) -> int:
        barrier.wait()
        return ledger.consume(
            people["alice"],
            people["acme"].id,
            "7",
            feature="AI",
            description="x",
            idempotency_key="same-click",
        ).id

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(worker, range(8)))
    assert len(ids) == 1
    assert ledger.wallet(people["alice"], people["acme"].id).balance == Decimal(93)


def test_permission_errors_under_load_write_nothing(ledger: Ledger, people: dict) -> None:
    request = ledger.request_credits(people["alice"], people["acme"].id, "10")

    def worker(_: int) -> str:
        try:
            ledger.approve_request(people["alice"], request.id)
        except PermissionDenied:
            return "denied"
        return "approved"

    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(worker, range(20))) == {"denied"}
    assert ledger.wallet(people["admin"], people["acme"].id).balance == 0
