"""Set your password's parts: whose link it is, the password form, and the outcome.

Not a page (the underscore keeps it out of navigation). billing_core checks the link
(once only, 7 days, the newest one) and the password; this asks and reports.
"""

from __future__ import annotations

import streamlit as st

from billing_core import LinkInfo, LinkPurpose
from pages._shared import attempt, get_ledger, local_time, plain

LINK = "link"  # the address's query parameter holding the link's code
KEY = "billing.set_password"
DONE_KEY = f"{KEY}.done"  # the email whose password was just set


def heading(info: LinkInfo) -> None:
    why = (
        "You were invited to the en-credits billing console."
        if info.purpose is LinkPurpose.INVITE
        else "An administrator reset your password."
    )
    st.markdown(f"{why} Choose a password for **{plain(info.user_name)}** ({plain(info.email)}).")
    st.caption(f"This link works once, until {local_time(info.expires_at)}. Use at least 8 characters.")


def password_form(token: str) -> None:
    with st.form(f"{KEY}.form", border=True):
        first = st.text_input("New password", type="password", key=f"{KEY}.first",
                              autocomplete="new-password")
        again = st.text_input("New password again", type="password", key=f"{KEY}.again",
                              autocomplete="new-password")
        submitted = st.form_submit_button("Set password", type="primary")
    if not submitted:
        return
    if first != again:
        st.error("The two passwords differ. Type the same password twice.", icon="⚠️")
        return
    user = attempt(lambda: get_ledger().set_password_with_link(token, first))
    if user is not None:
        st.session_state[DONE_KEY] = user.email
        del st.query_params[LINK]  # the link is spent: do not leave it in the address bar
        st.rerun()


def done_section(email: str) -> None:
    """The password is set: say so, and offer Sign in."""
    st.success(f"Your password is set. Sign in as {plain(email)} with it.", icon=":material/check_circle:")
    if st.button("Sign in", type="primary", key=f"{KEY}.sign_in"):
        st.session_state.pop(DONE_KEY, None)
        st.switch_page("pages/sign_in.py")


def link_section(token: str) -> None:
    """Whose link it is and the form, or billing_core's refusal of the link."""
    link = attempt(lambda: get_ledger().password_link_info(token))
    if link is not None:
        heading(link)
        password_form(token)
