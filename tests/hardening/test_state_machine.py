"""Issue 4, item 3: the ledger and a plain in-memory model, run side by side by hypothesis.

Richer than tests/unit/test_properties.py: six people in three roles (admins, members of
one or both workspaces, an outsider), idempotency keys, own-request approval, hostile
amounts and unknown ids; every step predicts the exact outcome (the result or the
exception class) and, after every step, the wallets, every request's state, the journal
size, the idempotency keys and the audit counts per action must agree with the model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from billing_core import (
    IdempotencyConflict,
    InsufficientCredits,
    InvalidAmount,
    InvalidTransition,
    Ledger,
    NotFound,
    PermissionDenied,
    RequestStatus,
    WalletInactive,
)
from tests.hardening.books import audit_counts, fingerprint, history_rewritten, rows

amounts = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(300), places=4)
PEOPLE = ("ada", "grace", "alice", "bob", "carol", "dave")
ADMINS = {"ada", "grace"}
MEMBERSHIP = {"alice": {0}, "bob": {1}, "carol": {0, 1}, "dave": set()}
BAD_AMOUNTS = ["0", "-1", "NaN", "inf", None, True, "0.00001", 2**63, "1e3", "abc", "1,000", 1.5]
people = st.sampled_from(PEOPLE)
spaces = st.integers(0, 1)
keys = st.sampled_from([None, None, "k0", "k1", "k2", "k3"])


@dataclass
class Request:
    space: int
    amount: Decimal
    requester: str
    status: str = "pending"


def run_machine(size: Any, tally: Any, new_ledger: Callable[..., Ledger]) -> None:
    class LedgerVersusModel(RuleBasedStateMachine):
        @initialize()
        def setup(self) -> None:
            self.ledger = new_ledger()  # a fresh ledger on the store under test, each example
            self.users = {
                name: self.ledger.add_user(f"{name}@example.com", name.title(), admin=name in ADMINS)
                for name in PEOPLE
            }
            self.spaces = [self.ledger.create_workspace(n).id for n in ("Acme", "Beta")]
            for name, member_of in MEMBERSHIP.items():
                for i in member_of:
                    self.ledger.add_member(self.spaces[i], self.users[name].id)
            self.balance = [Decimal(0), Decimal(0)]
            self.active = [True, True]
            self.requests: dict[int, Request] = {}
            # idempotency keys belong to a workspace: (space, key) -> (amount, feature, entry id)
            self.keys: dict[tuple[int, str], tuple[Decimal, str, int]] = {}
            self.entries = 0
            self.audit: Counter[str] = audit_counts(self.ledger)
            self.history = fingerprint(self.ledger)
            self.steps = 0
            tally.add(runs=1)

        def teardown(self) -> None:
            if hasattr(self, "ledger"):
                try:
                    self.ledger.verify()
                    assert not history_rewritten(self.history, fingerprint(self.ledger))
                finally:
                    self.ledger.close()

        # ------------------------------------------------------------ helpers
        def may_use(self, who: str, i: int) -> bool:
            return who in ADMINS or i in MEMBERSHIP[who]

        def expect(self, expected: type[Exception] | None, call: Any) -> Any:
            """Run `call`; its outcome must be `expected` (an exception class, or None)."""
            self.steps += 1
            tally.add(operations=1)
            try:
                result = call()
            except Exception as error:
                assert expected is not None and isinstance(error, expected), (
                    f"expected {expected and expected.__name__}, got {type(error).__name__}: {error}"
                )
                return None
            assert expected is None, f"expected {expected.__name__}, the call succeeded"
            return result

        # -------------------------------------------------------------- rules
        @rule(who=people, i=spaces, amount=amounts, feature=st.sampled_from(["AI", "OCR"]), key=keys)
        def consume(self, who: str, i: int, amount: Decimal, feature: str, key: str | None) -> None:
            earlier = self.keys.get((i, key)) if key else None
            if not self.may_use(who, i):
                expected: type[Exception] | None = PermissionDenied
            elif earlier is not None:
                expected = None if earlier[:2] == (amount, feature) else IdempotencyConflict
            elif not self.active[i]:
                expected = WalletInactive
            elif amount > self.balance[i]:
                expected = InsufficientCredits
            else:
                expected = None
            entry = self.expect(
                expected,
                lambda: self.ledger.consume(
                    self.users[who],
                    self.spaces[i],
                    amount,
                    feature=feature,
                    description="use",
                    idempotency_key=key,
                ),
            )
            if entry is None:
                return
            if earlier is not None:
                assert entry.id == earlier[2], "a replay returned another entry"
                return
            self.balance[i] -= amount
            self.entries += 1
            self.audit["wallet.consume"] += 1
            if key:
                self.keys[(i, key)] = (amount, feature, entry.id)

        @rule(who=people, i=spaces, amount=amounts)
        def grant(self, who: str, i: int, amount: Decimal) -> None:
            expected = None if who in ADMINS else PermissionDenied
            if self.expect(
                expected,
                lambda: self.ledger.grant_credits(
                    self.users[who], self.spaces[i], amount, description="grant"
                ),
            ):
                self.balance[i] += amount
                self.entries += 1
                self.audit["wallet.grant"] += 1

        @rule(who=people, i=spaces, amount=amounts)
        def request(self, who: str, i: int, amount: Decimal) -> None:
            expected = None if self.may_use(who, i) else PermissionDenied
            made = self.expect(
                expected,
                lambda: self.ledger.request_credits(self.users[who], self.spaces[i], amount, note="please"),
            )
            if made:
                assert made.id not in self.requests
                self.requests[made.id] = Request(i, amount, who)
                self.audit["request.create"] += 1

        def decide(self, who: str, request_id: int, verdict: str) -> None:
            request = self.requests.get(request_id)
            user = self.users[who]
            if verdict == "approved":
                if who not in ADMINS:
                    expected: type[Exception] | None = PermissionDenied
                elif request is None:
                    expected = NotFound
                elif request.requester == who:
                    expected = PermissionDenied
                else:
                    expected = None if request.status == "pending" else InvalidTransition
                call = lambda: self.ledger.approve_request(user, request_id)  # noqa: E731
            elif verdict == "rejected":
                if who not in ADMINS:
                    expected = PermissionDenied
                elif request is None:
                    expected = NotFound
                else:
                    expected = None if request.status == "pending" else InvalidTransition
                call = lambda: self.ledger.reject_request(user, request_id, "no")  # noqa: E731
            else:
                if request is None:
                    expected = NotFound
                elif not self.may_use(who, request.space) or (who not in ADMINS and who != request.requester):
                    expected = PermissionDenied
                else:
                    expected = None if request.status == "pending" else InvalidTransition
                call = lambda: self.ledger.cancel_request(user, request_id)  # noqa: E731
            decided = self.expect(expected, call)
            if decided is None:
                return
            assert request is not None
            request.status = verdict
            self.audit[f"request.{verdict}"] += 1
            if verdict == "approved":  # the credit is a movement of its own, audited as one
                self.balance[request.space] += request.amount
                self.entries += 1
                self.audit["wallet.top_up"] += 1

        @precondition(lambda self: self.requests)
        @rule(data=st.data(), who=people, verdict=st.sampled_from(["approved", "rejected", "cancelled"]))
        def decide_a_known_request(self, data: st.DataObject, who: str, verdict: str) -> None:
            self.decide(who, data.draw(st.sampled_from(sorted(self.requests))), verdict)

        @rule(
            request_id=st.integers(1, 60),
            who=people,
            verdict=st.sampled_from(["approved", "rejected", "cancelled"]),
        )
        def decide_any_id(self, request_id: int, who: str, verdict: str) -> None:
            self.decide(who, request_id, verdict)

        @rule(who=people, i=spaces, active=st.booleans())
        def set_status(self, who: str, i: int, active: bool) -> None:
            expected = None if who in ADMINS else PermissionDenied
            if self.expect(
                expected,
                lambda: self.ledger.set_wallet_status(
                    self.users[who], self.spaces[i], "active" if active else "inactive"
                ),
            ):
                if self.active[i] != active:
                    self.audit["wallet.status"] += 1
                self.active[i] = active

        @rule(
            who=people,
            i=spaces,
            amount=st.sampled_from(BAD_AMOUNTS),
            op=st.sampled_from(["consume", "grant", "request"]),
        )
        def hostile_amount(self, who: str, i: int, amount: object, op: str) -> None:
            user, space = self.users[who], self.spaces[i]
            calls = {
                "consume": lambda: self.ledger.consume(user, space, amount, feature="AI", description="x"),
                "grant": lambda: self.ledger.grant_credits(user, space, amount, description="x"),
                "request": lambda: self.ledger.request_credits(user, space, amount),
            }
            self.expect(InvalidAmount, calls[op])

        # --------------------------------------------------------- invariants
        @invariant()
        def agrees_with_the_model(self) -> None:
            if not hasattr(self, "ledger"):
                return
            admin = self.users["ada"]
            for i, space in enumerate(self.spaces):
                wallet = self.ledger.wallet(admin, space)
                assert wallet.balance == self.balance[i], (i, wallet.balance, self.balance[i])
                assert (wallet.status.value == "active") == self.active[i]
            stored = {r.id: (r.status.value, r.amount, r.workspace_id) for r in self.ledger.requests(admin)}
            model = {i: (r.status, r.amount, self.spaces[r.space]) for i, r in self.requests.items()}
            assert stored == model
            pending = {r.id for r in self.ledger.requests(admin, status=RequestStatus.PENDING)}
            assert pending == {i for i, r in self.requests.items() if r.status == "pending"}
            n_entries, n_keys = rows(
                self.ledger, "SELECT (SELECT count(*) FROM entries), (SELECT count(*) FROM idempotency_keys)"
            )[0]
            assert (n_entries, n_keys) == (self.entries, len(self.keys))
            assert +audit_counts(self.ledger) == +self.audit

        @invariant()
        def books_balance(self) -> None:
            if hasattr(self, "ledger") and (size.full or self.steps % 5 == 0):
                self.ledger.verify()

    run_state_machine_as_test(
        LedgerVersusModel,
        settings=settings(
            max_examples=size.pick(15, 200),
            stateful_step_count=size.pick(20, 50),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=not size.full,
        ),
    )


def test_ledger_agrees_with_a_model_after_every_step(size, tally, new_ledger) -> None:
    try:
        run_machine(size, tally, new_ledger)
    except Exception as error:
        tally.problem(f"{type(error).__name__}: {error}")  # hypothesis has shrunk it
        raise
