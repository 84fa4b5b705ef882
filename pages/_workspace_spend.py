"""Approvals' spend by workspace over the last 30 days: daily bars, totals, and the CSV.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from billing_core import Ledger, User
from pages import _charts
from pages._shared import attempt, csv_download
from pages._text import visible_text

KEY = "billing.approvals"
DAYS = 30


def spend_section(ledger: Ledger, admin: User) -> None:
    st.subheader(f"Spend by workspace, last {DAYS} days")
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
    daily.altair_chart(_charts.spend_by_workspace(drawn, "day"), key=f"{KEY}.spend_daily")
    totals.altair_chart(_charts.workspace_totals(drawn), key=f"{KEY}.spend_totals")
    csv_download(spend, name=f"spend-by-workspace-{today}", key=f"{KEY}.spend_csv")
