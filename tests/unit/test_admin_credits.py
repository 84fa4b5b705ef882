"""Credits an administrator adds directly, and corrections (issue 11). Both stores."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from billing_core import (
    EntryKind,
    InvalidInput,
    InvalidTransition,
    Ledger,
    LedgerCorrupt,
    NotFound,
    PermissionDenied,
    RequestStatus,
)
from billing_core.settings import Settings
from tests.hardening.books import audit_problems, counts, rows


def balance(ledger: Ledger, people: dict, space: str = "acme") -> Decimal:
    return ledger.wallet(people["admin"], people[space].id).balance


def test_a_grant_up_to_the_limit_credits_at_once_with_its_reason(ledger: Ledger, people: dict) -> None:
    admin, acme = people["admin"], people["acme"].id
    outcome = ledger.grant(admin, acme, "10000", reason="Contract top-up, =HYPERLINK(\"x\")")
    assert not outcome.pending and outcome.entry is not None
    assert outcome.entry.kind is EntryKind.CREDIT and outcome.entry.amount == Decimal(10000)
    assert outcome.entry.description == "Contract top-up, =HYPERLINK(\"x\")"
    assert balance(ledger, people) == Decimal(10000)
    assert rows(ledger, "SELECT action, actor_id FROM audit_log WHERE subject = ?",
                [f"entry:{outcome.entry.id}"]) == [("wallet.grant", admin.id)]


def test_a_grant_above_the_limit_waits_for_a_second_admin(ledger: Ledger, people: dict) -> None:
    ada, grace, acme = people["admin"], people["admin2"], people["acme"].id
    outcome = ledger.grant(ada, acme, "10000.0001", reason="Annual contract")
    assert outcome.pending and outcome.entry is None and outcome.request is not None
    request = outcome.request
    assert request.status is RequestStatus.PENDING
    assert (request.requested_by, request.note) == (ada.id, "Annual contract")
    assert balance(ledger, people) == 0
    with pytest.raises(PermissionDenied, match="another administrator"):
        ledger.approve_request(ada, request.id)
    ledger.approve_request(grace, request.id)
    assert balance(ledger, people) == Decimal("10000.0001")
    ledger.verify()
    assert not audit_problems(ledger)


def test_the_grant_limit_is_configurable(new_ledger) -> None:
    assert Settings.from_env({}).grant_limit == Decimal(10000)
    ledger = new_ledger(settings=Settings.from_env({"BILLING_GRANT_LIMIT": "500"}))
    admin = ledger.add_user("ada@example.com", "Ada", admin=True)
    space = ledger.create_workspace("Acme")
    assert not ledger.grant(admin, space.id, "500", reason="ok").pending
    assert ledger.grant(admin, space.id, "500.01", reason="needs a second look").pending
    with pytest.raises(InvalidInput):
        Settings.from_env({"BILLING_GRANT_LIMIT": "lots"})


def test_grants_refuse_members_bad_amounts_and_missing_reasons(ledger: Ledger, people: dict) -> None:
    admin, alice, acme = people["admin"], people["alice"], people["acme"].id
    before = counts(ledger)
    with pytest.raises(PermissionDenied):
        ledger.grant(alice, acme, "5", reason="for me")
    for amount in ("0", "-5", "1e3", "NaN", 1.5, "1,000"):
        with pytest.raises(InvalidInput):
            ledger.grant(admin, acme, amount, reason="x")
    with pytest.raises(InvalidInput, match="reason"):
        ledger.grant(admin, acme, "5", reason="  ")
    assert counts(ledger) == before


def test_a_correction_reverses_an_entry_and_points_at_it(ledger: Ledger, people: dict) -> None:
    admin, alice, acme = people["admin"], people["alice"], people["acme"].id
    granted = ledger.grant(admin, acme, "100", reason="Typo: meant 10").entry
    assert granted is not None
    fix = ledger.correct_entry(admin, granted.id, reason="Typed 100 for 10")
    assert (fix.kind, fix.amount, fix.corrects) == (EntryKind.DEBIT, Decimal(100), granted.id)
    assert fix.description == f"Correction of #{granted.id}: Typed 100 for 10"
    assert balance(ledger, people) == 0
    ledger.grant(admin, acme, "10", reason="what was meant")
    debit = ledger.consume(alice, acme, "4", feature="AI", description="charged twice")
    refund = ledger.correct_entry(admin, debit.id, reason="double charge")
    assert (refund.kind, refund.amount, refund.feature) == (EntryKind.CREDIT, Decimal(4), "AI")
    assert balance(ledger, people) == Decimal(10)
    # both are in the history, nothing was edited or deleted
    assert [t.corrects for t in ledger.history(admin, acme).items][:2] == [debit.id, None]
    assert ledger.transaction(alice, fix.id).corrects == granted.id
    ledger.verify()
    assert not audit_problems(ledger)


def test_an_entry_is_corrected_at_most_once_and_a_correction_never(ledger: Ledger, people: dict) -> None:
    admin, acme = people["admin"], people["acme"].id
    ledger.grant_credits(admin, acme, "100", description="funding")
    entry = ledger.grant_credits(admin, acme, "5", description="goodwill")
    fix = ledger.correct_entry(admin, entry.id, reason="not owed")
    before = counts(ledger)
    with pytest.raises(InvalidTransition, match=f"already corrected by #{fix.id}"):
        ledger.correct_entry(admin, entry.id, reason="again")
    with pytest.raises(InvalidInput, match="itself a correction"):
        ledger.correct_entry(admin, fix.id, reason="undo the undo")
    with pytest.raises(NotFound):
        ledger.correct_entry(admin, 999_999, reason="x")
    with pytest.raises(PermissionDenied):
        ledger.correct_entry(people["alice"], entry.id, reason="x")
    assert counts(ledger) == before


def test_a_correction_never_takes_a_wallet_below_zero(ledger: Ledger, people: dict) -> None:
    admin, alice, acme = people["admin"], people["alice"], people["acme"].id
    entry = ledger.grant_credits(admin, acme, "10", description="funding")
    ledger.consume(alice, acme, "8", feature="AI", description="spent")
    with pytest.raises(InvalidInput, match="below zero"):
        ledger.correct_entry(admin, entry.id, reason="take it back")
    ledger.set_wallet_status(admin, acme, "inactive")  # an inactive wallet can still be corrected
    small = ledger.grant_credits(admin, acme, "1", description="oops")
    ledger.correct_entry(admin, small.id, reason="oops")
    assert balance(ledger, people) == Decimal(2)


def test_two_admins_correcting_one_entry_at_once_correct_it_once(ledger: Ledger, people: dict) -> None:
    admin, admin2, acme = people["admin"], people["admin2"], people["acme"].id
    ledger.grant_credits(admin, acme, "100", description="funding")
    entry = ledger.grant_credits(admin, acme, "7", description="goodwill")
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def correct(actor) -> None:
        barrier.wait()
        try:
            outcomes.append(ledger.correct_entry(actor, entry.id, reason="twice?"))
        except Exception as error:  # noqa: BLE001 - collected
            outcomes.append(error)

    threads = [threading.Thread(target=correct, args=(a,)) for a in (admin, admin2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, InvalidTransition) for o in outcomes) == 1, outcomes
    assert balance(ledger, people) == Decimal(100)
    ledger.verify()


def _append_correction(
    ledger: Ledger, workspace_id: int, kind: EntryKind, amount: str, corrects: int
) -> None:
    """A correction written through the journal but past correct_entry's checks."""
    from billing_core.audit import AuditAction
    from billing_core.journal import Movement, append, lock_wallet

    with ledger.db.writing() as cur:
        wallet = lock_wallet(ledger.db, cur, workspace_id)
        movement = Movement(workspace_id, kind, Decimal(amount), "forged", None, 1, AuditAction.CORRECT,
                            corrects=corrects)
        append(ledger.db, cur, {workspace_id: wallet}, [movement], at=ledger.db.clock())


