from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from billing_core import InvalidInput, Ledger, PermissionDenied
from billing_core.analytics import run_out_date
from tests.conftest import FakeClock


@pytest.fixture
def history(new_ledger: Callable[..., Ledger]) -> tuple[Ledger, dict]:
    """Ten days of known spend in two workspaces."""
    clock = FakeClock(datetime(2026, 11, 1, 8, 0))
    ledger = new_ledger(clock=clock)
    admin = ledger.add_user("ada@example.com", "Ada", admin=True)
    alice = ledger.add_user("alice@example.com", "Alice")
    bob = ledger.add_user("bob@example.com", "Bob")
    acme, beta = ledger.create_workspace("Acme"), ledger.create_workspace("Beta")
    ledger.add_member(acme.id, alice.id)
    ledger.add_member(beta.id, bob.id)
    ledger.grant_credits(admin, acme.id, "1000", description="start")
    ledger.grant_credits(admin, beta.id, "1000", description="start")
    for day in range(10):
        clock.now = datetime(2026, 11, 1 + day, 10, 0)
        ledger.consume(alice, acme.id, "10", feature="AI chat", description="x")
        ledger.consume(alice, acme.id, "2.5", feature="Exports", description="x")
        ledger.consume(bob, beta.id, "1", feature="AI chat", description="x")
    clock.now = datetime(2026, 11, 10, 18, 0)
    return ledger, {"admin": admin, "alice": alice, "bob": bob, "acme": acme, "beta": beta}


def test_spend_by_feature_sums_debits(history: tuple) -> None:
    ledger, p = history
    frame = ledger.spend_by_feature(p["alice"], date(2026, 11, 1), date(2026, 11, 30), "month")
    rows = {r.feature: (r.spent, r.uses) for r in frame.itertuples()}
    assert rows == {"AI chat": (Decimal(100), 10), "Exports": (Decimal(25), 10)}
    assert isinstance(frame["spent"].iloc[0], Decimal)


def test_members_see_only_their_workspaces(history: tuple) -> None:
    ledger, p = history
    frame = ledger.spend_by_workspace(p["bob"], date(2026, 11, 1), date(2026, 11, 30), "week")
    assert set(frame["workspace"]) == {"Beta"}
    assert sum(frame["spent"]) == Decimal(10)
    everything = ledger.spend_by_workspace(p["admin"], date(2026, 11, 1), date(2026, 11, 30), "month")
    assert dict(zip(everything["workspace"], everything["spent"], strict=True)) == {
        "Acme": Decimal(125),
        "Beta": Decimal(10),
    }
    with pytest.raises(PermissionDenied):
        ledger.spend_by_feature(p["bob"], date(2026, 11, 1), date(2026, 11, 30), workspace_id=p["acme"].id)


def test_daily_granularity_and_credits_vs_debits(history: tuple) -> None:
    ledger, p = history
    daily = ledger.spend_by_feature(p["alice"], date(2026, 11, 3), date(2026, 11, 4))
    assert len(daily) == 4 and sum(daily["spent"]) == Decimal(25)
    both = ledger.credits_vs_debits(p["admin"], date(2026, 11, 1), date(2026, 11, 1))
    assert dict(zip(both["kind"], both["amount"], strict=True)) == {
        "credit": Decimal(2000),
        "debit": Decimal("13.5"),
    }


def test_balance_over_time_ends_at_the_current_balance(history: tuple) -> None:
    ledger, p = history
    frame = ledger.balance_over_time(p["alice"], p["acme"].id, date(2026, 10, 30), date(2026, 11, 10))
    balances = dict(zip(frame["day"], frame["balance"], strict=True))
    assert balances[date(2026, 10, 31)] == 0
    assert balances[date(2026, 11, 1)] == Decimal("987.5")
    assert balances[date(2026, 11, 10)] == Decimal(875)
    assert ledger.wallet(p["alice"], p["acme"].id).balance == Decimal(875)


def test_burn_rate_and_run_out_date(history: tuple) -> None:
    ledger, p = history
    rate = ledger.burn_rate(p["alice"], p["acme"].id, days=10)
    assert rate.spent == Decimal(125) and rate.per_day == Decimal("12.5")
    assert rate.runs_out_on == date(2026, 11, 10) + timedelta(days=70)
    overview = ledger.wallet_overview(p["admin"], days=10)
    assert list(overview["workspace"]) == ["Acme", "Beta"]
    today = date(2026, 11, 10)
    assert list(overview["runs_out_on"]) == [today + timedelta(days=70), today + timedelta(days=990)]


