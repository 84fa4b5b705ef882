"""What every page shares: the one Ledger, the signed-in user, errors, formatting.

Not a page (the underscore keeps it out of navigation). No SQL and no business
rule here: those live in billing_core; this only carries state and renders.

Signing in starts a session in the ledger; this tab keeps its token in session state
and the browser keeps it in a cookie (pages/_cookie.py), which a reload, another tab or
a bookmark brings back. Every run asks the ledger who the token belongs to, so a session
ended anywhere (signed out in another tab, expired, the person deactivated) signs this
tab out on its next run.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

import pandas as pd
import streamlit as st

import billing_core
from billing_core import BillingError, Ledger, SessionEnded, User, Workspace
from billing_core.export import csv_bytes
from billing_core.notify.channels import SmtpSettings
from pages import _notice
from pages._cookie import COOKIE_NAME, cookie_jar
from pages._format import credits as credits  # re-exported: pages import them from here
from pages._format import figure as figure
from pages._format import local_time as local_time
from pages._format import viewer_timezone as viewer_timezone
from pages._text import plain

T = TypeVar("T")
SESSION_KEY = "billing.session"  # this tab's session token; None once signed out
COOKIE_KEY = "billing.cookie"  # a cookie change the browser has yet to make
COOKIE_DONE_KEY = "billing.cookie_done"
ENDED_KEY = "billing.session_ended"  # why this tab was signed out, for the Sign in page
WORKSPACE_KEY = "billing.workspace_id"
ADDRESS_KEY = "billing.workspace_in_address"  # the ?workspace= last followed


@st.cache_resource(show_spinner=False)
def get_ledger() -> Ledger:
    """The process's one Ledger, shared by every session (it is thread-safe), with its
    background threads: the expiry job, the notification dispatcher ($BILLING_DISPATCHER=off:
    not), with email configured from `.streamlit/secrets.toml`'s [smtp] or $BILLING_SMTP_*,
    and the backup thread (the scheduled backups, and those `billing backup` asks this
    process for)."""
    ledger = billing_core.open_ledger()
    try:
        ledger.start_expiry_job()
        smtp = _secret_table("smtp")
        if smtp:
            ledger.configure_email(SmtpSettings.from_mapping(smtp))
        ledger.start_backups()
        if os.environ.get("BILLING_DISPATCHER", "on") != "off":
            ledger.start_dispatcher()
    except BaseException:
        ledger.close()
        raise
    return ledger


def _secret_table(name: str) -> dict[str, object]:
    try:
        return dict(st.secrets[name]) if name in st.secrets else {}
    except FileNotFoundError:  # no secrets file
        return {}


def current_user() -> User | None:
    """The signed-in user, as the ledger knows them on this run; None when signed out.

    A tab's first run takes the token from the browser's cookie (a reload, a new tab, a
    bookmark); after that, session state holds it (None once signed out, so a cookie
    read at connection time is not taken again). A token the ledger refuses signs the
    tab out with its message and clears the cookie."""
    if SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = st.context.cookies.get(COOKIE_NAME)
    token = st.session_state.get(SESSION_KEY)
    if not token:
        return None
    try:
        return get_ledger().session_user(token, client=st.context.ip_address)
    except SessionEnded as ended:
        _forget(token, str(ended))
        return None


def current_session_id() -> int | None:
    """The id of this tab's session (the part of the token before the dot)."""
    token = st.session_state.get(SESSION_KEY)
    head = token.split(".", 1)[0] if isinstance(token, str) else ""
    return int(head) if head.isdigit() else None


def _forget(token: object, why: str | None) -> None:
    """Sign this tab out: drop its state and have the browser clear that token's cookie."""
    for key in list(st.session_state.keys()):
        if str(key).startswith("billing.") and key != COOKIE_DONE_KEY:
            del st.session_state[key]
    st.session_state[SESSION_KEY] = None
    if isinstance(token, str):
        st.session_state[COOKIE_KEY] = {"clear": token, "nonce": secrets.token_hex(8)}
    if why:
        st.session_state[ENDED_KEY] = why


def _cookie_done() -> None:
    done = (st.session_state.get(COOKIE_DONE_KEY) or {}).get("done")
    pending = st.session_state.get(COOKIE_KEY)
    if pending and pending.get("nonce") == done:
        del st.session_state[COOKIE_KEY]


@st.fragment
def session_cookie() -> None:
    """Draw the pending cookie change, if any (app.py, on every run, after st.navigation:
    the browser's "done" names the page it is on, so it must have heard of the run's page
    change first). A fragment: the "done" reruns only this, not the page around it."""
    cookie_jar(COOKIE_DONE_KEY, st.session_state.get(COOKIE_KEY), _cookie_done)


def require_user() -> User:
    user = current_user()
    if user is None:
        st.warning("Sign in to continue.")
        st.stop()
    assert user is not None
    return user


def sign_in(user: User) -> None:
    """Start a session for `user`, who has just proved who they are; the browser keeps
    its token in the cookie."""
    ledger = get_ledger()
    started = ledger.start_session(
        user, client=st.context.ip_address, user_agent=st.context.headers.get("User-Agent")
    )
    st.session_state.pop(ENDED_KEY, None)
    st.session_state[SESSION_KEY] = started.token
    seconds = max(0, int((started.expires_at - ledger.now()).total_seconds()))
    st.session_state[COOKIE_KEY] = {"set": started.token, "maxAge": seconds, "nonce": secrets.token_hex(8)}


