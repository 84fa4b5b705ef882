"""Billing's spend charts: daily spend by feature and the balance over time, for the last
30 or 90 days of one workspace.

Not a page (the underscore keeps it out of navigation). A fragment: picking the period
reruns only this section.
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from billing_core import User
from pages import _charts
from pages._shared import attempt, get_ledger, section

PERIODS = [30, 90]


@st.fragment
def spend_section(user: User, workspace_id: int) -> None:
    with section("spend"):
        st.subheader("Spend")
        days = st.segmented_control(
            "Period", PERIODS, default=30, required=True, key="billing.spend.days",
            format_func=lambda d: f"Last {d} days", label_visibility="collapsed",
        )
        ledger = get_ledger()
        end = ledger.today()
        start = end - timedelta(days=int(days or 30) - 1)
        spend = attempt(lambda: ledger.spend_by_feature(user, start, end, "day",
                                                        workspace_id=workspace_id))
        balance = attempt(lambda: ledger.balance_over_time(user, workspace_id, start, end))
        left, right = st.columns(2)
        with left:
            st.markdown("**Daily spend by feature**")
            if spend is not None and spend.empty:
                st.info("No en-credits were spent in this period.", icon=":material/bar_chart:")
            elif spend is not None:
                chart = _charts.spend_by_feature(spend, "day", start=start, end=end)
                st.altair_chart(chart.configure_legend(orient="bottom", columns=2),
                                key="billing.spend.chart")
        with right:
            st.markdown("**Balance over time**")
            if balance is not None:
                chart = _charts.balance_over_time(balance).configure_axisX(format="%b %d")
                st.altair_chart(chart, key="billing.balance.chart")
