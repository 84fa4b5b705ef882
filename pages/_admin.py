"""What the administrators' pages share: running a change from a button and reporting its
outcome on the next run, the console's own address for links, and the admins-only gate.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import streamlit as st

from billing_core import BillingError, User
from pages import _notice
from pages._notice import Notice, Tone
from pages._shared import flash, plain, require_user

T = TypeVar("T")
REFUSALS = "billing.admin"  # where a refused change is shown (the notice helper's place)


def change(action: Callable[[], T], done: Callable[[T], str]) -> None:
    """A button's callback: make the change; the next run shows `done(result)` as a toast
    and a status message, or billing_core's refusal as an error (`show_refusal`)."""
    try:
        result = action()
    except BillingError as error:
        _notice.notify(REFUSALS, Notice(plain(str(error)), Tone.ERROR))
        return
    flash(plain(done(result)))


def show_refusal() -> None:
    _notice.show(REFUSALS)


def admins_only(title: str, what: str) -> User:
    """The signed-in administrator; anyone else is told the page is not for them."""
    user = require_user()
    st.title(title, anchor=False)
    if not user.is_admin:
        st.error(f"{what} is for administrators only.", icon=":material/lock:")
        st.stop()
    return user


def app_url() -> str | None:
    """The console's own address (scheme, host and base path), for links to pass on."""
    url = st.context.url
    if not url:
        return None
    parts = urlsplit(url)
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"{parts.scheme}://{parts.netloc}" + (f"/{base}" if base else "")
