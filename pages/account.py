"""My account: change your password, and where you are signed in (end any session, or all).

billing_core holds the rules (the current password is asked for; changing it ends your
other sessions; you end only your own sessions); this page asks and reports. The two
sections live in pages/_account_sessions.py and pages/_account_password.py.
"""

from __future__ import annotations

import streamlit as st

from pages import _notice
from pages._account_password import password_section
from pages._account_sessions import sessions_section
from pages._shared import require_user, section
from pages._text import visible_text

st.title("My account", anchor=False)
viewer = require_user()
_notice.show(_notice.PAGE)
st.text(f"{visible_text(viewer.name)} · {viewer.email}")
with section("sessions"):
    sessions_section(viewer)
with section("password"):
    password_section(viewer)
