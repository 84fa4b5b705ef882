"""What every page shares: the one Ledger, the signed-in user, errors, formatting.

Not a page (the underscore keeps it out of navigation). No SQL and no business
rule here: those live in billing_core; this only carries state and renders.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

import billing_core
from billing_core import BillingError, Ledger, User, Workspace
from billing_core.export import csv_bytes
from pages._text import plain

T = TypeVar("T")
USER_KEY = "billing.user_id"
WORKSPACE_KEY = "billing.workspace_id"


@st.cache_resource(show_spinner=False)
def get_ledger() -> Ledger:
    """The process's one Ledger, shared by every session (it is thread-safe)."""
    return billing_core.open_ledger()


def current_user() -> User | None:
    """The signed-in user, re-read from the ledger on every run (never trusted from state)."""
    user_id = st.session_state.get(USER_KEY)
    if not isinstance(user_id, int):
        return None
    return get_ledger().user_by_id(user_id)


def require_user() -> User:
    user = current_user()
    if user is None:
        st.warning("Sign in to continue.")
        st.stop()
    assert user is not None
    return user


def sign_in(user: User) -> None:
    st.session_state[USER_KEY] = user.id


def sign_out() -> None:
    for key in list(st.session_state.keys()):
        if str(key).startswith("billing."):
            del st.session_state[key]


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


def viewer_timezone() -> ZoneInfo:
    name = st.context.timezone or "UTC"
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime | None) -> str:
    """A time in the viewer's zone, to the minute; at the ends of the calendar, where the
    zone's offset would leave the years a datetime can hold, in UTC (marked so)."""
    if moment is None:
        return ""
    try:
        return moment.astimezone(viewer_timezone()).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, ValueError):
        return moment.strftime("%Y-%m-%d %H:%M UTC")


def credits(amount: object) -> str:
    from decimal import Decimal

    return billing_core.format_credits(amount if isinstance(amount, Decimal) else Decimal(str(amount)))


def pick_workspace(user: User, *, key: str = "billing.workspace_pick") -> Workspace | None:
    """A picker over the workspaces the user may see; remembers the choice and honours
    `?workspace=ID` (billing_core still checks access on every call)."""
    ledger = get_ledger()
    spaces = ledger.workspaces(user)
    if not spaces:
        st.info("You are not a member of any workspace yet. Ask an administrator to add you.")
        return None
    wanted = st.query_params.get("workspace") or st.session_state.get(WORKSPACE_KEY)
    ids = [w.id for w in spaces]
    index = 0
    if wanted is not None and str(wanted).isdigit() and int(wanted) in ids:
        index = ids.index(int(wanted))
    choice = st.selectbox(
        "Workspace", spaces, index=index, format_func=lambda w: w.name, key=key
    )
    if choice is not None:
        st.session_state[WORKSPACE_KEY] = choice.id
        st.query_params["workspace"] = str(choice.id)
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


def figure(amount: object) -> str:
    """An amount without its unit (`"1,234.50"`), for metrics whose label names the unit."""
    from decimal import Decimal

    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    return billing_core.format_credits(value, unit=False)


# --- helpers for the member pages (sign-in, billing, my wallets, use credits) ------------

FLASH_KEY = "billing.flash"
NO_CREDITS = "No credits available: features that use en-credits are blocked."


def flash(message: str, icon: str = ":material/check_circle:") -> None:
    """Queue a toast for the next run: a toast drawn just before `st.rerun()` is lost."""
    st.session_state[FLASH_KEY] = (message, icon)


def show_flash() -> None:
    queued = st.session_state.pop(FLASH_KEY, None)
    if queued:
        st.toast(queued[0], icon=queued[1])


def sso_configured() -> bool:
    """True when `.streamlit/secrets.toml` has an `[auth]` section (OpenID Connect)."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets file at all, or one that cannot be read
        return False


_SENTINEL_JS = """
export default function ({ data, parentElement, setTriggerValue }) {
  const sentinel = parentElement.querySelector(".sentinel");
  if (!sentinel || !data || !data.armed) return;
  let sent = false;
  const observer = new IntersectionObserver((entries) => {
    if (!sent && entries.some((entry) => entry.isIntersecting)) {
      sent = true;
      setTriggerValue("reached", data.token);
    }
  });
  observer.observe(sentinel);
  return () => observer.disconnect();
}
"""

_scroll_sentinel = st.components.v2.component(
    "billing_scroll_sentinel",
    html='<div class="sentinel" aria-hidden="true"></div>',
    css=".sentinel { height: 1px; }",
    js=_SENTINEL_JS,
)


def end_of_list_reached(
    key: str, token: int, *, armed: bool, on_reached: Callable[[], None] | None = None
) -> bool:
    """Mount an invisible marker at the end of a scrolling list (Streamlit's components v2,
    an IntersectionObserver in a few lines of JavaScript). When it scrolls into view it sends
    `token` back once: `on_reached` runs before the next run, where `st.session_state[key]`
    holds `{"reached": token}`, and the call returns True in that run. Pass the list's
    length as `token`, so a late signal about a shorter list can be told apart."""
    result = _scroll_sentinel(
        key=key,
        data={"token": token, "armed": armed},
        on_reached_change=on_reached or (lambda: None),
    )
    return armed and result.reached == token
