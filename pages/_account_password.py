"""My account's password form: the current password, the new one twice.

Not a page (the underscore keeps it out of navigation). billing_core checks the current
password and the new one, and ends the person's other sessions; this asks and reports.
"""

from __future__ import annotations

import streamlit as st

from billing_core import User
from pages._shared import attempt, current_session_id, get_ledger

KEY = "billing.account"


def password_section(user: User) -> None:
    st.header("Password", anchor=False)
    with st.form(f"{KEY}.password", border=True, clear_on_submit=True):
        current = st.text_input("Current password", type="password", key=f"{KEY}.current",
                                autocomplete="current-password")
        new = st.text_input("New password", type="password", key=f"{KEY}.new", autocomplete="new-password")
        again = st.text_input("New password again", type="password", key=f"{KEY}.again",
                              autocomplete="new-password")
        submitted = st.form_submit_button("Change password", type="primary")
    if not submitted:
        return
    if new != again:
        st.error("The two new passwords differ. Nothing was changed.", icon="⚠️")
        return
    here = current_session_id()
    ended = attempt(lambda: get_ledger().change_password(user, current, new, keep_session=here))
    if ended is not None:
        others = f" {ended} other session{'s' if ended != 1 else ''} ended." if ended else ""
        st.success(f"Your password is changed.{others}", icon=":material/check_circle:")
