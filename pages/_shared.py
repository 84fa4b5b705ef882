"""What every page shares: the one Ledger, the signed-in user, errors, formatting.

Not a page (the underscore keeps it out of navigation). No SQL and no business
rule here: those live in billing_core; this only carries state and renders.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

import streamlit as st

import billing_core
from billing_core import BillingError, Ledger, User, Workspace

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


def attempt(action: Callable[[], T]) -> T | None:
    """Run a billing_core call; show a BillingError's message and return None."""
    try:
        return action()
    except BillingError as error:
        st.error(str(error), icon="⚠️")
        return None


def viewer_timezone() -> ZoneInfo:
    name = st.context.timezone or "UTC"
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(viewer_timezone()).strftime("%Y-%m-%d %H:%M")


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
