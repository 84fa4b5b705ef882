"""Sign in: email and password against the ledger, or the identity provider when configured.

Signing in starts a session that a reload, another tab or a bookmark keeps
(pages/_shared.py). A ledger with no administrator yet shows how the first one is
created above the form (pages/_first_run.py).
"""

from __future__ import annotations

import streamlit as st

from pages._first_run import first_run
from pages._shared import get_ledger
from pages._sign_in_form import password_form

if get_ledger().has_admin():
    st.title("Sign in", anchor=False)
    st.caption("Track your workspaces' en-credits, review transactions and ask for top-ups.")
else:
    first_run()
left, _ = st.columns([2, 3])
with left:
    password_form()
