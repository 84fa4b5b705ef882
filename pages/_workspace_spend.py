"""Approvals' spend by workspace over the last 30 days: daily bars and totals, each with
a sentence that sums it up, and the CSV.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from billing_core import Ledger, User
from pages import _chart_text, _charts
from pages._chart_box import chart_box
from pages._shared import attempt
from pages._text import visible_text

KEY = "billing.approvals"
DAYS = 30


def spend_section(ledger: Ledger, admin: User) -> None:
    st.header(f"Spend by workspace, last {DAYS} days", anchor=False)
    today = ledger.today()
    spend = attempt(lambda: ledger.spend_by_workspace(admin, today - timedelta(days=DAYS - 1),
                                                       today, "day"))
    if spend is None:
        return
    if spend.empty:
        st.info(f"Nothing was spent in the last {DAYS} days.")
        return
    drawn = spend.assign(workspace=spend["workspace"].map(visible_text))
    daily, totals = st.columns([3, 2])
    with daily:
        chart_box("Daily spend", _chart_text.spend(spend, "workspace", "workspaces"),
                  _charts.spend_by_workspace(drawn, "day"), spend, key=f"{KEY}.spend_daily",
                  csv_key=f"{KEY}.spend_csv", csv_name=f"spend-by-workspace-{today}")
    with totals:
        chart_box("Total by workspace", _chart_text.totals(spend, "workspace", "workspace"),
                  _charts.workspace_totals(drawn), spend, key=f"{KEY}.spend_totals",
                  csv_key=None, note="Its rows are in the daily spend's CSV.")
