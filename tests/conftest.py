"""Fixtures shared by every layer of tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

import billing_core
from billing_core import Ledger, User
from billing_core.demo import seed_demo

DEMO_UNTIL = date(2026, 11, 27)
REPO_ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    """A settable clock for tests: naive UTC datetimes, as the ledger stores time."""

    def __init__(self, start: datetime = datetime(2026, 11, 27, 12, 0, 0)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    book = billing_core.open_ledger(":memory:")
    yield book
    book.close()


@pytest.fixture
def people(ledger: Ledger) -> dict[str, object]:
    """Two workspaces, two admins, a member of each, and a member of both."""
    admin = ledger.add_user("ada@example.com", "Ada", admin=True)
    admin2 = ledger.add_user("grace@example.com", "Grace", admin=True)
    alice = ledger.add_user("alice@example.com", "Alice")
    bob = ledger.add_user("bob@example.com", "Bob")
    carol = ledger.add_user("carol@example.com", "Carol")
    acme = ledger.create_workspace("Acme")
    beta = ledger.create_workspace("Beta")
    ledger.add_member(acme.id, alice.id)
    ledger.add_member(beta.id, bob.id)
    ledger.add_member(acme.id, carol.id)
    ledger.add_member(beta.id, carol.id)
    return {"admin": admin, "admin2": admin2, "alice": alice, "bob": bob, "carol": carol,
            "acme": acme, "beta": beta}


def fund(ledger: Ledger, admin: User, workspace_id: int, amount: str) -> None:
    ledger.grant_credits(admin, workspace_id, amount, description="test funding")


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo ledger, seeded once per test session (copy it before changing it)."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    book = billing_core.open_ledger(str(path))
    seed_demo(book, until=DEMO_UNTIL)
    book.close()
    return path


@pytest.fixture
def app_ledger(demo_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    """A fresh copy of the demo ledger behind the app's cached Ledger."""
    from pages import _shared

    copy = tmp_path / "billing.duckdb"
    shutil.copy(demo_file, copy)
    monkeypatch.setenv("BILLING_DB", str(copy))
    _shared.get_ledger.clear()
    book = _shared.get_ledger()
    yield book
    _shared.get_ledger.clear()
    book.close()


@pytest.fixture
def app_as(app_ledger: Ledger) -> Callable[..., object]:
    """`app_as("alan@example.com")` -> an AppTest of app.py signed in as that person."""
    from streamlit.testing.v1 import AppTest

    from pages import _shared

    def make(email: str | None, script: str = "app.py") -> AppTest:
        # from_file resolves a relative path against the calling file: anchor it at the repo
        at = AppTest.from_file(str(REPO_ROOT / script), default_timeout=30)
        if email is not None:
            user = app_ledger.user_by_email(email)
            assert user is not None, email
            at.session_state[_shared.USER_KEY] = user.id
        return at

    return make
