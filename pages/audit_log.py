"""Audit log (administrators only): every change, who made it and when, with what it was
before and after; filters by who, action, workspace, dates and text; CSV of the filtered log.

billing_core reads and filters (`Ledger.audit_events`); the CSV goes through
billing_core.export. The filters and the table live in pages/_audit_log_view.py.
"""

from __future__ import annotations

import streamlit as st

from pages._admin import admins_only
from pages._audit_log_view import log_section
from pages._shared import get_ledger, section

admin = admins_only("Audit log", "The audit log")
st.caption("Every change to the ledger: who made it, when, and what it was before and after.")
with section("Audit log"):
    log_section(get_ledger(), admin)
