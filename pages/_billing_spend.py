"""Billing's spend charts: daily spend by feature and the balance over time, for the last
30 or 90 days of one workspace, each with a sentence that sums it up and its CSV.

Not a page (the underscore keeps it out of navigation). A fragment: picking the period
reruns only this section.
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from billing_core import User
from pages import _chart_text, _charts
from pages._chart_box import chart_box
from pages._shared import attempt, get_ledger, section

PERIODS = [30, 90]


@st.fragment
def spend_section(user: User, workspace_id: int) -> None:
    with section("spend"):
        st.header("Spend", anchor=False)
        days = st.segmented_control(
            "Period", PERIODS, default=30, required=True, key="billing.spend.days",
            format_func=lambda d: f"Last {d} days",
        )
        ledger = get_ledger()
        end = ledger.today()
        start = end - timedelta(days=int(days or 30) - 1)
        spend = attempt(lambda: ledger.spend_by_feature(user, start, end, "day",
                                                        workspace_id=workspace_id))
        balance = attempt(lambda: ledger.balance_over_time(user, workspace_id, start, end))
        left, right = st.columns(2)
        with left:
            if spend is not None and spend.empty:
                st.subheader("Daily spend by feature", anchor=False)
                st.info("No en-credits were spent in this period.", icon=":material/bar_chart:")
            elif spend is not None:
                chart = _charts.spend_by_feature(spend, "day", start=start, end=end)
                chart_box("Daily spend by feature", _chart_text.spend(spend, "feature", "features"),
                          chart.configure_legend(orient="bottom", columns=2), spend,
                          key="billing.spend.chart", csv_key="billing.spend.csv",
                          csv_name=f"spend-by-feature_{start}_{end}")
        with right:
            if balance is not None:
                chart = _charts.balance_over_time(balance).configure_axisX(format="%b %d")
                chart_box("Balance over time", _chart_text.balance(balance), chart, balance,
                          key="billing.balance.chart", csv_key="billing.balance.csv",
                          csv_name=f"balance_{start}_{end}")