def test_verify_sees_a_correction_that_does_not_reverse_its_entry(ledger: Ledger, people: dict) -> None:
    admin, acme, beta = people["admin"], people["acme"].id, people["beta"].id
    entry = ledger.grant_credits(admin, acme, "10", description="funding")
    ledger.verify()
    _append_correction(ledger, acme, EntryKind.CREDIT, "10", entry.id)  # the same kind: no reversal
    with pytest.raises(LedgerCorrupt, match="does not reverse"):
        ledger.verify()
    other = ledger.grant_credits(admin, beta, "10", description="funding")
    _append_correction(ledger, acme, EntryKind.DEBIT, "10", other.id)  # another workspace's entry
    with pytest.raises(LedgerCorrupt, match=f"ids: [0-9, ]*{other.id + 1}"):
        ledger.verify()


def test_an_entry_corrected_twice_behind_the_checks_is_caught(
    ledger: Ledger, people: dict, store: str
) -> None:
    admin, acme = people["admin"], people["acme"].id
    ledger.grant_credits(admin, acme, "100", description="funding")
    entry = ledger.grant_credits(admin, acme, "3", description="x")
    ledger.correct_entry(admin, entry.id, reason="fine")
    ledger.verify()
    if store == "postgresql":  # the server's unique index refuses the second one outright
        with pytest.raises(Exception, match="entries_correct_once|unique|already"):
            _append_correction(ledger, acme, EntryKind.DEBIT, "3", entry.id)
        ledger.verify()
        return
    _append_correction(ledger, acme, EntryKind.DEBIT, "3", entry.id)
    with pytest.raises(LedgerCorrupt, match="corrected more than once"):
        ledger.verify()
