"""Spend analytics: members see their workspaces, administrators see every workspace.

billing_core scopes every frame to what the viewer may see; this page picks the range,
then draws the charts (each with its CSV) and the burn rates, each section behind its own
error boundary.
"""

from __future__ import annotations

import streamlit as st

from pages._analytics_charts import spend_charts
from pages._analytics_range import Query, controls
from pages._burn_rates import burn_rates
from pages._shared import get_ledger, require_user, section
from pages._usage_units import usage_units

user = require_user()
st.title("Spend analytics", anchor=False)
st.caption("Spend across every workspace." if user.is_admin
           else "Spend in the workspaces you belong to.")
ledger = get_ledger()
query: Query | None = None
with section("Choosing the range"):
    query = controls(ledger, user)
if query is not None:
    with section("Spend charts"):
        spend_charts(ledger, user, query)
    st.divider()
    with section("Burn rate and projected run-out"):
        burn_rates(ledger, user, query)
    st.divider()
    with section("Usage in units"):
        usage_units(ledger, user, query)
