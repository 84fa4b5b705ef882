"""Entry point and router: page config, the sign-in gate, navigation by role, the sidebar.

Signed out, the pages are Sign in (at every address, so a bookmark signs in first) and
Set your password (a one-time link). Members get their billing pages, the Inbox and My
account (and, out of their menu, the administrators' addresses, where each page says it
is for administrators); admins also get Approvals, Alerts & webhooks, People &
workspaces and the Audit log. A page whose file is missing fails loudly (a packaging
bug), never hidden. The session cookie is written here, on every run that has a change
pending (pages/_shared.py).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from billing_core import BillingError, User
from pages._a11y import apply_focus, page_style
from pages._shared import current_user, get_ledger, plain, session_cookie, sign_out, sso_configured
from pages._text import visible_text

ROOT = Path(__file__).resolve().parent

st.set_page_config(page_title="en-credits", page_icon="💳", layout="wide")
page_style()


def page(
    path: str, title: str, icon: str, url_path: str, *, default: bool = False,
    hidden: bool = False,
) -> list[st.Page]:
    """The page as a one-item list. A missing page file is a packaging bug: it fails
    loudly here rather than leaving the page out of the menu."""
    if not (ROOT / path).is_file():
        raise FileNotFoundError(f"The page file {path} is missing from {ROOT}.")
    return [st.Page(path, title=title, icon=icon, url_path=url_path, default=default,
                    visibility="hidden" if hidden else "visible")]


MEMBER_URLS = ("billing", "my-wallets", "use-credits", "analytics", "inbox", "account")
ADMIN_URLS = ("approvals", "alerts", "people", "audit-log")
SET_PASSWORD = ("pages/set_password.py", "Set your password", ":material/password:", "set-password")


def navigation_for(user: User | None) -> dict[str, list[st.Page]]:
    if user is None:
        # Every address of the app shows Sign in, so a bookmarked page asks to sign in
        # first and then opens itself, instead of "page not found". No menu: every page
        # is hidden (not position="hidden", which keeps the sidebar drawn after signing
        # out until a later run happens to find it empty: see the comment below).
        return {"": [
            *page("pages/sign_in.py", "Sign in", ":material/login:", "sign-in", default=True,
                  hidden=True),
            *(p for url in (*MEMBER_URLS, *ADMIN_URLS)
              for p in page("pages/sign_in.py", "Sign in", ":material/login:", url, hidden=True)),
            *page(*SET_PASSWORD, hidden=True),
        ]}
    sections = {
        "Billing": [
            *page("pages/billing.py", "Billing", ":material/account_balance_wallet:",
                  "billing", default=True),
            *page("pages/my_wallets.py", "My wallets", ":material/wallet:", "my-wallets"),
            *page("pages/use_credits.py", "Use credits", ":material/smart_toy:", "use-credits"),
            *page("pages/analytics.py", "Spend analytics", ":material/monitoring:",
                  "analytics"),
            *page("pages/inbox.py", "Inbox", ":material/notifications:", "inbox"),
        ],
    }
    admin_pages = (
        ("pages/approvals.py", "Approvals", ":material/fact_check:", "approvals"),
        ("pages/people.py", "People & workspaces", ":material/group:", "people"),
        ("pages/audit_log.py", "Audit log", ":material/history:", "audit-log"),
    )
    if user.is_admin:
        sections["Administration"] = [
            *page(*admin_pages[0]),
            *page("pages/alerts_admin.py", "Alerts & webhooks", ":material/campaign:", "alerts"),
            *(p for args in admin_pages[1:] for p in page(*args)),
        ]
    else:
        # Not in a member's menu, but their addresses answer: each page itself says it is
        # for administrators (rather than Billing opening in its place).
        sections["Billing"] += [p for args in admin_pages for p in page(*args, hidden=True)]
    sections["Account"] = [
        *page("pages/account.py", "My account", ":material/manage_accounts:", "account"),
        *page(*SET_PASSWORD, hidden=True),  # a link opened while signed in
    ]
    return {name: pages for name, pages in sections.items() if pages}


def bell(user: User) -> None:
    """The unread count, on every page, linking to the inbox."""
    try:
        unread = get_ledger().unread_count(user)
    except BillingError:
        return
    st.page_link("pages/inbox.py", label=f"Inbox · {unread} unread" if unread else "Inbox",
                 icon=":material/notifications_active:" if unread else ":material/notifications:")


def sidebar(user: User) -> None:
    with st.sidebar:
        with st.container(border=True):
            st.text(visible_text(user.name))  # user data: drawn as text, never as markdown
            st.text(user.email)
            if user.is_admin:
                st.badge("Administrator", icon=":material/shield_person:", color="violet")
            else:
                st.badge("Member", icon=":material/person:", color="gray")
            bell(user)
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
    st.title("The billing console cannot open its ledger", anchor=False)
    st.error(plain(str(error)), icon=":material/database:")
    st.markdown(
        "An operator can create the embedded demo ledger with `make run`, or an empty one with "
        "`billing init --db PATH` (a PostgreSQL database too: `billing init --db postgresql://…`)."
    )
    st.stop()
sections = navigation_for(user)
# Signed out, the menu is empty because every page is hidden, not position="hidden": with
# a hidden menu, Streamlit 1.67's frontend keeps showing a sidebar that had content (the
# signed-in one, at signing out) until a run's end finds it empty, and the run that signs
# out ends before the browser has drawn its emptied sidebar; only a later run (the cookie's
# "done") could remove it, and only when the browser had drawn in between.
current = st.navigation(sections[""] if user is None else sections)
if user is not None:
    sidebar(user)  # after the navigation: its inbox link names a page of it
# Set or clear the session cookie when a change is pending; after the navigation, always.
# The browser's "done" reruns the cookie's fragment and names the page the browser thinks
# it is on; drawn before the navigation, it could say "done" before it had heard that
# signing in moved it from Sign in to Billing, and a fragment run naming another page than
# the browser's has Streamlit 1.67 clear the page's elements and draw only the fragment:
# a blank main area below the sidebar.
session_cookie()
st.set_page_config(page_title=f"{current.title} · en-credits")  # each page its own title
apply_focus()  # where an action asked focus to go (after signing in, Cancel, Approve)
current.run()
