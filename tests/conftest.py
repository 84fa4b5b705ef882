"""Fixtures shared by every layer of tests.

Every test that takes a ledger through these fixtures (`ledger`, `new_ledger`,
`app_ledger`, `app_as`) runs once per store: on the embedded DuckDB ledger and on
PostgreSQL (a throwaway server on loopback started once per run, each test in a
fresh database cloned from a migrated template). $BILLING_TEST_STORES=duckdb limits
a local run to one store; with CI=true a PostgreSQL server that cannot start fails
the run instead of skipping it.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import billing_core
from billing_core import Ledger, User
from billing_core.clock import CLOCK_VARIABLE, FixedClock
from billing_core.demo import seed_demo
from billing_core.settings import Settings

# Every test's "now": the demo ends here and the app's clock is pinned here, so no test
# reads the wall clock or depends on the hour it runs at.
DEMO_NOW = datetime(2026, 11, 27, 0, 0, 0)
DEMO_UNTIL = DEMO_NOW.date()  # "today" for the demo; its last full day is the 26th
# Every ledger a test opens without its own clock, here or in a child process, is pinned too.
os.environ[CLOCK_VARIABLE] = DEMO_NOW.isoformat() + "Z"
# The app's backup thread takes no scheduled backups in tests unless a test asks for them
# (it still answers `billing backup` requests; tests/unit/test_backup.py sets its own).
os.environ["BILLING_BACKUP_EVERY"] = "off"
# Webhooks to the tests' own receivers on loopback (refused by default in production).
os.environ["BILLING_WEBHOOKS_ALLOW_PRIVATE"] = "1"
REPO_ROOT = Path(__file__).resolve().parents[1]
STORES = [s for s in os.environ.get("BILLING_TEST_STORES", "duckdb,postgresql").split(",") if s]
_EMPTY_TEMPLATE = "billing_empty"
_DEMO_TEMPLATE = "billing_demo"
_numbers = itertools.count(1)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist (the `test` extra)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`pytest -n 2 --dist loadgroup` (make test): the browser tests (tests/e2e) are one unit
    of work, run by one worker in file order beside one served app and one Chromium, as in a
    serial run, while the other worker takes the ledger, page and hardening tests one by one.

    pytest-xdist's own loadgroup reads its groups from a suffix it writes into each test's
    node id, which pytest 9.2 no longer lets it change (pytest-xdist issue 1386): its groups
    are silently ignored. This groups by path on the controller, which needs no mark."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "tests/e2e" if nodeid.startswith("tests/e2e/") else nodeid

    return BrowserTestsTogether(config, log)


class PostgresForTests:
    """The run's throwaway server and its two templates: an empty migrated ledger
    and the seeded demo."""

    def __init__(self) -> None:
        from tests.pg_server import ThrowawayPostgres

        self.server = ThrowawayPostgres().start()
        url = self.server.create_database(_EMPTY_TEMPLATE)
        billing_core.open_ledger(url, create=True).close()
        url = self.server.create_database(_DEMO_TEMPLATE, template=_EMPTY_TEMPLATE)
        book = billing_core.open_ledger(url)
        seed_demo(book, now=DEMO_NOW)
        book.close()

    def fresh(self, demo: bool = False) -> tuple[str, str]:
        """(name, url) of a new database: an empty ledger, or a copy of the demo."""
        name = f"t{os.getpid()}_{next(_numbers)}"
        url = self.server.create_database(name, template=_DEMO_TEMPLATE if demo else _EMPTY_TEMPLATE)
        return name, url

    def drop(self, name: str) -> None:
        self.server.drop_database(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresForTests]:
    """The run's server; every PostgreSQL-only test takes it, so a run limited to other
    stores ($BILLING_TEST_STORES) skips them here, once."""
    if "postgresql" not in STORES:
        pytest.skip("a PostgreSQL test; this run is limited to " + ", ".join(STORES))
    try:
        server = PostgresForTests()
    except Exception as error:  # noqa: BLE001 - reported as the reason
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL could not start here (run scripts/install-postgres.sh): {error}")
    yield server
    server.server.stop()


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> str:
    """The store under test: "duckdb" or "postgresql"."""
    return str(request.param)


@pytest.fixture
def new_ledger(store: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Ledger]]:
    """`new_ledger(clock=None, demo=False, settings=None)` -> a fresh ledger on the store
    under test (several may be open at once); all are closed (and dropped) after the test."""
    opened: list[tuple[Ledger, str | None]] = []
    server: PostgresForTests | None = (
        request.getfixturevalue("postgres") if store == "postgresql" else None
    )

    def make(
        clock: Callable[[], datetime] | None = None, demo: bool = False, settings: Settings | None = None
    ) -> Ledger:
        kwargs = {"clock": clock or FakeClock(), "settings": settings}  # never the wall clock
        if server is None:
            assert not demo, "use demo_file for the DuckDB demo"
            book = billing_core.open_ledger(":memory:", **kwargs)
            opened.append((book, None))
        else:
            name, url = server.fresh(demo=demo)
            book = billing_core.open_ledger(url, **kwargs)
            opened.append((book, name))
        return book

    yield make
    for book, name in opened:
        book.close()
        if server is not None and name is not None:
            server.drop(name)


class FakeClock(FixedClock):
    """A settable clock for tests (`clock.now = ...`): naive UTC, as the ledger stores time."""

    def __init__(self, start: datetime = datetime(2026, 11, 27, 12, 0, 0)) -> None:
        super().__init__(start)


@pytest.fixture
def ledger(new_ledger: Callable[..., Ledger]) -> Ledger:
    return new_ledger()


@pytest.fixture
def ledger_location(store: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a new, empty ledger is on the store under test (a DuckDB file or a PostgreSQL
    URL), for tests that open it more than once or from another process."""
    if store == "duckdb":
        where = str(tmp_path / "ledger.duckdb")
        billing_core.open_ledger(where, create=True).close()
        yield where
        return
    server: PostgresForTests = request.getfixturevalue("postgres")
    name, url = server.fresh()
    yield url
    server.drop(name)


