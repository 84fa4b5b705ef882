"""Spend analytics' "Usage in units" section: what priced usage counted (tokens, requests,
a gateway's USD spend) beside the credits it cost, by feature (a model) and by member,
with the CSV of the full breakdown.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from billing_core import Ledger, User
from pages._analytics_range import Query
from pages._shared import attempt, csv_download
from pages._text import visible_text

KEY = "billing.analytics.usage"


def usage_units(ledger: Ledger, user: User, query: Query) -> None:
    st.header("Usage in units", anchor=False)
    usage = attempt(lambda: ledger.usage_by_feature(user, query.start, query.end, query.workspace_id))
    if usage is None:
        return
    if usage.empty:
        st.info("No usage priced by the rate card in this range: usage recorded in units "
                "(tokens, requests, a gateway's spend) shows here.")
        return
    left, right = st.columns(2)
    with left:
        st.subheader("By feature", anchor=False)
        st.dataframe(totals(usage, ["feature", "unit"]), hide_index=True, key=f"{KEY}.features")
    with right:
        st.subheader("By member", anchor=False)
        st.dataframe(totals(usage, ["member", "unit"]), hide_index=True, key=f"{KEY}.members")
    csv_download(usage.drop(columns=["workspace_id"]), name=f"usage-{query.slug}", key=f"{KEY}.csv")


def totals(usage: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Quantities and credits summed by `by`, largest credits first, as the reader sees them."""
    frame = usage.assign(quantity=usage["quantity"].astype(float), credits=usage["credits"].astype(float))
    grouped = frame.groupby(by, as_index=False)[["quantity", "credits", "uses"]].sum()
    grouped = grouped.sort_values("credits", ascending=False)
    shown = grouped.rename(columns={"feature": "Feature", "member": "Member", "unit": "Unit",
                                    "quantity": "Quantity", "credits": "Credits", "uses": "Uses"})
    first = shown.columns[0]
    return shown.assign(**{first: shown[first].fillna("—").map(visible_text)})