@pytest.mark.parametrize(
    ("balance", "per_day", "expected"),
    [
        ("0", "5", date(2026, 1, 1)),
        ("10", "0", None),
        ("10", "3", date(2026, 1, 5)),
        ("1000000", "0.0001", None),
    ],
)
def test_run_out_date(balance: str, per_day: str, expected: date | None) -> None:
    assert run_out_date(Decimal(balance), Decimal(per_day), date(2026, 1, 1)) == expected


def test_top_consumers(history: tuple) -> None:
    ledger, p = history
    top = ledger.top_consumers(p["admin"], date(2026, 11, 1), date(2026, 11, 30))
    assert list(top["email"]) == ["alice@example.com", "bob@example.com"]
    assert list(top["spent"]) == [Decimal(125), Decimal(10)]
    assert list(ledger.top_consumers(p["bob"], date(2026, 11, 1), date(2026, 11, 30))["email"]) == [
        "bob@example.com"
    ]


@pytest.mark.parametrize(
    "args",
    [
        (date(2026, 11, 5), date(2026, 11, 1), "day"),
        (date(2026, 1, 1), date(2026, 2, 1), "hour"),
        (date(2000, 1, 1), date(2026, 1, 1), "day"),
    ],
)
def test_bad_ranges_are_refused(history: tuple, args: tuple) -> None:
    ledger, p = history
    with pytest.raises(InvalidInput):
        ledger.spend_by_feature(p["admin"], *args)


def test_rollups_agree_with_entries_before_and_after_compaction(history: tuple) -> None:
    ledger, p = history
    for _ in range(3):  # three more rows for one key on the last day
        ledger.consume(p["alice"], p["acme"].id, "1", feature="AI chat", description="x")
    before = ledger.spend_by_workspace(p["admin"], date(2026, 11, 1), date(2026, 11, 30), "month")
    with ledger.db.reading() as cur:
        rows_before = cur.execute("SELECT count(*) FROM daily_rollups").fetchone()[0]
    merged = ledger.compact_rollups(date(2026, 11, 1))
    with ledger.db.reading() as cur:
        rows_after = cur.execute("SELECT count(*) FROM daily_rollups").fetchone()[0]
        repeated = cur.execute(
            """
            SELECT count(*) FROM (SELECT workspace_id, feature, day FROM daily_rollups
                                  WHERE day >= ? GROUP BY 1, 2, 3 HAVING count(*) > 1) t
            """,
            [date(2026, 11, 1)],
        ).fetchone()[0]
    assert merged == rows_before - rows_after >= 3  # at least the three new deltas
    assert repeated == 0  # one row per key (and per workspace and day for the totals)
    after = ledger.spend_by_workspace(p["admin"], date(2026, 11, 1), date(2026, 11, 30), "month")
    assert before.equals(after)
    ledger.verify()


def test_verify_catches_a_rollup_that_disagrees(history: tuple) -> None:
    from billing_core import LedgerCorrupt

    ledger, _ = history
    with ledger.db.writing() as cur:  # one rollup row per key in this history: change the first
        key = cur.execute(
            "SELECT workspace_id, feature, day FROM daily_rollups ORDER BY day, workspace_id, feature LIMIT 1"
        ).fetchone()
        cur.execute(
            "UPDATE daily_rollups SET debits = debits + 1 WHERE workspace_id = ? AND feature = ? AND day = ?",
            list(key),
        )
    with pytest.raises(LedgerCorrupt, match="rollups"):
        ledger.verify()


def test_verify_catches_a_daily_total_that_disagrees(history: tuple) -> None:
    from billing_core import LedgerCorrupt

    ledger, _ = history
    with ledger.db.writing() as cur:  # the totals are rows without a feature
        cur.execute(
            "UPDATE daily_rollups SET debits = debits + 1 WHERE feature IS NULL AND workspace_id = ("
            "SELECT min(workspace_id) FROM daily_rollups WHERE feature IS NULL)"
        )
    with pytest.raises(LedgerCorrupt, match="daily totals"):
        ledger.verify()


def test_workspace_charts_read_the_totals_and_agree_with_the_features(history: tuple) -> None:
    ledger, p = history
    start, end = date(2026, 10, 1), date(2026, 11, 30)
    by_feature = ledger.spend_by_feature(p["admin"], start, end, "month")
    by_workspace = ledger.spend_by_workspace(p["admin"], start, end, "month")
    assert len(by_workspace) and sum(by_feature["spent"]) == sum(by_workspace["spent"])


def test_an_inactive_wallet_has_no_run_out_date(history: tuple) -> None:
    ledger, p = history
    ledger.set_wallet_status(p["admin"], p["beta"].id, "inactive")
    overview = ledger.wallet_overview(p["admin"], days=10)
    dates = dict(zip(overview["workspace"], overview["runs_out_on"], strict=True))
    assert dates["Beta"] is None and dates["Acme"] is not None