@pytest.fixture
def twins(store: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., tuple[Ledger, Ledger]]]:
    """`twins(clock)` -> two Ledgers on one new database where the store allows it
    (PostgreSQL: like two processes, each with its own pool and group-commit writer); on
    DuckDB, where one process owns a ledger, the one Ledger twice."""
    opened: list[Ledger] = []
    names: list[str] = []
    server: PostgresForTests | None = (
        request.getfixturevalue("postgres") if store == "postgresql" else None
    )

    def make(clock: Callable[[], datetime] | None = None) -> tuple[Ledger, Ledger]:
        ticking = clock or FakeClock()
        if server is None:
            one = billing_core.open_ledger(":memory:", clock=ticking)
            opened.append(one)
            return one, one
        name, url = server.fresh()
        names.append(name)
        pair = (billing_core.open_ledger(url, clock=ticking), billing_core.open_ledger(url, clock=ticking))
        opened.extend(pair)
        return pair

    yield make
    for book in opened:
        book.close()
    for name in names:
        assert server is not None
        server.drop(name)


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


def signed_in_as(at: object, ledger: Ledger, user: User) -> str:
    """Sign an AppTest in as `user` the way the Sign in page does: a session in the ledger
    whose token the tab holds (AppTest cannot send the browser's cookie). The token."""
    from pages import _shared

    token = ledger.start_session(user).token
    at.session_state[_shared.SESSION_KEY] = token  # type: ignore[attr-defined]
    return token


def fund(ledger: Ledger, admin: User, workspace_id: int, amount: str) -> None:
    ledger.grant_credits(admin, workspace_id, amount, description="test funding")


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo ledger, seeded once per test session (copy it before changing it)."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    book = billing_core.open_ledger(str(path), create=True)
    seed_demo(book, now=DEMO_NOW)
    book.close()
    return path


@pytest.fixture
def demo_url(store: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a fresh copy of the demo ledger is, on the store under test."""
    if store == "duckdb":
        copy = tmp_path / "billing.duckdb"
        shutil.copy(request.getfixturevalue("demo_file"), copy)
        yield str(copy)
        return
    server: PostgresForTests = request.getfixturevalue("postgres")
    name, url = server.fresh(demo=True)
    yield url
    server.drop(name)


@pytest.fixture
def app_ledger(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    """A fresh copy of the demo ledger behind the app's cached Ledger."""
    from pages import _shared

    monkeypatch.setenv("BILLING_DB", demo_url)
    monkeypatch.setenv(_shared.PAGE_ERRORS_VARIABLE, "raise")  # a bug fails the test
    monkeypatch.setenv("BILLING_DISPATCHER", "off")  # page tests send nothing in the background
    monkeypatch.setenv(CLOCK_VARIABLE, DEMO_NOW.isoformat() + "Z")
    _shared.get_ledger.clear()
    book = _shared.get_ledger()
    yield book
    _shared.get_ledger.clear()
    book.close()


@pytest.fixture
def app_as(app_ledger: Ledger) -> Callable[..., object]:
    """`app_as("alan@example.com")` -> an AppTest of app.py signed in as that person."""
    from streamlit.testing.v1 import AppTest


    def make(email: str | None, script: str = "app.py") -> AppTest:
        # from_file resolves a relative path against the calling file: anchor it at the repo
        at = AppTest.from_file(str(REPO_ROOT / script), default_timeout=30)
        if email is not None:
            user = app_ledger.user_by_email(email)
            assert user is not None, email
            signed_in_as(at, app_ledger, user)
        return at

    return make
