from decimal import Decimal

import pytest

from billing_core import (
    EntryKind,
    IdempotencyConflict,
    InsufficientCredits,
    InvalidAmount,
    InvalidInput,
    Ledger,
    NotFound,
    PermissionDenied,
    WalletInactive,
    WalletStatus,
)
from tests.conftest import fund


def entry_count(ledger: Ledger) -> int:
    with ledger.db.reading() as cur:
        return int(cur.execute("SELECT count(*) FROM entries").fetchone()[0])


def test_new_workspace_wallet_is_active_and_empty(ledger: Ledger, people: dict) -> None:
    wallet = ledger.wallet(people["alice"], people["acme"].id)
    assert wallet.balance == Decimal(0)
    assert wallet.status is WalletStatus.ACTIVE
    assert wallet.is_blocked


def test_consume_debits_and_returns_the_transaction(ledger: Ledger, people: dict) -> None:
    fund(ledger, people["admin"], people["acme"].id, "100")
    tx = ledger.consume(
        people["alice"], people["acme"].id, "12.3456", feature="AI chat", description="A question"
    )
    assert tx.kind is EntryKind.DEBIT and tx.amount == Decimal("12.3456")
    assert tx.feature == "AI chat" and tx.description == "A question"
    assert ledger.wallet(people["alice"], people["acme"].id).balance == Decimal("87.6544")
    ledger.verify()


def test_consume_at_zero_balance_is_blocked_with_no_credits_message(ledger: Ledger, people: dict) -> None:
    with pytest.raises(InsufficientCredits, match="No credits available"):
        ledger.consume(people["alice"], people["acme"].id, "1", feature="AI", description="x")
    assert entry_count(ledger) == 0


def test_consume_never_makes_a_partial_debit(ledger: Ledger, people: dict) -> None:
    fund(ledger, people["admin"], people["acme"].id, "5")
    with pytest.raises(InsufficientCredits, match="Not enough credits"):
        ledger.consume(people["alice"], people["acme"].id, "5.0001", feature="AI", description="x")
    assert ledger.wallet(people["alice"], people["acme"].id).balance == Decimal(5)
    ledger.consume(people["alice"], people["acme"].id, "5", feature="AI", description="x")
    assert ledger.wallet(people["alice"], people["acme"].id).balance == Decimal(0)


def test_inactive_wallet_blocks_consumption(ledger: Ledger, people: dict) -> None:
    fund(ledger, people["admin"], people["acme"].id, "50")
    ledger.set_wallet_status(people["admin"], people["acme"].id, "inactive")
    with pytest.raises(WalletInactive, match="No credits available"):
        ledger.consume(people["alice"], people["acme"].id, "1", feature="AI", description="x")
    ledger.set_wallet_status(people["admin"], people["acme"].id, "active")
    ledger.consume(people["alice"], people["acme"].id, "1", feature="AI", description="x")


def test_only_admins_change_status_or_grant(ledger: Ledger, people: dict) -> None:
    with pytest.raises(PermissionDenied):
        ledger.set_wallet_status(people["alice"], people["acme"].id, "inactive")
    with pytest.raises(PermissionDenied):
        ledger.grant_credits(people["alice"], people["acme"].id, "10", description="x")
    assert ledger.wallet(people["admin"], people["acme"].id).status is WalletStatus.ACTIVE


def test_bad_status_is_refused(ledger: Ledger, people: dict) -> None:
    with pytest.raises(InvalidInput):
        ledger.set_wallet_status(people["admin"], people["acme"].id, "frozen")


def test_same_idempotency_key_debits_once(ledger: Ledger, people: dict) -> None:
    fund(ledger, people["admin"], people["acme"].id, "10")
    first = ledger.consume(
        people["alice"], people["acme"].id, "3", feature="AI", description="x", idempotency_key="k-1"
    )
    again = ledger.consume(
        people["alice"], people["acme"].id, "3", feature="AI", description="x", idempotency_key="k-1"
    )
    assert again == first
    assert ledger.wallet(people["alice"], people["acme"].id).balance == Decimal(7)


def test_an_idempotency_key_belongs_to_its_workspace(ledger: Ledger, people: dict) -> None:
    """The same key in another workspace is that workspace's own: it debits there, and
    neither fails nor reveals that the first workspace used it."""
    fund(ledger, people["admin"], people["acme"].id, "10")
    fund(ledger, people["admin"], people["beta"].id, "10")
    first = ledger.consume(
        people["carol"], people["acme"].id, "3", feature="AI", description="x", idempotency_key="k-1"
    )
    other = ledger.consume(
        people["bob"], people["beta"].id, "3", feature="AI", description="x", idempotency_key="k-1"
    )
    assert other.id != first.id and other.workspace_id == people["beta"].id
    assert ledger.wallet(people["carol"], people["acme"].id).balance == Decimal(7)
    assert ledger.wallet(people["carol"], people["beta"].id).balance == Decimal(7)
    again = ledger.consume(
        people["bob"], people["beta"].id, "3", feature="AI", description="x", idempotency_key="k-1"
    )
    assert again == other  # and each replays its own
    ledger.verify()


