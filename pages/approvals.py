"""Approvals (administrators only): the pending queue, every wallet, the credit policies,
spend by workspace, the decisions log, backups and the export for analysts, one render
function per section, each behind its own error boundary.

billing_core holds every rule (admins only, four eyes, exactly-once approval, a
rejection needs a reason, the policies' limits); the sections only draw, ask and report
what it said.
"""

from __future__ import annotations

import streamlit as st

from pages._approvals_queue import pending_queue
from pages._approvals_wallets import wallets_section
from pages._backups import backups_section, export_section
from pages._decisions_log import decisions_log_section
from pages._policies import policies_section
from pages._prices import prices_section
from pages._shared import get_ledger, require_user, section
from pages._workspace_spend import spend_section

user = require_user()
st.title("Approvals", anchor=False)
if not user.is_admin:
    st.error(
        "Approvals are for administrators only. Ask an administrator to decide your "
        "workspace's credit requests.",
        icon=":material/lock:",
    )
    st.stop()
ledger = get_ledger()
st.caption("Decide credit requests across every workspace and keep an eye on every wallet.")
pending_queue(ledger, user)  # a fragment with its own error boundary
SECTIONS = (  # each drawn below a divider, behind its own error boundary
    ("Every wallet", wallets_section),
    ("Credit policies", policies_section),
    ("Spend by workspace", spend_section),
    ("Decisions log", decisions_log_section),
    ("Backups", backups_section),
    ("Export for analysts", export_section),
    ("Prices", prices_section),
)
for title, draw in SECTIONS:
    st.divider()
    with section(title):
        draw(ledger, user)
