"""Property: grants against a reference model. Any sequence of grants (any kind, priority and
expiry), debits, requests and decisions, clock moves, expiry jobs, status changes,
policies (standing approval, automatic top-up) and corrections of grants and debits draws
down exactly as the documented order says, gives a corrected debit's draws back where
admin_credits says, expires each grant once with what was left of it, files and approves top-ups
exactly as the policy says, and keeps `verify()` passing after every step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
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

from billing_core import InsufficientCredits, InvalidInput, Ledger, RequestStatus, WalletInactive
from billing_core.grant_rules import month_of
from billing_core.models import GrantKind
from tests.conftest import FakeClock
from tests.hardening.books import rows
from tests.machines import run_machine

START = datetime(2026, 11, 27, 12, 0, 0)  # a few days before a month ends: the monthly caps roll
amounts = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(300), places=4)
kinds = st.sampled_from(list(GrantKind))
priorities = st.one_of(st.none(), st.integers(0, 30))
lifetimes = st.one_of(st.none(), st.integers(1, 240))  # hours until the grant expires


@dataclass(frozen=True)
class ModelGrant:
    id: int
    kind: GrantKind
    priority: int
    remaining: Decimal
    expires_at: datetime | None

    @property
    def order(self) -> tuple[int, bool, datetime, int]:
        return (self.priority, self.expires_at is None, self.expires_at or datetime.min, self.id)


@dataclass(frozen=True)
class Policy:
    up_to: Decimal | None
    per_month: Decimal | None
    below: Decimal | None
    amount: Decimal | None
    times: int | None
    kind: GrantKind
    days: int | None


class GrantsMachine(RuleBasedStateMachine):
    new_ledger: ClassVar[Callable[..., Ledger]]

    @initialize()
    def setup(self) -> None:
        self.clock = FakeClock(START)
        self.ledger = type(self).new_ledger(clock=self.clock)
        self.admin = self.ledger.add_user("ada@example.com", "Ada", admin=True)
        self.member = self.ledger.add_user("m@example.com", "Mem")
        self.spaces = [self.ledger.create_workspace(n).id for n in ("A", "B")]
        for space in self.spaces:
            self.ledger.add_member(space, self.member.id)
        self.grants: dict[int, dict[int, ModelGrant]] = {s: {} for s in self.spaces}
        self.active = {s: True for s in self.spaces}
        self.policy: dict[int, Policy | None] = {s: None for s in self.spaces}
        self.pending: dict[int, tuple[int, Decimal, bool]] = {}  # request -> space, amount, automatic
        self.by_policy: list[tuple[int, datetime, Decimal]] = []  # approvals by the policy
        self.automatic: list[tuple[int, datetime]] = []  # automatic requests filed
        self.terms: dict[int, tuple[GrantKind, int, datetime | None]] = {}  # every grant's, by id
        self.correctable: dict[int, tuple[int, list[tuple[int, Decimal]], bool]] = {}  # entry ->
        # space, its wallet pieces (grant, amount), and whether it is a credit
        self.expired: dict[int, Decimal] = {}  # grant -> what it expires with

    def teardown(self) -> None:
        if hasattr(self, "ledger"):
            self.ledger.close()

    # ------------------------------------------------------------------ the model

    def live(self, space: int) -> list[ModelGrant]:
        """The space's grants as they are now: the due ones have expired (whenever the
        ledger writes it, nothing can draw from them any more)."""
        for grant in list(self.grants[space].values()):
            if grant.expires_at is not None and grant.expires_at <= self.clock.now:
                self.expired[grant.id] = grant.remaining
                del self.grants[space][grant.id]
        return sorted(self.grants[space].values(), key=lambda g: g.order)

    def balance(self, space: int) -> Decimal:
        return sum((g.remaining for g in self.live(space)), Decimal(0))

    def add(self, space: int, grant_id: int, kind: GrantKind, priority: int | None, amount: Decimal,
            expires_at: datetime | None) -> None:
        defaults = {GrantKind.PROMOTIONAL: 10, GrantKind.PURCHASED: 20}
        chosen = defaults[kind] if priority is None else priority
        self.grants[space][grant_id] = ModelGrant(grant_id, kind, chosen, amount, expires_at)
        self.terms[grant_id] = (kind, chosen, expires_at)

    def made_by(self, entry_id: int) -> int:
        (made,) = self.ledger.draws(self.admin, entry_id)
        return made.grant_id

    def standing(self, space: int, request_id: int, amount: Decimal) -> bool:
        """The policy approves the request now: (approved?) and the grant it made."""
        policy = self.policy[space]
        if policy is None or policy.up_to is None or policy.per_month is None or amount > policy.up_to:
            return False
        first, after = month_of(self.clock.now)
        used = sum((a for s, when, a in self.by_policy if s == space and first <= when < after), Decimal(0))
        if used + amount > policy.per_month:
            return False
        self.by_policy.append((space, self.clock.now, amount))
        request = self.ledger.credit_request(self.admin, request_id)
        assert request.status is RequestStatus.APPROVED and request.by_policy and request.decided_by == 0
        assert request.entry_id is not None
        ends = self.clock.now + timedelta(days=policy.days) if policy.days else None
        self.add(space, self.made_by(request.entry_id), policy.kind, None, amount, ends)
        return True

    def filed(self, space: int, request_id: int, amount: Decimal, automatic: bool) -> None:
        self.live(space)
        if not self.standing(space, request_id, amount):
            self.pending[request_id] = (space, amount, automatic)

    # ------------------------------------------------------------------ rules

    @rule(i=st.integers(0, 1), amount=amounts, kind=kinds, priority=priorities, hours=lifetimes)
    def grant(
        self, i: int, amount: Decimal, kind: GrantKind, priority: int | None, hours: int | None
    ) -> None:
        space = self.spaces[i]
        ends = self.clock.now + timedelta(hours=hours) if hours else None
        entry = self.ledger.grant_credits(self.admin, space, amount, description="g", kind=kind,
                                          priority=priority, expires_at=ends)
        self.live(space)
        self.add(space, self.made_by(entry.id), kind, priority, amount, ends)
        self.correctable[entry.id] = (space, [(self.made_by(entry.id), amount)], True)

    @rule(i=st.integers(0, 1), amount=amounts)
    def consume(self, i: int, amount: Decimal) -> None:
        space = self.spaces[i]
        live = self.live(space)
        have = sum((g.remaining for g in live), Decimal(0))
        try:
            entry = self.ledger.consume(self.member, space, amount, feature="AI", description="x")
        except WalletInactive:
            assert not self.active[space]
            return
        except InsufficientCredits:
            assert self.active[space] and amount > have
            return
        assert self.active[space] and amount <= have
        expected: list[tuple[int, Decimal]] = []
        left = amount
        for grant in live:  # the documented order
            if left <= 0:
                break
            take = min(left, grant.remaining)
            expected.append((grant.id, take))
            left -= take
            if take == grant.remaining:
                del self.grants[space][grant.id]
            else:
                self.grants[space][grant.id] = replace(grant, remaining=grant.remaining - take)
        assert [(d.grant_id, d.amount) for d in self.ledger.draws(self.member, entry.id)] == expected
        self.correctable[entry.id] = (space, expected, False)
        self.top_up(space)

    def top_up(self, space: int) -> None:
        policy = self.policy[space]
        if policy is None or policy.below is None or policy.amount is None or policy.times is None:
            return
        if self.balance(space) >= policy.below:
            return
        first, after = month_of(self.clock.now)
        if any(s == space and auto for s, _, auto in self.pending.values()):
            return
        if sum(1 for s, when in self.automatic if s == space and first <= when < after) >= policy.times:
            return
        self.automatic.append((space, self.clock.now))
        newest = max(r.id for r in self.ledger.requests(self.admin, workspace_id=space))
        request = self.ledger.credit_request(self.admin, newest)
        assert request.automatic and request.amount == policy.amount and request.requested_by == 0
        self.filed(space, request.id, policy.amount, automatic=True)

    @rule(i=st.integers(0, 1), amount=amounts)
    def request(self, i: int, amount: Decimal) -> None:
        space = self.spaces[i]
        request = self.ledger.request_credits(self.member, space, amount)
        self.filed(space, request.id, amount, automatic=False)

    @precondition(lambda self: self.pending)
    @rule(data=st.data(), verdict=st.sampled_from(["approve", "reject", "cancel"]), kind=kinds,
          hours=lifetimes)
    def decide(self, data: st.DataObject, verdict: str, kind: GrantKind, hours: int | None) -> None:
        request_id = data.draw(st.sampled_from(sorted(self.pending)))
        space, amount, _ = self.pending.pop(request_id)
        if verdict == "approve":
            ends = self.clock.now + timedelta(hours=hours) if hours else None
            done = self.ledger.approve_request(self.admin, request_id, kind=kind, expires_at=ends)
            assert done.entry_id is not None
            self.live(space)
            self.add(space, self.made_by(done.entry_id), kind, None, amount, ends)
        elif verdict == "reject":
            self.ledger.reject_request(self.admin, request_id, "no")
        else:
            self.ledger.cancel_request(self.admin, request_id)

    @precondition(lambda self: self.correctable)
    @rule(data=st.data())
    def correct(self, data: st.DataObject) -> None:
        """Reverse a grant (its own grant first, then the order) or a debit (each draw back to
        its grant while live, an expired one's share as a new grant without expiry)."""
        entry_id = data.draw(st.sampled_from(sorted(self.correctable)))
        space, pieces, credit = self.correctable.pop(entry_id)
        live = self.live(space)
        amount = sum((a for _, a in pieces), Decimal(0))
        if credit:
            (made, _), = pieces
            have = sum((g.remaining for g in live), Decimal(0))
            if amount > have:
                try:
                    self.ledger.correct_entry(self.admin, entry_id, reason="r")
                except InvalidInput:
                    return
                raise AssertionError("a correction took a wallet below zero")
            fix = self.ledger.correct_entry(self.admin, entry_id, reason="r")
            expected: dict[int, Decimal] = {}
            left = amount
            for grant in sorted(live, key=lambda g: (g.id != made, g.order)):  # its own grant first
                if left <= 0:
                    break
                take = min(left, grant.remaining)
                expected[grant.id] = take
                left -= take
                if take == grant.remaining:
                    del self.grants[space][grant.id]
                else:
                    self.grants[space][grant.id] = replace(grant, remaining=grant.remaining - take)
            assert {d.grant_id: d.amount for d in self.ledger.draws(self.admin, fix.id)} == expected
            return
        fix = self.ledger.correct_entry(self.admin, entry_id, reason="r")
        back = {d.grant_id: d.amount for d in self.ledger.draws(self.admin, fix.id)}
        now = self.clock.now
        expired = []
        for grant_id, share in pieces:
            kind, priority, ends = self.terms[grant_id]
            if ends is None or ends > now:  # live: back to it
                spent = ModelGrant(grant_id, kind, priority, Decimal(0), ends)  # used up: live again
                held = self.grants[space].get(grant_id) or spent
                self.grants[space][grant_id] = replace(held, remaining=held.remaining + share)
                assert back.pop(grant_id) == share
            else:
                expired.append((priority, ends, grant_id, kind, share))
        assert len(back) == len(expired)
        for (priority, _, _, kind, share), new_id in zip(sorted(expired), sorted(back), strict=True):
            assert back[new_id] == share
            self.add(space, new_id, kind, priority, share, None)

    @rule(hours=st.integers(1, 96))
    def advance(self, hours: int) -> None:
        self.clock.now += timedelta(hours=hours)

    @rule()
    def expiry_job(self) -> None:
        due = {g.id: g.remaining for s in self.spaces for g in self.grants[s].values()
               if g.expires_at is not None and g.expires_at <= self.clock.now}
        done = self.ledger.expire_due()
        gone = {d.grant_id: d.amount for t in done for d in self.ledger.draws(self.admin, t.id)}
        written = {g for (g,) in rows(self.ledger, "SELECT grant_id FROM postings p JOIN entries e "
                                                   "ON e.id = p.entry_id WHERE e.kind = 'expiry' "
                                                   "AND p.grant_id IS NOT NULL")}
        assert set(gone) <= set(due) | set(self.expired)
        assert set(due) <= written  # every due grant has its expiry now
        for space in self.spaces:
            self.live(space)

    @rule(i=st.integers(0, 1), active=st.booleans())
    def set_status(self, i: int, active: bool) -> None:
        self.ledger.set_wallet_status(self.admin, self.spaces[i], "active" if active else "inactive")
        self.active[self.spaces[i]] = active

    @rule(i=st.integers(0, 1), up_to=st.one_of(st.none(), st.integers(1, 200)),
          below=st.one_of(st.none(), st.integers(1, 300)), amount=st.integers(1, 300),
          times=st.integers(1, 3), kind=kinds, days=st.one_of(st.none(), st.integers(1, 5)))
    def set_policy(self, i: int, up_to: int | None, below: int | None, amount: int, times: int,
                   kind: GrantKind, days: int | None) -> None:
        policy = Policy(
            up_to=None if up_to is None else Decimal(up_to),
            per_month=None if up_to is None else Decimal(up_to * 2),
            below=None if below is None else Decimal(below),
            amount=None if below is None else Decimal(amount),
            times=None if below is None else times,
            kind=kind,
            days=days,
        )
        self.ledger.set_credit_policy(
            self.admin, self.spaces[i], approve_up_to=policy.up_to, approve_per_month=policy.per_month,
            top_up_below=policy.below, top_up_amount=policy.amount, top_ups_per_month=policy.times,
            grant_kind=kind.value, grant_days=days,
        )
        self.policy[self.spaces[i]] = policy

    # ------------------------------------------------------------------ invariants

    @invariant()
    def agrees_with_the_model(self) -> None:
        if not hasattr(self, "ledger"):
            return
        now = self.clock.now
        for space in self.spaces:
            listed = self.ledger.grants(self.admin, space)
            # the ledger's view as of now: a due grant it has not written off yet is not there to draw
            current = [g for g in listed if g.expires_at is None or g.expires_at.replace(tzinfo=None) > now]
            assert [(g.id, g.kind, g.priority, g.remaining) for g in current] == [
                (g.id, g.kind, g.priority, g.remaining) for g in self.live(space)]
            due = sum((g.remaining for g in listed if g not in current), Decimal(0))
            assert self.ledger.wallet(self.admin, space).balance - due == self.balance(space)
        pending = self.ledger.requests(self.admin, status=RequestStatus.PENDING)
        assert {r.id for r in pending} == set(self.pending)
        expiries = rows(self.ledger, "SELECT p.grant_id, e.amount FROM entries e JOIN postings p "
                                     "ON p.entry_id = e.id AND p.grant_id IS NOT NULL "
                                     "WHERE e.kind = 'expiry'")
        for grant_id, amount in expiries:
            assert self.expired.get(grant_id) == amount  # what was left of it when it came due

    @invariant()
    def books_balance(self) -> None:
        if hasattr(self, "ledger"):
            self.ledger.verify()


def test_grants_state_machine(new_ledger: Callable[..., Ledger]) -> None:
    run_machine(GrantsMachine, new_ledger, examples=20, steps=30)
