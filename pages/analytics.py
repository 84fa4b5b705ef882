"""Spend analytics: members see their workspaces, administrators see every workspace.

billing_core scopes every frame to what the viewer may see; this page only picks the
range, draws the Altair charts and offers the data behind each one as CSV.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from billing_core import Ledger, User
from pages import _charts
from pages._shared import (
    attempt,
    csv_download,
    figure,
    get_ledger,
    plain,
    require_user,
    section,
)
from pages._text import visible_text
from pages._wallet_table import styled_wallets, wallet_columns, wallet_table

KEY = "billing.analytics"
GRANULARITIES = ["day", "week", "month"]
BURN_WINDOWS = [7, 30, 90]


@dataclass(frozen=True, slots=True)
class Query:
    start: date
    end: date
    granularity: str
    workspace_id: int | None
    workspace_name: str | None

    @property
    def slug(self) -> str:
        scope = f"-workspace-{self.workspace_id}" if self.workspace_id is not None else ""
        return f"{self.start}_{self.end}{scope}"

    @property
    def where(self) -> str:
        place = f" in {plain(self.workspace_name)}" if self.workspace_name else ""
        return f"between {self.start} and {self.end}{place}"


def controls(ledger: Ledger, user: User) -> Query | None:
    spaces = attempt(lambda: ledger.workspaces(user))
    if spaces is None:
        return None
    if not spaces:
        st.info("You are not a member of any workspace yet, so there is no spend to show. "
                "Ask an administrator to add you to one.")
        return None
    names = {w.id: w.name for w in spaces}
    today = ledger.today()
    every = "All workspaces" if user.is_admin else "All my workspaces"
    period, group, where = st.columns([2, 1.4, 2], vertical_alignment="bottom")
    picked = period.date_input(
        "Date range", value=(today - timedelta(days=89), today), max_value=today,
        key=f"{KEY}.range",
    )
    granularity = group.segmented_control(
        "Group by", GRANULARITIES, default="week", required=True, key=f"{KEY}.granularity",
        format_func=str.capitalize,
    )
    workspace_id = where.selectbox(
        "Workspace", [None, *names],
        format_func=lambda i: every if i is None else visible_text(names[i]),
        key=f"{KEY}.workspace",
    )
    if not isinstance(picked, tuple | list) or len(picked) != 2:
        st.info("Pick the last day of the range too.")
        return None
    start, end = picked
    return Query(start, end, granularity or "week", workspace_id,
                 None if workspace_id is None else names[workspace_id])


def summary(query: Query, by_feature: pd.DataFrame, flows: pd.DataFrame) -> None:
    credited = flows.loc[flows["kind"] == "credit", "amount"]
    cols = st.columns(3)
    cols[0].metric("Spent (en-credits)", figure(sum(by_feature["spent"])), border=True)
    cols[1].metric("Uses", f"{int(by_feature['uses'].sum()):,}", border=True)
    cols[2].metric("Credited (en-credits)", figure(sum(credited)), border=True)


def chart_box(
    title: str, caption: str, chart: alt.Chart, frame: pd.DataFrame, name: str,
    *, legend_below: bool = True,
) -> None:
    with st.container(border=True, key=f"{KEY}.box.{name}"):
        st.markdown(f"**{title}**")
        st.caption(caption)
        if legend_below:  # half-width boxes: give the plot the whole width
            chart = chart.configure_legend(orient="bottom", columns=3, title=None)
        st.altair_chart(chart, key=f"{KEY}.chart.{name}", width="stretch")
        csv_download(frame, name=name, key=f"{KEY}.csv.{name}")


def drawn(frame: pd.DataFrame, *names: str) -> pd.DataFrame:
    """A frame for a chart: the user text in `names` with hidden characters shown."""
    return frame.assign(**{n: frame[n].map(visible_text) for n in names})


def spend_charts(ledger: Ledger, user: User, query: Query) -> None:
    q = query
    by_feature = attempt(lambda: ledger.spend_by_feature(
        user, q.start, q.end, q.granularity, q.workspace_id))
    by_workspace = attempt(lambda: ledger.spend_by_workspace(user, q.start, q.end, q.granularity))
    flows = attempt(lambda: ledger.credits_vs_debits(
        user, q.start, q.end, q.granularity, q.workspace_id))
    consumers = attempt(lambda: ledger.top_consumers(user, q.start, q.end, q.workspace_id))
    if by_feature is None or by_workspace is None or flows is None or consumers is None:
        return
    if q.workspace_id is not None:
        by_workspace = by_workspace[by_workspace["workspace_id"] == q.workspace_id]
    summary(q, by_feature, flows)
    if by_feature.empty:
        st.info(f"No en-credits were spent {q.where}. Try a wider date range"
                + (" or another workspace." if q.workspace_id is not None else "."),
                icon=":material/query_stats:")
    else:
        left, right = st.columns(2)
        with left:
            chart_box("Spend by feature", f"en-credits spent per {q.granularity}, by feature",
                      _charts.spend_by_feature(drawn(by_feature, "feature"), q.granularity),
                      by_feature,
                      f"spend-by-feature_{q.slug}")
        with right:
            chart_box("Spend by workspace", f"en-credits spent per {q.granularity}, by workspace",
                      _charts.spend_by_workspace(drawn(by_workspace, "workspace"),
                                                 q.granularity),
                      by_workspace,
                      f"spend-by-workspace_{q.slug}")
    left, right = st.columns(2)
    with left:
        if flows.empty:
            st.info(f"No credits or debits {q.where}.")
        else:
            chart_box("Credits vs debits", f"Top-ups and spend per {q.granularity}",
                      _charts.credits_vs_debits(flows, q.granularity), flows,
                      f"credits-vs-debits_{q.slug}")
    with right:
        if not consumers.empty:
            chart_box("Top consumers", "The people whose feature use spent the most",
                      _charts.top_consumers(drawn(consumers, "user", "email")), consumers,
                      f"top-consumers_{q.slug}",
                      legend_below=False)


def burn_rates(ledger: Ledger, user: User, query: Query) -> None:
    st.subheader("Burn rate and projected run-out")
    days = st.segmented_control(
        "Average over the last", BURN_WINDOWS, default=30, required=True,
        format_func=lambda d: f"{d} days", key=f"{KEY}.burn_days",
    ) or 30
    overview = attempt(lambda: ledger.wallet_overview(user, days=days))
    if overview is None:
        return
    if query.workspace_id is not None:
        overview = overview[overview["workspace_id"] == query.workspace_id]
    if overview.empty:
        st.info("No wallets to show.")
        return
    frame = overview  # billing_core's health, run-out dates and days left included
    chart, table = st.columns([2, 3])
    with chart:
        st.altair_chart(_charts.burn_rate(drawn(frame, "workspace")), key=f"{KEY}.chart.burn",
                        width="stretch")
    with table:
        st.dataframe(
            styled_wallets(wallet_table(frame, days)), hide_index=True, key=f"{KEY}.burn_table",
            column_config=wallet_columns(days),
            column_order=["Workspace", "Health", "Balance", "Runs out on", "Days left",
                          "Per day", "Expires unused", "Next expiry"],
        )
        st.caption("Run-out dates assume spend continues at the average rate: never when "
                   "nothing was spent lately, inactive when the wallet spends nothing until "
                   "an administrator reactivates it. Expires unused: what of the wallet's "
                   "expiring grants that rate would leave to expire.")
        csv_download(frame, name=f"burn-rate-{days}d_{ledger.today()}", key=f"{KEY}.csv.burn")


def main() -> None:
    user = require_user()
    st.title("Spend analytics")
    st.caption("Spend across every workspace." if user.is_admin
               else "Spend in the workspaces you belong to.")
    ledger = get_ledger()
    query: Query | None = None
    with section("Choosing the range"):
        query = controls(ledger, user)
    if query is None:
        return
    with section("Spend charts"):
        spend_charts(ledger, user, query)
    st.divider()
    with section("Burn rate and projected run-out"):
        burn_rates(ledger, user, query)


main()
