"""Sign in: email and password against the ledger, or the identity provider when configured.

billing_core checks the argon2 hash, gives one neutral message for a wrong email or
password, and slows guessing down; this page only asks and reports. Signing in starts a
session that a reload, another tab or a bookmark keeps (pages/_shared.py). A ledger with
no administrator yet shows how the first one is created instead of a bare form.
"""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAuthError

from billing_core import BillingError
from pages._shared import ENDED_KEY, attempt, get_ledger, plain, sign_in, sso_configured

EMAIL_KEY = "billing.sign_in.email"
PASSWORD_KEY = "billing.sign_in.password"
ERROR_KEY = "billing.sign_in.error"


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
    except BillingError as error:
        st.session_state[ERROR_KEY] = str(error)
        return
    sign_in(user)


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
            st.rerun()
    if st.button("Sign in with another account", key="billing.sign_in.sso_out"):
        st.logout()


def first_run() -> None:
    """A ledger nobody can administer yet: how the operator creates the first admin."""
    st.title("Set up this billing console")
    st.info(
        "This ledger has no administrator yet. Whoever runs the server creates the first one "
        "with `billing admin create EMAIL --name NAME` (it asks for the password), then signs "
        "in here.",
        icon=":material/admin_panel_settings:",
    )
    st.markdown("On the server, in the project folder (with the same `--db` or `$BILLING_DB` as the app):")
    st.code('.venv/bin/billing admin create you@example.com --name "Your Name"', language="sh")
    st.markdown(
        "It asks for the password twice without showing it (or reads one line from standard input "
        "with `--password-stdin`). An embedded DuckDB ledger is held by the app while it runs: stop "
        "the app, run the command, start the app again. Then sign in: **People & workspaces** adds "
        "workspaces, invites people and grants credits. The README's *Set up your organisation* "
        "walks through all of it."
    )
    st.subheader("Sign in")


if get_ledger().has_admin():
    st.title("Sign in")
    st.caption("Track your workspaces' en-credits, review transactions and ask for top-ups.")
else:
    first_run()

left, _ = st.columns([2, 3])
with left:
    ended = st.session_state.get(ENDED_KEY)  # until they try again (a rerun must not lose it)
    if ended:
        st.warning(plain(ended), icon=":material/schedule:")
    with st.form("billing.sign_in.form", border=True):
        st.text_input("Email", key=EMAIL_KEY, autocomplete="username",
                      placeholder="you@example.com")
        st.text_input("Password", type="password", key=PASSWORD_KEY,
                      autocomplete="current-password")
        st.form_submit_button("Sign in", type="primary", width="stretch",
                              on_click=submit_password)
    message = st.session_state.pop(ERROR_KEY, None)
    if message:
        st.error(message, icon="⚠️")
    if sso_configured():
        identity_provider_section()
