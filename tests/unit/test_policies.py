"""Credit policies: standing approval and automatic top-up requests, their caps (also under
concurrent debits and requests), four eyes for people, and the audit of policy changes.
Every test runs on DuckDB and on PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from billing_core import InvalidInput, Ledger, PermissionDenied, RequestStatus
from billing_core.models import GrantKind
from tests.conftest import FakeClock
from tests.hardening.books import audit_problems, in_threads, rows

NOW = datetime(2026, 11, 27, 12, 0, 0)


@pytest.fixture
def book(new_ledger: Callable[..., Ledger]) -> tuple[Ledger, FakeClock, dict]:
    clock = FakeClock(NOW)
    ledger = new_ledger(clock=clock)
    return ledger, clock, cast_of(ledger)


def cast_of(ledger: Ledger) -> dict:
    admin = ledger.add_user("ada@example.com", "Ada", admin=True)
    admin2 = ledger.add_user("grace@example.com", "Grace", admin=True)
    alice = ledger.add_user("alice@example.com", "Alice")
    space = ledger.create_workspace("Acme").id
    ledger.add_member(space, alice.id)
    return {"admin": admin, "admin2": admin2, "alice": alice, "space": space}


def automatic(ledger: Ledger, p: dict) -> list:
    return [r for r in ledger.requests(p["admin"], workspace_id=p["space"]) if r.automatic]


def test_the_standing_approval_approves_small_requests_at_once_by_the_policy(book: tuple) -> None:
    ledger, clock, p = book
    ledger.set_credit_policy(p["admin"], p["space"], approve_up_to="100", approve_per_month="250",
                             grant_kind="promotional", grant_days="30")
    first = ledger.request_credits(p["alice"], p["space"], "100", "for the pilot")
    assert first.status is RequestStatus.APPROVED and first.by_policy
    assert first.decided_by == 0 and first.decided_by_name == "Billing system"
    assert "standing approval" in (first.decision_note or "")
    (held,) = ledger.grants(p["alice"], p["space"])
    assert (held.kind, held.amount) == (GrantKind.PROMOTIONAL, Decimal(100))
    assert held.source == f"request:{first.id}"
    assert held.expires_at is not None and held.expires_at.replace(tzinfo=None) == NOW + timedelta(days=30)
    bigger = ledger.request_credits(p["alice"], p["space"], "100.0001")  # above the per-request limit
    assert bigger.status is RequestStatus.PENDING and not bigger.by_policy
    second = ledger.request_credits(p["alice"], p["space"], "100")
    third = ledger.request_credits(p["alice"], p["space"], "60")  # 260 > 250 a month: waits
    assert (second.status, third.status) == (RequestStatus.APPROVED, RequestStatus.PENDING)
    fits = ledger.request_credits(p["alice"], p["space"], "50")  # exactly 250
    assert fits.status is RequestStatus.APPROVED
    clock.now = datetime(2026, 12, 1)  # a new calendar month
    assert ledger.request_credits(p["alice"], p["space"], "100").status is RequestStatus.APPROVED
    assert ledger.wallet(p["alice"], p["space"]).balance == Decimal(350)
    decided = [a for a in ledger.audit_trail(p["admin"]) if a.action == "request.approved"]
    assert len(decided) == 4
    assert all(a.actor_id == 0 and '"by_policy": true' in (a.after or "") for a in decided)
    ledger.verify()
    assert audit_problems(ledger) == []


def test_people_still_need_a_second_administrator(book: tuple) -> None:
    ledger, clock, p = book
    ledger.set_credit_policy(p["admin"], p["space"], approve_up_to="10", approve_per_month="10")
    own = ledger.request_credits(p["admin"], p["space"], "50")  # above the policy: waits
    with pytest.raises(PermissionDenied, match="your own request"):
        ledger.approve_request(p["admin"], own.id)
    assert ledger.approve_request(p["admin2"], own.id).status is RequestStatus.APPROVED


def test_an_automatic_top_up_files_one_request_and_never_a_second_while_it_is_pending(book: tuple) -> None:
    ledger, clock, p = book
    ledger.grant_credits(p["admin"], p["space"], "100", description="funding")
    ledger.set_credit_policy(p["admin"], p["space"], top_up_below="50", top_up_amount="500",
                             top_ups_per_month="3")
    ledger.consume(p["alice"], p["space"], "50", feature="AI", description="use")  # 50 left: not below
    assert automatic(ledger, p) == []
    ledger.consume(p["alice"], p["space"], "0.0001", feature="AI", description="use")
    (filed,) = automatic(ledger, p)
    assert (filed.status, filed.amount, filed.requested_by) == (RequestStatus.PENDING, Decimal(500), 0)
    assert "Automatic top-up" in (filed.note or "")
    for _ in range(3):
        ledger.consume(p["alice"], p["space"], "1", feature="AI", description="use")
    assert len(automatic(ledger, p)) == 1  # pending: no second
    ledger.reject_request(p["admin"], filed.id, "not now")
    ledger.consume(p["alice"], p["space"], "1", feature="AI", description="use")
    assert len(automatic(ledger, p)) == 2  # decided: the next debit below files again
    ledger.verify()
    assert audit_problems(ledger) == []


def test_automatic_top_ups_stop_at_the_monthly_count_and_start_again_next_month(book: tuple) -> None:
    ledger, clock, p = book
    ledger.grant_credits(p["admin"], p["space"], "100", description="funding")
    ledger.set_credit_policy(p["admin"], p["space"], top_up_below="1000", top_up_amount="5",
                             top_ups_per_month="2")
    for _ in range(5):
        ledger.consume(p["alice"], p["space"], "1", feature="AI", description="use")
        for request in automatic(ledger, p):
            if request.status is RequestStatus.PENDING:
                ledger.cancel_request(p["admin"], request.id)
    assert len(automatic(ledger, p)) == 2
    clock.now = datetime(2026, 12, 1, 0, 0, 1)
    ledger.consume(p["alice"], p["space"], "1", feature="AI", description="use")
    assert len(automatic(ledger, p)) == 3


def test_a_top_up_within_the_standing_approval_is_credited_with_the_debit_that_called_for_it(
    book: tuple,
) -> None:
    ledger, clock, p = book
    ledger.grant_credits(p["admin"], p["space"], "20", description="funding")
    ledger.set_credit_policy(p["admin"], p["space"], approve_up_to="100", approve_per_month="200",
                             top_up_below="10", top_up_amount="100", top_ups_per_month="5")
    debit = ledger.consume(p["alice"], p["space"], "15", feature="AI", description="use")
    assert ledger.wallet(p["alice"], p["space"]).balance == Decimal(105)
    (filed,) = automatic(ledger, p)
    assert filed.status is RequestStatus.APPROVED and filed.by_policy and filed.entry_id == debit.id + 1
    ledger.consume(p["alice"], p["space"], "96", feature="AI", description="use")  # 9 left: top-up 2
    ledger.consume(p["alice"], p["space"], "100", feature="AI", description="use")  # 9 left: 200 reached
    kinds = [r.status for r in automatic(ledger, p)]
    assert kinds == [RequestStatus.PENDING, RequestStatus.APPROVED, RequestStatus.APPROVED]  # newest first
    ledger.verify()


def test_bulk_ingest_that_leaves_a_wallet_low_files_its_top_up_too(book: tuple) -> None:
    ledger, clock, p = book
    ledger.grant_credits(p["admin"], p["space"], "30", description="funding")
    ledger.set_credit_policy(p["admin"], p["space"], top_up_below="10", top_up_amount="40",
                             top_ups_per_month="1")
    events = pd.DataFrame({"workspace": [p["space"]] * 3, "amount": ["8", "8", "8"],
                           "feature": ["AI"] * 3, "description": ["bulk"] * 3, "occurred_at": [NOW] * 3})
    assert ledger.consume_many(p["admin"], events).posted == 3
    (filed,) = automatic(ledger, p)
    assert filed.amount == Decimal(40) and filed.status is RequestStatus.PENDING
    ledger.verify()


def test_policy_changes_are_for_administrators_and_audited_with_before_and_after(book: tuple) -> None:
    ledger, clock, p = book
    with pytest.raises(PermissionDenied):
        ledger.set_credit_policy(p["alice"], p["space"], approve_up_to="1", approve_per_month="1")
    for values, message in (
        ({"approve_up_to": "10"}, "both limits"),
        ({"approve_up_to": "10", "approve_per_month": "5"}, "cannot exceed"),
        ({"top_up_below": "10", "top_up_amount": "5"}, "all three"),
        ({"top_up_below": "10", "top_up_amount": "5", "top_ups_per_month": "0"}, "whole number from 1"),
        ({"grant_days": "1.5"}, "whole number"),
        ({"grant_kind": "free"}, "purchased"),
        ({"approve_up_to": "-1", "approve_per_month": "5"}, "amount"),
        ({"top_ups": 3}, "no setting"),
    ):
        with pytest.raises(InvalidInput, match=message):
            ledger.set_credit_policy(p["admin"], p["space"], **values)
    assert not ledger.credit_policy(p["alice"], p["space"]).standing_approval
    ledger.set_credit_policy(p["admin"], p["space"], approve_up_to="10", approve_per_month="30", grant_days=7)
    ledger.set_credit_policy(p["admin2"], p["space"])  # cleared
    changes = [a for a in ledger.audit_trail(p["admin"]) if a.action == "policy.change"]
    assert [a.actor_id for a in changes] == [p["admin2"].id, p["admin"].id]
    before_clear = json.loads(changes[0].before or "{}")
    assert before_clear["approve_up_to"] == "10.0000" and before_clear["grant_days"] == 7
    assert json.loads(changes[0].after or "{}")["approve_up_to"] is None
    assert json.loads(changes[1].before or "{}")["approve_up_to"] is None
    assert audit_problems(ledger) == []


# --------------------------------------------------------------------- concurrency


def test_sixteen_threads_crossing_the_threshold_at_once_file_exactly_one_request(twins) -> None:
    a, b = twins(FakeClock(NOW))
    p = cast_of(a)
    b.user_by_email("alice@example.com")  # the second process knows the people too
    a.grant_credits(p["admin"], p["space"], "100", description="funding")
    a.set_credit_policy(p["admin"], p["space"], top_up_below="50", top_up_amount="500", top_ups_per_month="5")

    def work(i: int, barrier: threading.Barrier) -> None:
        barrier.wait()
        for _ in range(4):  # 16 x 4 x 1 = 64: every one of them leaves the wallet below 50 after the 51st
            (a if i % 2 else b).consume(p["alice"], p["space"], "1", feature="AI", description=f"t{i}")

    in_threads(16, work)
    filed = rows(a, "SELECT count(*), min(status) FROM credit_requests WHERE automatic")
    assert filed == [(1, "pending")]
    assert a.wallet(p["alice"], p["space"]).balance == Decimal(36)
    a.verify()


def test_concurrent_requests_never_pass_the_standing_approvals_monthly_limit(twins) -> None:
    a, b = twins(FakeClock(NOW))
    p = cast_of(a)
    a.set_credit_policy(p["admin"], p["space"], approve_up_to="10", approve_per_month="35")

    def work(i: int, barrier: threading.Barrier) -> object:
        barrier.wait()
        return (a if i % 2 else b).request_credits(p["alice"], p["space"], "5").status

    outcomes = in_threads(16, work)
    assert outcomes.count(RequestStatus.APPROVED) == 7 and outcomes.count(RequestStatus.PENDING) == 9
    assert a.wallet(p["alice"], p["space"]).balance == Decimal(35)
    a.verify()
