"""Spend analytics' charts: the totals, spend by feature and by workspace, credits vs
debits and the top consumers, each in a box with its CSV.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from billing_core import EntryKind, Ledger, User
from pages import _chart_text, _charts
from pages._analytics_range import KEY, Query
from pages._chart_box import chart_box
from pages._shared import attempt, figure
from pages._text import visible_text


def summary(by_feature: pd.DataFrame, flows: pd.DataFrame) -> None:
    credited = flows.loc[flows["kind"] == EntryKind.CREDIT, "amount"]
    cols = st.columns(3)
    cols[0].metric("Spent (en-credits)", figure(sum(by_feature["spent"])), border=True)
    cols[1].metric("Uses", f"{int(by_feature['uses'].sum()):,}", border=True)
    cols[2].metric("Credited (en-credits)", figure(sum(credited)), border=True)


def boxed(
    title: str, note: str, summary: str, chart: alt.TopLevelMixin, frame: pd.DataFrame,
    name: str, *, legend_below: bool = True,
) -> None:
    """One chart in a bordered box: heading, what it plots, its summary, its CSV."""
    with st.container(border=True, key=f"{KEY}.box.{name}"):
        if legend_below:  # half-width boxes: give the plot the whole width
            chart = chart.configure_legend(orient="bottom", columns=3, title=None)
        chart_box(title, summary, chart, frame, key=f"{KEY}.chart.{name}",
                  csv_key=f"{KEY}.csv.{name}", csv_name=name, note=note)


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
    st.header("Spend and top-ups", anchor=False)
    summary(by_feature, flows)
    if by_feature.empty:
        st.info(f"No en-credits were spent {q.where}. Try a wider date range"
                + (" or another workspace." if q.workspace_id is not None else "."),
                icon=":material/query_stats:")
    else:
        left, right = st.columns(2)
        with left:
            boxed("Spend by feature", f"en-credits spent per {q.granularity}, by feature",
                  _chart_text.spend(by_feature, "feature", "features"),
                  _charts.spend_by_feature(drawn(by_feature, "feature"), q.granularity),
                  by_feature, f"spend-by-feature_{q.slug}")
        with right:
            boxed("Spend by workspace", f"en-credits spent per {q.granularity}, by workspace",
                  _chart_text.spend(by_workspace, "workspace", "workspaces"),
                  _charts.spend_by_workspace(drawn(by_workspace, "workspace"), q.granularity),
                  by_workspace, f"spend-by-workspace_{q.slug}")
    left, right = st.columns(2)
    with left:
        if flows.empty:
            st.info(f"No credits or debits {q.where}.")
        else:
            boxed("Credits vs debits", f"Top-ups and spend per {q.granularity}",
                  _chart_text.flows(flows), _charts.credits_vs_debits(flows, q.granularity),
                  flows, f"credits-vs-debits_{q.slug}")
    with right:
        if not consumers.empty:
            boxed("Top consumers", "The people whose feature use spent the most",
                  _chart_text.consumers(consumers),
                  _charts.top_consumers(drawn(consumers, "user", "email")), consumers,
                  f"top-consumers_{q.slug}", legend_below=False)
