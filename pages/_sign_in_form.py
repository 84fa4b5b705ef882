"""Sign in's parts: the email and password form, and single sign-on when configured.

Not a page (the underscore keeps it out of navigation). billing_core checks the argon2
hash, gives one neutral message for a wrong email or password, and slows guessing; this
only asks and reports.
"""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAuthError

from billing_core import BillingError
from pages import _a11y, _notice
from pages._notice import Notice, Tone
from pages._shared import ENDED_KEY, attempt, get_ledger, plain, sign_in, sso_configured

EMAIL_KEY = "billing.sign_in.email"
PASSWORD_KEY = "billing.sign_in.password"
NOTICES = "billing.sign_in"  # where a refusal is shown


def submit_password() -> None:
    """The form's callback: check the credentials, then forget the password at once.

    It runs before the script, so on success this very run already shows the signed-in
    pages; on failure the email stays typed and billing_core's message is shown.
    """
    email = st.session_state.get(EMAIL_KEY, "")
    password = st.session_state.get(PASSWORD_KEY, "")
    st.session_state[PASSWORD_KEY] = ""
    st.session_state.pop(ENDED_KEY, None)
    try:
        user = get_ledger().authenticate(email, password, client=st.context.ip_address)
    except BillingError as error:  # billing_core's own sentences, quoting nothing typed
        _notice.notify(NOTICES, Notice(str(error), Tone.ERROR))
        return
    sign_in(user)
    _a11y.request_focus(_a11y.HEADING)  # the page that opens: focus its heading


def password_form() -> None:
    """The form; above it, why this tab was signed out (until they try again: a rerun
    must not lose it)."""
    ended = st.session_state.get(ENDED_KEY)
    if ended:
        st.warning(plain(ended), icon=":material/schedule:")
    with st.form("billing.sign_in.form", border=True):
        st.text_input("Email", key=EMAIL_KEY, autocomplete="username",
                      placeholder="you@example.com")
        st.text_input("Password", type="password", key=PASSWORD_KEY,
                      autocomplete="current-password")
        st.form_submit_button("Sign in", type="primary", width="stretch",
                              on_click=submit_password)
    _notice.show(NOTICES, fields=[_a11y.widget(EMAIL_KEY), _a11y.widget(PASSWORD_KEY)])
    if sso_configured():
        identity_provider_section()


def identity_provider_section() -> None:
    """Offer OpenID Connect; once the provider vouches for an email, map it to a ledger user."""
    st.divider()
    if not st.user.get("is_logged_in"):
        if st.button("Sign in with single sign-on", icon=":material/key:",
                     key="billing.sign_in.sso", width="stretch"):
            try:
                st.login()
            except StreamlitAuthError as error:  # e.g. Authlib missing, incomplete [auth]
                st.error(f"Single sign-on is not available: {error}", icon="⚠️")
        return
    email = str(st.user.get("email") or "")
    if st.user.get("email_verified") is False:  # the provider says it did not check it
        st.error(f"Your identity provider has not verified {email}, so it cannot sign you in "
                 "here. Verify it with the provider, or sign in with your password.", icon="⚠️")
    else:
        user = attempt(lambda: get_ledger().user_for_sso(email))
        if user is not None:
            sign_in(user)
            _a11y.request_focus(_a11y.HEADING)
            st.rerun()
    if st.button("Sign in with another account", key="billing.sign_in.sso_out"):
        st.logout()

