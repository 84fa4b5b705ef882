"""The two stores give the same answers: every analytics read (what the charts draw) and
the history, over the same demo ledger on DuckDB and on PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import billing_core
from billing_core import Ledger
from tests.conftest import DEMO_UNTIL, FakeClock, PostgresForTests

START = date(2026, 6, 1)


@pytest.fixture
def both(demo_file: Path, postgres: PostgresForTests, tmp_path: Path) -> object:
    import shutil

    copy = tmp_path / "demo.duckdb"
    shutil.copy(demo_file, copy)
    name, url = postgres.fresh(demo=True)
    clock = FakeClock()  # the same "today" on both sides
    duck = billing_core.open_ledger(str(copy), clock=clock)
    server = billing_core.open_ledger(url, clock=clock)
    yield duck, server
    duck.close()
    server.close()
    postgres.drop(name)


def _plain(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    """The values, whatever the column dtypes (Arrow decimal width may differ)."""
    return [tuple(row) for row in frame.astype(object).itertuples(index=False)]


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
@pytest.mark.parametrize("who", ["ada@example.com", "alan@example.com"])
def test_every_chart_reads_the_same_on_both_stores(
    both: tuple[Ledger, Ledger], granularity: str, who: str
) -> None:
    duck, server = both
    actor = duck.user_by_email(who)
    assert actor is not None
    space = duck.wallets(actor)[0].wallet.workspace_id
    reads = {
        "spend_by_feature": lambda b: b.spend_by_feature(actor, START, DEMO_UNTIL, granularity),
        "spend_by_workspace": lambda b: b.spend_by_workspace(actor, START, DEMO_UNTIL, granularity),
        "credits_vs_debits": lambda b: b.credits_vs_debits(actor, START, DEMO_UNTIL, granularity),
        "balance_over_time": lambda b: b.balance_over_time(actor, space, START, DEMO_UNTIL),
        "wallet_overview": lambda b: b.wallet_overview(actor),
        "top_consumers": lambda b: b.top_consumers(actor, START, DEMO_UNTIL),
    }
    for name, read in reads.items():
        left, right = read(duck), read(server)
        assert list(left.columns) == list(right.columns), name
        assert len(left) > 0, name
        assert _plain(left) == _plain(right), name
    assert duck.burn_rate(actor, space) == server.burn_rate(actor, space)
    assert duck.history(actor, space, limit=200) == server.history(actor, space, limit=200)


def test_the_administrators_pages_read_the_same_on_both_stores(both: tuple[Ledger, Ledger]) -> None:
    """People & workspaces and the Audit log (issue 11) over the same demo on each store."""
    duck, server = both
    ada = duck.user_by_email("ada@example.com")
    assert ada is not None
    assert duck.people(ada) == server.people(ada)
    assert duck.workspaces(ada, include_archived=True) == server.workspaces(ada, include_archived=True)
    space = duck.workspaces(ada)[0].id
    assert duck.members(ada, space) == server.members(ada, space)
    for filters in ({}, {"action": "request.approved"}, {"workspace_id": space, "search": "digest"},
                    {"since": date(2026, 11, 20), "until": DEMO_UNTIL}):
        left, right = duck.audit_events(ada, **filters), server.audit_events(ada, **filters)
        assert list(left.columns) == list(right.columns)
        assert len(left) > 0, filters
        assert _plain(left.drop(columns="id")) == _plain(right.drop(columns="id")), filters
