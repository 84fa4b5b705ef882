"""Spend analytics' burn rates: each wallet's average daily spend and projected run-out
(billing_core's wallet_overview), as a chart and a table, with the CSV.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

import streamlit as st

from billing_core import Ledger, User
from pages import _chart_text, _charts
from pages._analytics_charts import drawn
from pages._analytics_range import KEY, Query
from pages._chart_box import chart_box
from pages._shared import attempt, csv_download
from pages._wallet_table import styled_wallets, wallet_columns, wallet_table

BURN_WINDOWS = [7, 30, 90]


def burn_rates(ledger: Ledger, user: User, query: Query) -> None:
    st.header("Burn rate and projected run-out", anchor=False)
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
        chart_box("Average spend per day", _chart_text.burn(frame),
                  _charts.burn_rate(drawn(frame, "workspace")), frame, key=f"{KEY}.chart.burn",
                  csv_key=None, note="Each bar says its wallet's health in words.")
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
