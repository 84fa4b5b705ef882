"""The Spend analytics page in AppTest: members see their workspaces, admins see all."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit import dataframe_util

from billing_core import Ledger

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "analytics.py")
ADMIN = "ada@example.com"
MEMBER = "alan@example.com"  # Acme Research and Hooli Data
K = "billing.analytics"
CHARTS = ["spend-by-feature", "spend-by-workspace", "credits-vs-debits", "top-consumers"]


def user(ledger: Ledger, email: str):
    found = ledger.user_by_email(email)
    assert found is not None
    return found


def texts(at, kind: str) -> list[str]:
    return [re.sub(r"\\(.)", r"\1", str(e.value)) for e in getattr(at, kind)]


def chart_frames(at) -> list[pd.DataFrame]:
    """The data behind every Altair chart on the page (AppTest sees them only this way)."""
    frames = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        assert "tooltip" in spec["encoding"], "every chart has tooltips"
        for dataset in chart.proto.datasets:
            frames.append(dataframe_util.convert_arrow_bytes_to_pandas_df(dataset.data.data))
    return frames


def workspaces_in(at) -> set[str]:
    names: set[str] = set()
    for frame in chart_frames(at):
        if "workspace" in frame:
            names |= set(frame["workspace"])
    for table in at.dataframe:
        if "Workspace" in table.value:
            names |= set(table.value["Workspace"])
    return names


@pytest.fixture
def page_as(app_as):
    def make(email: str):
        at = app_as(email, script=PAGE).run()
        assert not at.exception
        return at

    return make


def test_admin_sees_every_workspace_with_every_chart(page_as, app_ledger):
    at = page_as(ADMIN)
    every = {w.name for w in app_ledger.workspaces(user(app_ledger, ADMIN))}
    assert len(every) == 6
    assert workspaces_in(at) == every
    assert len(at.get("vega_lite_chart")) == 5  # four spend charts and the burn rate
    assert at.selectbox(key=f"{K}.workspace").options[0] == "All workspaces"
    assert len(at.selectbox(key=f"{K}.workspace").options) == 7


def test_a_member_sees_only_their_workspaces(page_as, app_ledger):
    at = page_as(MEMBER)
    alan = user(app_ledger, MEMBER)
    theirs = {w.name for w in app_ledger.workspaces(alan)}
    assert theirs == {"Acme Research", "Hooli Data"}
    assert workspaces_in(at) == theirs
    options = at.selectbox(key=f"{K}.workspace").options
    assert options == ["All my workspaces", "Acme Research", "Hooli Data"]
    shown = " ".join(texts(at, "markdown") + texts(at, "caption") + texts(at, "info"))
    assert "Umbrella" not in shown and "Globex" not in shown
    # The totals are theirs alone: the member's spend is below the admin's.
    spent = {m.label: m.value for m in at.metric}["Spent (en-credits)"]
    admin_spent = {m.label: m.value for m in page_as(ADMIN).metric}["Spent (en-credits)"]
    assert spent != admin_spent


def test_top_consumers_for_a_member_are_only_people_of_their_workspaces(page_as, app_ledger):
    at = page_as(MEMBER)
    alan = user(app_ledger, MEMBER)
    colleagues = {
        u.email for w in app_ledger.workspaces(alan) for u in app_ledger.members(alan, w.id)
    }
    consumers = next(f for f in chart_frames(at) if "email" in f)
    assert set(consumers["email"]) <= colleagues


def test_filtering_on_one_workspace_narrows_every_chart(page_as, app_ledger):
    at = page_as(ADMIN)
    acme = next(w for w in app_ledger.workspaces(user(app_ledger, ADMIN))
                if w.name == "Acme Research")
    at.selectbox(key=f"{K}.workspace").select(acme.id).run()
    assert not at.exception
    assert workspaces_in(at) == {"Acme Research"}


def test_every_chart_offers_its_data_as_csv(page_as):
    at = page_as(ADMIN)
    keys = {b.key for b in at.download_button}
    for name in CHARTS:
        assert any(k.startswith(f"{K}.csv.{name}") for k in keys), name
    assert f"{K}.csv.burn" in keys
    assert all(b.label == "Download CSV" and not b.disabled for b in at.download_button)


def test_granularity_and_range_reach_the_queries(page_as, app_ledger):
    at = page_as(ADMIN)
    today = app_ledger.today()
    at.date_input(key=f"{K}.range").set_value((today - timedelta(days=59), today))
    at.segmented_control(key=f"{K}.granularity").set_value("month").run()
    assert not at.exception
    by_feature = chart_frames(at)[0]
    periods = set(pd.to_datetime(by_feature["period"]).dt.day)
    assert periods == {1}  # every period starts on the first of a month
    expected = app_ledger.spend_by_feature(
        user(app_ledger, ADMIN), today - timedelta(days=59), today, "month"
    )
    assert round(by_feature["spent"].astype(float).sum(), 2) == round(
        float(sum(expected["spent"])), 2
    )


def test_a_range_without_spend_shows_an_empty_state(page_as):
    at = page_as(ADMIN)
    at.date_input(key=f"{K}.range").set_value((date(2020, 1, 1), date(2020, 1, 31))).run()
    assert not at.exception
    infos = texts(at, "info")
    assert any("No en-credits were spent between 2020-01-01 and 2020-01-31" in i for i in infos)
    assert len(at.get("vega_lite_chart")) == 1  # only the burn rate, which is about today
    assert {m.label: m.value for m in at.metric}["Spent (en-credits)"] == "0.00"


def test_a_half_picked_range_asks_for_the_end_date(page_as):
    at = page_as(ADMIN)
    at.date_input(key=f"{K}.range").set_value((date(2026, 10, 1),)).run()
    assert not at.exception
    assert any("last day of the range" in i for i in texts(at, "info"))
    assert not at.get("vega_lite_chart")


def test_burn_rate_table_shows_run_out_dates_and_health(page_as, app_ledger):
    at = page_as(ADMIN)
    table = next(t.value for t in at.dataframe if "Runs out on" in t.value)
    health = dict(zip(table["Workspace"], table["Health"], strict=True))
    assert health["Umbrella Labs"] == "Zero balance"
    overview = app_ledger.wallet_overview(user(app_ledger, ADMIN), days=30)
    acme = overview[overview["workspace"] == "Acme Research"].iloc[0]
    row = table[table["Workspace"] == "Acme Research"].iloc[0]
    assert row["Runs out on"] == str(acme["runs_out_on"])
    at.segmented_control(key=f"{K}.burn_days").set_value(7).run()
    table = next(t.value for t in at.dataframe if "Runs out on" in t.value)
    assert "7-day spend" in table.columns


def test_the_burn_rate_table_says_inactive_where_there_is_no_run_out_date(page_as):
    """Issue 10, item 5: Hooli Data's wallet is inactive: its Runs out on and Days left
    cells say so instead of a grey "None"."""
    at = page_as(ADMIN)
    frame = next(t for t in at.dataframe if "Runs out on" in t.value.columns)
    table = frame.value
    shown = dataframe_util.convert_arrow_bytes_to_pandas_df(
        frame.proto.arrow_data.styler.display_values)
    hooli = table.index[table["Workspace"] == "Hooli Data"][0]
    assert (shown.loc[hooli, "Runs out on"], shown.loc[hooli, "Days left"]) == ("inactive",
                                                                                  "inactive")
    assert not shown.isin(["None", "nan", "<NA>", "NaT"]).any().any(), shown
    assert table.loc[hooli, "Days left"] == "inactive" and not table.isna().any().any()


def test_signed_out_the_page_asks_to_sign_in(app_as):
    at = app_as(None, script=PAGE).run()
    assert not at.exception
    assert any("Sign in" in w for w in texts(at, "warning"))
    assert not at.get("vega_lite_chart") and not at.dataframe
