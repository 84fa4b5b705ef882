"""People & workspaces (administrators only): workspaces and their members, people and
their access, and credits an administrator adds or corrects directly.

Each tab lives in its own module (pages/_admin_workspaces.py, _admin_people.py,
_admin_credits.py) behind its own error boundary; billing_core holds every rule.
"""

from __future__ import annotations

import streamlit as st

from pages._admin import admins_only, show_refusal
from pages._admin_credits import credits_tab
from pages._admin_people import people_tab
from pages._admin_workspaces import workspaces_tab
from pages._shared import section, show_flash

admin = admins_only("People & workspaces", "People & workspaces")
st.caption("Add workspaces and people, choose who belongs where and who administers, and grant credits.")
with st.container():  # always drawn, so the tabs below keep their place and the open tab
    show_flash()
    show_refusal()
workspaces, people, grants = st.tabs(["Workspaces", "People", "Credits"], key="billing.people.tab")
with workspaces, section("Workspaces"):
    workspaces_tab(admin)
with people, section("People"):
    people_tab(admin)
with grants, section("Credits"):
    credits_tab(admin)
