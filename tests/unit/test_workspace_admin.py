"""Workspaces and members, as administrators manage them (issue 11). Both stores."""

from __future__ import annotations

import pytest

from billing_core import (
    InvalidInput,
    Ledger,
    NotFound,
    PermissionDenied,
    RequestStatus,
    WalletInactive,
    WalletStatus,
    WorkspaceArchived,
)
from tests.hardening.books import audit_problems, counts, rows


def test_an_admin_adds_and_renames_a_workspace(ledger: Ledger, people: dict) -> None:
    admin = people["admin"]
    space = ledger.add_workspace(admin, "Gamma Labs")
    assert ledger.wallet(admin, space.id).balance == 0
    assert ledger.wallet(admin, space.id).status is WalletStatus.ACTIVE
    renamed = ledger.rename_workspace(admin, space.id, "Gamma Research")
    assert renamed.name == "Gamma Research" and renamed.id == space.id
    assert ledger.find_workspace(admin, "gamma research").id == space.id
    with pytest.raises(InvalidInput, match="already exists"):
        ledger.rename_workspace(admin, space.id, "acme")
    with pytest.raises(InvalidInput, match="already exists"):
        ledger.add_workspace(admin, "ACME")
    with pytest.raises(InvalidInput, match="text-direction"):
        ledger.add_workspace(admin, "Acme\u202e")
    audit = rows(
        ledger, "SELECT actor_id, action, before, after FROM audit_log WHERE subject = ? ORDER BY id",
        [f"workspace:{space.id}"],
    )
    assert [(a, b) for a, b, _, _ in audit] == [
        (admin.id, "workspace.create"), (admin.id, "workspace.rename")
    ]
    assert audit[1][2:] == ('{"name": "Gamma Labs"}', '{"name": "Gamma Research"}')
    assert not audit_problems(ledger)


def test_archiving_keeps_the_history_and_lets_nothing_new_happen(ledger: Ledger, people: dict) -> None:
    admin, admin2, alice, acme = people["admin"], people["admin2"], people["alice"], people["acme"].id
    ledger.grant_credits(admin, acme, "50", description="funding")
    ledger.consume(alice, acme, "5", feature="AI", description="question")
    waiting = ledger.request_credits(alice, acme, "20", note="more")
    archived = ledger.archive_workspace(admin, acme)
    assert archived.archived and archived.archived_at is not None
    # its history stays, for its members and admins
    assert [t.amount for t in ledger.history(alice, acme).items] == [5, 50]
    assert ledger.wallet(admin, acme).status is WalletStatus.INACTIVE
    assert ledger.wallet(admin, acme).balance == 45
    # its pending request was cancelled by the admin who archived it, with why
    cancelled = ledger.credit_request(admin, waiting.id)
    assert cancelled.status is RequestStatus.CANCELLED and cancelled.decided_by == admin.id
    assert cancelled.decision_note == "The workspace was archived." and not cancelled.cancelled_by_requester
    # it leaves the pickers and wallet lists
    assert acme not in [w.id for w in ledger.workspaces(admin)]
    assert acme not in [w.id for w in ledger.workspaces(alice)]
    assert acme in [w.id for w in ledger.workspaces(admin, include_archived=True)]
    assert acme not in [s.wallet.workspace_id for s in ledger.wallets(admin)]
    assert acme not in [s.wallet.workspace_id for s in ledger.consolidated_wallet(alice).wallets]
    assert acme not in set(ledger.wallet_overview(admin)["workspace_id"])
    # nothing new happens in it
    before = counts(ledger)
    for call, error in (
        (lambda: ledger.consume(alice, acme, "1", feature="AI", description="x"), WalletInactive),
        (lambda: ledger.request_credits(alice, acme, "1"), WorkspaceArchived),
        (lambda: ledger.grant_credits(admin, acme, "1", description="x"), WorkspaceArchived),
        (lambda: ledger.grant(admin, acme, "1", reason="x"), WorkspaceArchived),
        (lambda: ledger.set_wallet_status(admin, acme, "active"), WorkspaceArchived),
        (lambda: ledger.add_workspace_member(admin, acme, people["bob"].id), WorkspaceArchived),
        (lambda: ledger.archive_workspace(admin2, acme), WorkspaceArchived),
    ):
        with pytest.raises(error):
            call()
    assert counts(ledger) == before
    ledger.verify()
    assert not audit_problems(ledger)


def test_members_are_added_and_removed_and_each_side_lists_them(ledger: Ledger, people: dict) -> None:
    admin, bob, acme, beta = people["admin"], people["bob"], people["acme"].id, people["beta"].id
    assert ledger.add_workspace_member(admin, acme, bob.id) is True
    assert ledger.add_workspace_member(admin, acme, bob.id) is False  # already a member: nothing written
    assert [u.name for u in ledger.members(admin, acme)] == ["Alice", "Bob", "Carol"]
    assert [w.id for w in ledger.person_workspaces(admin, bob.id)] == [acme, beta]
    ledger.remove_workspace_member(admin, acme, bob.id)
    assert [u.name for u in ledger.members(admin, acme)] == ["Alice", "Carol"]
    with pytest.raises(PermissionDenied):
        ledger.wallet(bob, acme)  # at once: the directory cache follows
    with pytest.raises(InvalidInput, match="not a member"):
        ledger.remove_workspace_member(admin, acme, bob.id)
    with pytest.raises(NotFound):
        ledger.add_workspace_member(admin, acme, 999)
    with pytest.raises(InvalidInput):
        ledger.add_workspace_member(admin, acme, 0)  # the system account
    assert not audit_problems(ledger)


def test_a_deactivated_person_is_not_added_to_a_workspace(ledger: Ledger, people: dict) -> None:
    admin, bob = people["admin"], people["bob"]
    ledger.deactivate_user(admin, bob.id)
    with pytest.raises(InvalidInput, match="deactivated"):
        ledger.add_workspace_member(admin, people["acme"].id, bob.id)


def test_members_can_do_none_of_the_workspace_operations(ledger: Ledger, people: dict) -> None:
    alice, bob, acme = people["alice"], people["bob"], people["acme"].id
    before = counts(ledger)
    for call in (
        lambda: ledger.add_workspace(alice, "Mine"),
        lambda: ledger.rename_workspace(alice, acme, "Mine"),
        lambda: ledger.archive_workspace(alice, acme),
        lambda: ledger.add_workspace_member(alice, acme, bob.id),
        lambda: ledger.remove_workspace_member(alice, acme, people["carol"].id),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert counts(ledger) == before
