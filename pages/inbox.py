"""Inbox: what the ledger told the signed-in person (requests, decisions, low balances,
spikes), newest first, and which of it they also want by email.

billing_core decides what each person may see and writes the notifications with the
changes that cause them; this page lists, marks read and saves the email choices.
"""

from __future__ import annotations

import streamlit as st

from pages import _notice
from pages._inbox_list import email_section, inbox_section
from pages._shared import require_user, section

st.title("Inbox", anchor=False)
viewer = require_user()
_notice.show(_notice.PAGE)
with section("Notifications"):
    inbox_section(viewer)
st.header("Email", anchor=False)
with section("Email choices"):
    email_section(viewer)
