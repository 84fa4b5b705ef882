"""Property: any sequence of operations keeps the books balanced and matches a simple model."""

from collections.abc import Callable
from decimal import Decimal
from typing import ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from billing_core import (
    BillingError,
    InsufficientCredits,
    InvalidTransition,
    Ledger,
    RequestStatus,
    WalletInactive,
)
from tests.machines import run_machine

amounts = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(500), places=4)


class LedgerMachine(RuleBasedStateMachine):
    # the `new_ledger` factory of the store under test, set by the test below
    new_ledger: ClassVar[Callable[..., Ledger]]

    @initialize()
    def setup(self) -> None:
        self.ledger = type(self).new_ledger()  # a fresh ledger for every example
        self.admin = self.ledger.add_user("ada@example.com", "Ada", admin=True)
        self.member = self.ledger.add_user("m@example.com", "Mem")
        self.spaces = [self.ledger.create_workspace(n).id for n in ("A", "B")]
        for space in self.spaces:
            self.ledger.add_member(space, self.member.id)
        self.balances = {s: Decimal(0) for s in self.spaces}
        self.active = {s: True for s in self.spaces}
        self.pending: dict[int, tuple[int, Decimal]] = {}

    def teardown(self) -> None:
        self.ledger.close()

    @rule(i=st.integers(0, 1), amount=amounts)
    def consume(self, i: int, amount: Decimal) -> None:
        space = self.spaces[i]
        try:
            self.ledger.consume(self.member, space, amount, feature="AI", description="x")
        except WalletInactive:
            assert not self.active[space]
            return
        except InsufficientCredits:
            assert self.active[space] and amount > self.balances[space]
            return
        assert self.active[space] and amount <= self.balances[space]
        self.balances[space] -= amount

    @rule(i=st.integers(0, 1), amount=amounts)
    def grant(self, i: int, amount: Decimal) -> None:
        self.ledger.grant_credits(self.admin, self.spaces[i], amount, description="g")
        self.balances[self.spaces[i]] += amount

    @rule(i=st.integers(0, 1), amount=amounts)
    def request(self, i: int, amount: Decimal) -> None:
        request = self.ledger.request_credits(self.member, self.spaces[i], amount)
        self.pending[request.id] = (self.spaces[i], amount)

    @precondition(lambda self: self.pending)
    @rule(data=st.data(), verdict=st.sampled_from(["approve", "reject", "cancel"]))
    def decide(self, data: st.DataObject, verdict: str) -> None:
        request_id = data.draw(st.sampled_from(sorted(self.pending)))
        space, amount = self.pending.pop(request_id)
        if verdict == "approve":
            self.ledger.approve_request(self.admin, request_id)
            self.balances[space] += amount
        elif verdict == "reject":
            self.ledger.reject_request(self.admin, request_id, "no")
        else:
            self.ledger.cancel_request(self.member, request_id)

    @rule(request_id=st.integers(1, 30), verdict=st.sampled_from(["approve", "reject", "cancel"]))
    def decide_anything(self, request_id: int, verdict: str) -> None:
        """Deciding an unknown or already-decided request is refused and changes nothing."""
        if request_id in self.pending:
            return
        try:
            if verdict == "approve":
                self.ledger.approve_request(self.admin, request_id)
            elif verdict == "reject":
                self.ledger.reject_request(self.admin, request_id, "no")
            else:
                self.ledger.cancel_request(self.admin, request_id)
        except (InvalidTransition, BillingError):
            return
        raise AssertionError("a decided or unknown request changed")

    @rule(i=st.integers(0, 1), active=st.booleans())
    def set_status(self, i: int, active: bool) -> None:
        self.ledger.set_wallet_status(self.admin, self.spaces[i], "active" if active else "inactive")
        self.active[self.spaces[i]] = active

    @invariant()
    def agrees_with_model(self) -> None:
        if not hasattr(self, "ledger"):
            return
        for space, expected in self.balances.items():
            assert self.ledger.wallet(self.admin, space).balance == expected
        pending = self.ledger.requests(self.admin, status=RequestStatus.PENDING)
        assert {r.id for r in pending} == set(self.pending)

    @invariant()
    def books_balance(self) -> None:
        if hasattr(self, "ledger"):
            self.ledger.verify()


def test_ledger_state_machine(new_ledger: Callable[..., Ledger]) -> None:
    run_machine(LedgerMachine, new_ledger, examples=40, steps=25)