@pytest.mark.parametrize(("workspace", "amount"), [("acme", "4")])
def test_idempotency_key_reused_for_another_charge_is_refused(
    ledger: Ledger, people: dict, workspace: str, amount: str
) -> None:
    fund(ledger, people["admin"], people["acme"].id, "10")
    fund(ledger, people["admin"], people["beta"].id, "10")
    ledger.consume(
        people["carol"], people["acme"].id, "3", feature="AI", description="x", idempotency_key="k-1"
    )
    with pytest.raises(IdempotencyConflict):
        ledger.consume(
            people["carol"],
            people[workspace].id,
            amount,
            feature="AI",
            description="x",
            idempotency_key="k-1",
        )
    assert ledger.wallet(people["carol"], people["beta"].id).balance == Decimal(10)


@pytest.mark.parametrize("amount", ["0", "-1", "abc", "1e3", "0.00001", 1.0, None, True, "1000000001"])
def test_bad_amounts_change_nothing(ledger: Ledger, people: dict, amount: object) -> None:
    fund(ledger, people["admin"], people["acme"].id, "10")
    before = entry_count(ledger)
    with pytest.raises(InvalidAmount):
        ledger.consume(people["alice"], people["acme"].id, amount, feature="AI", description="x")
    with pytest.raises(InvalidAmount):
        ledger.grant_credits(people["admin"], people["acme"].id, amount, description="x")
    assert entry_count(ledger) == before


def test_unknown_workspace_is_not_found(ledger: Ledger, people: dict) -> None:
    with pytest.raises(NotFound):
        ledger.wallet(people["admin"], 999)
    with pytest.raises(NotFound):
        ledger.consume(people["admin"], 999, "1", feature="AI", description="x")


def test_balance_cannot_exceed_the_maximum(
    ledger: Ledger, people: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from billing_core import journal

    monkeypatch.setattr(journal, "MAX_BALANCE", Decimal(25))  # the real cap is 10**13
    fund(ledger, people["admin"], people["acme"].id, "20")
    with pytest.raises(InvalidAmount, match="maximum balance"):
        fund(ledger, people["admin"], people["acme"].id, "5.0001")
    fund(ledger, people["admin"], people["acme"].id, "5")
    assert ledger.wallet(people["admin"], people["acme"].id).balance == Decimal(25)
    ledger.verify()


def test_consolidated_wallet_totals_the_members_workspaces(ledger: Ledger, people: dict) -> None:
    fund(ledger, people["admin"], people["acme"].id, "10.5")
    fund(ledger, people["admin"], people["beta"].id, "20.25")
    ledger.request_credits(people["carol"], people["beta"].id, "7")
    mine = ledger.consolidated_wallet(people["carol"])
    assert [s.wallet.workspace_name for s in mine.wallets] == ["Acme", "Beta"]
    assert mine.total == Decimal("30.75")
    assert mine.pending_total == Decimal(7)
    assert [s.wallet.workspace_name for s in ledger.consolidated_wallet(people["alice"]).wallets] == ["Acme"]


def test_an_inactive_wallets_credits_are_blocked_not_available(ledger: Ledger, people: dict) -> None:
    fund(ledger, people["admin"], people["acme"].id, "10.5")
    fund(ledger, people["admin"], people["beta"].id, "20.25")
    ledger.set_wallet_status(people["admin"], people["beta"].id, "inactive")
    mine = ledger.consolidated_wallet(people["carol"])
    assert mine.total == Decimal("30.75")
    assert (mine.available_total, mine.blocked_total) == (Decimal("10.5"), Decimal("20.25"))
    assert mine.blocked_count == 1
    ledger.set_wallet_status(people["admin"], people["beta"].id, "active")
    mine = ledger.consolidated_wallet(people["carol"])
    assert (mine.available_total, mine.blocked_total, mine.blocked_count) == (
        Decimal("30.75"), Decimal(0), 0)


def test_admins_consolidated_wallet_is_only_their_own_workspaces(ledger: Ledger, people: dict) -> None:
    assert ledger.consolidated_wallet(people["admin"]).wallets == []
    assert len(ledger.wallets(people["admin"])) == 2


def test_description_and_feature_are_required_and_bounded(ledger: Ledger, people: dict) -> None:
    fund(ledger, people["admin"], people["acme"].id, "10")
    with pytest.raises(InvalidInput):
        ledger.consume(people["alice"], people["acme"].id, "1", feature=" ", description="x")
    with pytest.raises(InvalidInput):
        ledger.consume(people["alice"], people["acme"].id, "1", feature="AI", description="x" * 10_000)
    assert entry_count(ledger) == 1


def test_hostile_text_is_stored_verbatim(ledger: Ledger, people: dict) -> None:
    fund(ledger, people["admin"], people["acme"].id, "10")
    text = "<script>alert(1)</script>'; DROP TABLE entries; -- \u200b\u202e"
    ledger.consume(people["alice"], people["acme"].id, "1", feature="AI", description=text)
    page = ledger.history(people["alice"], people["acme"].id)
    assert page.items[0].description == text.strip()
    ledger.verify()


def test_a_wallet_can_spend_an_amount_only_when_active_and_covered():
    from datetime import datetime
    from decimal import Decimal

    from billing_core import Wallet, WalletStatus

    def wallet(balance: str, status: WalletStatus = WalletStatus.ACTIVE) -> Wallet:
        return Wallet(1, "Acme", Decimal(balance), status, datetime(2026, 11, 27))

    assert wallet("2").can_spend(Decimal("2"))
    assert not wallet("1.99").can_spend(Decimal("2"))
    assert not wallet("0").can_spend(Decimal("0.01"))
    assert not wallet("100", WalletStatus.INACTIVE).can_spend(Decimal("2"))