def sign_out(*, everywhere: User | None = None) -> None:
    """End this tab's session (every tab holding its cookie is signed out on its next
    run); with `everywhere`, every session of that person."""
    token = st.session_state.get(SESSION_KEY)
    if everywhere is not None:
        get_ledger().end_all_sessions(everywhere)
    elif token:
        get_ledger().end_session(token)
    _forget(token, None)


PAGE_ERRORS_VARIABLE = "BILLING_PAGE_ERRORS"  # "raise": let a bug surface (the page tests set it)
_log = logging.getLogger("billing.pages")


@contextmanager
def section(name: str) -> Iterator[None]:
    """One part of a page, behind its own error boundary: a BillingError is shown as its
    message; anything else (a bug) as one readable sentence, its detail logged, and the
    rest of the page is still drawn. No page ever shows a traceback."""
    try:
        yield
    except BillingError as error:
        st.error(plain(str(error)), icon="⚠️")
    except Exception:
        if os.environ.get(PAGE_ERRORS_VARIABLE) == "raise":
            raise
        reference = secrets.token_hex(4)
        _log.exception("page section %r failed (reference %s)", name, reference)
        st.error(
            f"This part of the page ({plain(name)}) could not be shown because of an error on "
            f"our side. The rest of the page is fine. The details were logged with reference "
            f"{reference}.",
            icon="⚠️",
        )


def attempt(action: Callable[[], T]) -> T | None:
    """Run a billing_core call; show a BillingError's message and return None."""
    try:
        return action()
    except BillingError as error:
        st.error(plain(str(error)), icon="⚠️")  # messages may quote user text
        return None


def _workspace_in_address(spaces: list[Workspace]) -> Workspace | None:
    """The workspace `?workspace=ID` names, if the user may see it."""
    wanted = st.query_params.get("workspace")
    return next((w for w in spaces if wanted is not None and str(w.id) == wanted), None)


def _picked(key: str) -> None:
    """The reader picked a workspace: remember it; an address that names a workspace
    (a link brought the reader here) is kept true to the choice."""
    choice = st.session_state.get(key)
    if not isinstance(choice, Workspace):
        return
    st.session_state[WORKSPACE_KEY] = choice.id
    if "workspace" in st.query_params:
        st.query_params["workspace"] = str(choice.id)
        st.session_state[ADDRESS_KEY] = choice.id


def pick_workspace(user: User, *, key: str = "billing.workspace_pick") -> Workspace | None:
    """A picker over the workspaces the user may see; remembers the choice and honours
    `?workspace=ID` (billing_core still checks access on every call).

    Drawing the page never writes the address: every write adds a browser history entry,
    so Back would land on the same page. A link's `?workspace=` is followed when it
    changes (a new link, or Back/Forward to an entry that names another workspace); a
    pick rewrites it only when the address already names a workspace."""
    ledger = get_ledger()
    spaces = ledger.workspaces(user)
    if not spaces:
        st.info("You are not a member of any workspace yet. Ask an administrator to add you.")
        return None
    linked = _workspace_in_address(spaces)
    shown = next((w for w in spaces if w.id == st.session_state.get(WORKSPACE_KEY)), spaces[0])
    if linked is not None and linked.id != st.session_state.get(ADDRESS_KEY):
        shown = linked  # the address changed (a link, Back or Forward): follow it
    st.session_state[ADDRESS_KEY] = linked.id if linked else None
    st.session_state[key] = shown  # one source: the remembered choice (a pick updates it)
    choice = st.selectbox("Workspace", spaces, format_func=lambda w: w.name, key=key,
                          on_change=_picked, args=(key,))
    if choice is not None:
        st.session_state[WORKSPACE_KEY] = choice.id
    return choice


# --- helpers for the admin and analytics pages -------------------------------------------

def ago(moment: datetime | None) -> str:
    """`"3 h ago"`, `"2 d ago"`, `"just now"`: coarse, for queues; measured from the
    ledger's clock, never the wall clock."""
    if moment is None:
        return ""
    seconds = int((get_ledger().now() - moment).total_seconds())
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def try_billing(action: Callable[[], T]) -> tuple[T | None, BillingError | None]:
    """Like `attempt`, but hand the BillingError back instead of drawing it, for batches
    whose outcomes are reported together."""
    try:
        return action(), None
    except BillingError as error:
        return None, error


def csv_download(frame: pd.DataFrame, *, name: str, key: str, label: str = "Download CSV") -> None:
    """A download button for the data behind a chart or table (clicking it does not rerun)."""
    st.download_button(
        label,
        data=csv_bytes(frame),  # cells a spreadsheet would run as formulas are made inert
        file_name=f"{name}.csv",
        mime="text/csv",
        key=key,
        icon=":material/download:",
        on_click="ignore",
        disabled=frame.empty,
    )


# --- helpers for the member pages (sign-in, billing, my wallets, use credits) ------------

NO_CREDITS = "No credits available: features that use en-credits are blocked."


def flash(message: str) -> None:
    """Queue a confirmation for the top of the next run's page, as a toast and a status
    message (a toast drawn just before `st.rerun()` is lost). `message` is the page's own
    words: it is drawn as markdown."""
    _notice.notify(_notice.PAGE, _notice.Notice(message, toast=message))


def show_flash() -> None:
    """Draw what `flash` queued (the pages call `_notice.show(_notice.PAGE)` directly)."""
    _notice.show(_notice.PAGE)


def sso_configured() -> bool:
    """True when `.streamlit/secrets.toml` has an `[auth]` section (OpenID Connect)."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets file at all, or one that cannot be read
        return False
