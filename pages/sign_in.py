"""Sign in: email and password against the ledger, or the identity provider when configured."""

from __future__ import annotations

import streamlit as st

from pages._sign_in_form import no_administrator_yet, password_form

st.title("Sign in", anchor=False)
st.caption("Track your workspaces' en-credits, review transactions and ask for top-ups.")
no_administrator_yet()
left, _ = st.columns([2, 3])
with left:
    password_form()
