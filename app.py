"""Entry point and router: page config, the sign-in gate, navigation by role, the sidebar.

Signed out, the pages are Sign in (at every address, so a bookmark signs in first) and
Set your password (a one-time link). Members get their billing pages and My account
(and, out of their menu, the administrators' addresses, where each page says it is for
administrators); admins also get Approvals, People & workspaces and the Audit log. A
page whose file is missing is left out rather than breaking the app. The session cookie
is written here, on every run that has a change pending (pages/_shared.py).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from billing_core import BillingError, User
from pages._shared import current_user, get_ledger, plain, session_cookie, sign_out, sso_configured
from pages._text import visible_text

ROOT = Path(__file__).resolve().parent

st.set_page_config(page_title="Billing · en-credits", page_icon="💳", layout="wide")


def page(
    path: str, title: str, icon: str, url_path: str, *, default: bool = False,
    hidden: bool = False,
) -> list[st.Page]:
    """The page as a one-item list, or an empty list when its file does not exist."""
    if not (ROOT / path).is_file():
        return []
    return [st.Page(path, title=title, icon=icon, url_path=url_path, default=default,
                    visibility="hidden" if hidden else "visible")]


MEMBER_URLS = ("billing", "my-wallets", "use-credits", "analytics", "account")
ADMIN_URLS = ("approvals", "people", "audit-log")
SET_PASSWORD = ("pages/set_password.py", "Set your password", ":material/password:", "set-password")


def navigation_for(user: User | None) -> dict[str, list[st.Page]]:
    if user is None:
        # Every address of the app shows Sign in, so a bookmarked page asks to sign in
        # first and then opens itself, instead of "page not found".
        return {"": [
            *page("pages/sign_in.py", "Sign in", ":material/login:", "sign-in", default=True),
            *(p for url in (*MEMBER_URLS, *ADMIN_URLS)
              for p in page("pages/sign_in.py", "Sign in", ":material/login:", url)),
            *page(*SET_PASSWORD),
        ]}
    sections = {
        "Billing": [
            *page("pages/billing.py", "Billing", ":material/account_balance_wallet:",
                  "billing", default=True),
            *page("pages/my_wallets.py", "My wallets", ":material/wallet:", "my-wallets"),
            *page("pages/use_credits.py", "Use credits", ":material/smart_toy:", "use-credits"),
            *page("pages/analytics.py", "Spend analytics", ":material/monitoring:",
                  "analytics"),
        ],
    }
    admin_pages = (
        ("pages/approvals.py", "Approvals", ":material/fact_check:", "approvals"),
        ("pages/people.py", "People & workspaces", ":material/group:", "people"),
        ("pages/audit_log.py", "Audit log", ":material/history:", "audit-log"),
    )
    if user.is_admin:
        sections["Administration"] = [p for args in admin_pages for p in page(*args)]
    else:
        # Not in a member's menu, but their addresses answer: each page itself says it is
        # for administrators (rather than Billing opening in its place).
        sections["Billing"] += [p for args in admin_pages for p in page(*args, hidden=True)]
    sections["Account"] = [
        *page("pages/account.py", "My account", ":material/manage_accounts:", "account"),
        *page(*SET_PASSWORD, hidden=True),  # a link opened while signed in
    ]
    return {name: pages for name, pages in sections.items() if pages}


def sidebar(user: User) -> None:
    with st.sidebar:
        with st.container(border=True):
            st.text(visible_text(user.name))  # user data: drawn as text, never as markdown
            st.text(user.email)
            if user.is_admin:
                st.badge("Administrator", icon=":material/shield_person:", color="violet")
            else:
                st.badge("Member", icon=":material/person:", color="gray")
            if st.button("Sign out", icon=":material/logout:", key="app.sign_out",
                         width="stretch"):
                sign_out()
                if sso_configured() and st.user.get("is_logged_in"):
                    st.logout()  # also forget the identity provider's cookie
                st.rerun()


try:
    get_ledger()  # opened once per process; a missing or foreign database is refused here
    user = current_user()
except BillingError as error:  # no ledger where $BILLING_DB points, or it cannot be opened
    st.title("The billing console cannot open its ledger")
    st.error(plain(str(error)), icon=":material/database:")
    st.markdown(
        "An operator can create the embedded demo ledger with `make run`, or an empty one with "
        "`billing init --db PATH` (a PostgreSQL database too: `billing init --db postgresql://…`)."
    )
    st.stop()
sections = navigation_for(user)
session_cookie()  # set or clear the session cookie when a change is pending
if user is None:
    current = st.navigation(sections[""], position="hidden")
else:
    sidebar(user)
    current = st.navigation(sections)
current.run()
