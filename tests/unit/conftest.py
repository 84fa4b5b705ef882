"""Fixtures shared by the grant tests (test_grants, test_corrections_with_grants)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from billing_core import Ledger
from tests.conftest import FakeClock

GRANTS_NOW = datetime(2026, 11, 27, 12, 0, 0)


@pytest.fixture
def book(new_ledger: Callable[..., Ledger]) -> tuple[Ledger, FakeClock, dict]:
    """A ledger on a clock the test moves: two administrators (Ada, Grace), Alice, and Acme
    with Alice as its member."""
    clock = FakeClock(GRANTS_NOW)
    ledger = new_ledger(clock=clock)
    admin = ledger.add_user("ada@example.com", "Ada", admin=True)
    admin2 = ledger.add_user("grace@example.com", "Grace", admin=True)
    alice = ledger.add_user("alice@example.com", "Alice")
    space = ledger.create_workspace("Acme").id
    ledger.add_member(space, alice.id)
    return ledger, clock, {"admin": admin, "admin2": admin2, "alice": alice, "space": space}
