"""Every Ledger operation x {member, member of another workspace, admin, nobody}."""

from collections.abc import Callable
from dataclasses import replace

import pytest

from billing_core import Ledger, PermissionDenied, User
from tests.conftest import fund

# operation name -> (callable(ledger, actor, people, request_id), who may do it)
Op = Callable[[Ledger, object, dict, int], object]
OPERATIONS: dict[str, tuple[Op, set[str]]] = {
    "wallet": (lambda lg, a, p, r: lg.wallet(a, p["acme"].id), {"member", "admin"}),
    "history": (lambda lg, a, p, r: lg.history(a, p["acme"].id), {"member", "admin"}),
    "consume": (
        lambda lg, a, p, r: lg.consume(a, p["acme"].id, "1", feature="AI", description="x"),
        {"member", "admin"},
    ),
    "request_credits": (lambda lg, a, p, r: lg.request_credits(a, p["acme"].id, "5"), {"member", "admin"}),
    "requests_of_workspace": (
        lambda lg, a, p, r: lg.requests(a, workspace_id=p["acme"].id),
        {"member", "admin"},
    ),
    "credit_request": (lambda lg, a, p, r: lg.credit_request(a, r), {"member", "admin"}),
    "cancel_request": (lambda lg, a, p, r: lg.cancel_request(a, r), {"member", "admin"}),
    "approve_request": (lambda lg, a, p, r: lg.approve_request(a, r), {"admin"}),
    "reject_request": (lambda lg, a, p, r: lg.reject_request(a, r, "no"), {"admin"}),
    "set_wallet_status": (lambda lg, a, p, r: lg.set_wallet_status(a, p["acme"].id, "inactive"), {"admin"}),
    "grant_credits": (lambda lg, a, p, r: lg.grant_credits(a, p["acme"].id, "1", description="x"), {"admin"}),
    "burn_rate": (lambda lg, a, p, r: lg.burn_rate(a, p["acme"].id), {"member", "admin"}),
    "balance_over_time": (
        lambda lg, a, p, r: lg.balance_over_time(a, p["acme"].id, lg.today(), lg.today()),
        {"member", "admin"},
    ),
    "spend_by_feature": (
        lambda lg, a, p, r: lg.spend_by_feature(a, lg.today(), lg.today(), workspace_id=p["acme"].id),
        {"member", "admin"},
    ),
    "members": (lambda lg, a, p, r: lg.members(a, p["acme"].id), {"member", "admin"}),
    "users": (lambda lg, a, p, r: lg.users(a), {"admin"}),
    "audit_trail": (lambda lg, a, p, r: lg.audit_trail(a), {"admin"}),
}
ROLES = {"member": "alice", "outsider": "bob", "admin": "admin2", "nobody": None}


def write_count(ledger: Ledger) -> tuple[int, ...]:
    with ledger.db.reading() as cur:
        return tuple(
            cur.execute(
                "SELECT (SELECT count(*) FROM entries), (SELECT count(*) FROM audit_log),"
                " (SELECT count(*) FROM credit_requests),"
                " (SELECT count(*) FROM credit_requests WHERE status <> 'pending'),"
                " (SELECT count(*) FROM wallets WHERE status <> 'active')"
            ).fetchone()
        )


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_access_matrix(ledger: Ledger, people: dict, operation: str, role: str) -> None:
    call, allowed = OPERATIONS[operation]
    fund(ledger, people["admin"], people["acme"].id, "100")
    request = ledger.request_credits(people["alice"], people["acme"].id, "5")
    actor = people[ROLES[role]] if ROLES[role] else None
    if role in allowed:
        call(ledger, actor, people, request.id)
    else:
        before = write_count(ledger)
        with pytest.raises(PermissionDenied):
            call(ledger, actor, people, request.id)
        assert write_count(ledger) == before
    ledger.verify()


def test_a_forged_admin_flag_carries_no_rights(ledger: Ledger, people: dict) -> None:
    forged = replace(people["alice"], is_admin=True)
    with pytest.raises(PermissionDenied):
        ledger.grant_credits(forged, people["acme"].id, "10", description="free money")
    with pytest.raises(PermissionDenied):
        ledger.wallet(forged, people["beta"].id)


def test_an_unknown_user_object_is_refused(ledger: Ledger, people: dict) -> None:
    ghost = User(id=999, email="ghost@example.com", name="Ghost", is_admin=True)
    with pytest.raises(PermissionDenied):
        ledger.wallets(ghost)
    with pytest.raises(PermissionDenied):
        ledger.wallet("admin", people["acme"].id)  # type: ignore[arg-type]


def test_member_lists_only_their_workspaces(ledger: Ledger, people: dict) -> None:
    assert [w.name for w in ledger.workspaces(people["alice"])] == ["Acme"]
    assert [w.name for w in ledger.workspaces(people["carol"])] == ["Acme", "Beta"]
    assert [w.name for w in ledger.workspaces(people["admin"])] == ["Acme", "Beta"]
    assert [s.wallet.workspace_name for s in ledger.wallets(people["bob"])] == ["Beta"]


def test_refusal_does_not_name_the_workspace_to_an_outsider(ledger: Ledger, people: dict) -> None:
    with pytest.raises(PermissionDenied) as refused:
        ledger.wallet(people["bob"], people["acme"].id)
    assert "Acme" not in str(refused.value)
