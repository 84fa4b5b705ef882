from decimal import Decimal

import pytest

from billing_core import (
    InvalidAmount,
    InvalidInput,
    InvalidTransition,
    Ledger,
    NotFound,
    PermissionDenied,
    RequestStatus,
)


def balance(ledger: Ledger, people: dict) -> Decimal:
    return ledger.wallet(people["admin"], people["acme"].id).balance


def test_request_starts_pending_and_records_who_and_what(ledger: Ledger, people: dict) -> None:
    request = ledger.request_credits(people["alice"], people["acme"].id, "150", note="Q4 pilot")
    assert request.status is RequestStatus.PENDING
    assert (request.amount, request.note, request.requested_by) == (
        Decimal(150),
        "Q4 pilot",
        people["alice"].id,
    )
    assert request.requested_by_name == "Alice" and request.workspace_name == "Acme"
    assert request.decided_by is None and balance(ledger, people) == 0


def test_approval_credits_the_wallet_once(ledger: Ledger, people: dict) -> None:
    request = ledger.request_credits(people["alice"], people["acme"].id, "150")
    decided = ledger.approve_request(people["admin"], request.id, note="Enjoy")
    assert decided.status is RequestStatus.APPROVED
    assert (decided.decided_by, decided.decision_note) == (people["admin"].id, "Enjoy")
    assert decided.entry_id is not None
    assert balance(ledger, people) == Decimal(150)
    with pytest.raises(InvalidTransition, match="already approved by Ada"):
        ledger.approve_request(people["admin2"], request.id)
    assert balance(ledger, people) == Decimal(150)
    credit = ledger.history(people["alice"], people["acme"].id).items[0]
    assert credit.request_id == request.id and credit.amount == Decimal(150)
    ledger.verify()


def test_rejection_needs_a_note_and_credits_nothing(ledger: Ledger, people: dict) -> None:
    request = ledger.request_credits(people["alice"], people["acme"].id, "150")
    with pytest.raises(InvalidInput):
        ledger.reject_request(people["admin"], request.id, "  ")
    assert ledger.credit_request(people["alice"], request.id).status is RequestStatus.PENDING
    rejected = ledger.reject_request(people["admin"], request.id, "Budget is frozen")
    assert rejected.status is RequestStatus.REJECTED and rejected.decision_note == "Budget is frozen"
    assert balance(ledger, people) == 0


def test_requester_or_admin_can_cancel_while_pending(ledger: Ledger, people: dict) -> None:
    first = ledger.request_credits(people["alice"], people["acme"].id, "10")
    second = ledger.request_credits(people["alice"], people["acme"].id, "20")
    assert ledger.cancel_request(people["alice"], first.id).status is RequestStatus.CANCELLED
    assert ledger.cancel_request(people["admin"], second.id, "duplicate").decision_note == "duplicate"


def test_other_member_of_the_workspace_cannot_cancel(ledger: Ledger, people: dict) -> None:
    request = ledger.request_credits(people["alice"], people["acme"].id, "10")
    with pytest.raises(PermissionDenied):
        ledger.cancel_request(people["carol"], request.id)
    with pytest.raises(PermissionDenied):
        ledger.cancel_request(people["bob"], request.id)
    assert ledger.credit_request(people["alice"], request.id).status is RequestStatus.PENDING


@pytest.mark.parametrize("first", ["approve", "reject", "cancel"])
@pytest.mark.parametrize("then", ["approve", "reject", "cancel"])
def test_a_decided_request_cannot_change_again(ledger: Ledger, people: dict, first: str, then: str) -> None:
    request = ledger.request_credits(people["alice"], people["acme"].id, "10")
    actions = {
        "approve": lambda: ledger.approve_request(people["admin"], request.id),
        "reject": lambda: ledger.reject_request(people["admin"], request.id, "no"),
        "cancel": lambda: ledger.cancel_request(people["alice"], request.id),
    }
    actions[first]()
    after_first = (balance(ledger, people), ledger.credit_request(people["admin"], request.id))
    with ledger.db.reading() as cur:
        audits = cur.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    with pytest.raises(InvalidTransition):
        actions[then]()
    assert (balance(ledger, people), ledger.credit_request(people["admin"], request.id)) == after_first
    with ledger.db.reading() as cur:
        assert cur.execute("SELECT count(*) FROM audit_log").fetchone()[0] == audits


def test_members_cannot_approve_or_reject(ledger: Ledger, people: dict) -> None:
    request = ledger.request_credits(people["alice"], people["acme"].id, "10")
    for member in ("alice", "carol", "bob"):
        with pytest.raises(PermissionDenied):
            ledger.approve_request(people[member], request.id)
        with pytest.raises(PermissionDenied):
            ledger.reject_request(people[member], request.id, "no")
    assert balance(ledger, people) == 0


def test_admin_cannot_approve_own_request(ledger: Ledger, people: dict) -> None:
    request = ledger.request_credits(people["admin"], people["acme"].id, "10")
    with pytest.raises(PermissionDenied, match="own request"):
        ledger.approve_request(people["admin"], request.id)
    ledger.approve_request(people["admin2"], request.id)
    assert balance(ledger, people) == Decimal(10)


def test_member_cannot_request_for_another_workspace(ledger: Ledger, people: dict) -> None:
    with pytest.raises(PermissionDenied):
        ledger.request_credits(people["alice"], people["beta"].id, "10")
    assert ledger.requests(people["admin"]) == []


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1e3", 2.5, "1000000000.5"])
def test_bad_request_amounts_are_refused(ledger: Ledger, people: dict, amount: object) -> None:
    with pytest.raises(InvalidAmount):
        ledger.request_credits(people["alice"], people["acme"].id, amount)
    assert ledger.requests(people["admin"]) == []


def test_unknown_request_is_not_found(ledger: Ledger, people: dict) -> None:
    with pytest.raises(NotFound):
        ledger.approve_request(people["admin"], 12345)
    with pytest.raises(InvalidInput):
        ledger.cancel_request(people["admin"], "1; DROP TABLE credit_requests")  # type: ignore[arg-type]


def test_requests_are_scoped_and_filterable(ledger: Ledger, people: dict) -> None:
    a = ledger.request_credits(people["alice"], people["acme"].id, "10")
    b = ledger.request_credits(people["bob"], people["beta"].id, "20")
    ledger.reject_request(people["admin"], b.id, "no")
    assert [r.id for r in ledger.requests(people["alice"])] == [a.id]
    assert [r.id for r in ledger.requests(people["bob"])] == [b.id]
    assert {r.id for r in ledger.requests(people["carol"])} == {a.id, b.id}
    assert [r.id for r in ledger.requests(people["admin"], status="pending")] == [a.id]
    assert [r.id for r in ledger.requests(people["admin"], status=RequestStatus.REJECTED)] == [b.id]
    with pytest.raises(PermissionDenied):
        ledger.requests(people["alice"], workspace_id=people["beta"].id)
    with pytest.raises(InvalidInput):
        ledger.requests(people["admin"], status="done")


def test_pending_queue_is_oldest_first(ledger: Ledger, people: dict) -> None:
    ids = [ledger.request_credits(people["alice"], people["acme"].id, str(n)).id for n in (1, 2, 3)]
    assert [r.id for r in ledger.requests(people["admin"], status="pending")] == ids
