"""My account's sessions: where the person is signed in, End one, Sign out everywhere.

Not a page (the underscore keeps it out of navigation). billing_core decides whose
sessions may be ended; this lists them and reports.
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from billing_core import SessionInfo, User
from pages._shared import (
    attempt,
    current_session_id,
    flash,
    get_ledger,
    local_time,
    plain,
    sign_out,
)
from pages._text import visible_text

KEY = "billing.account"


def duration(span: timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    if minutes % 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    return f"{hours} hour{'s' if hours != 1 else ''}"


def browser(session: SessionInfo) -> str:
    agent = session.user_agent or "An unknown browser"
    return visible_text(agent if len(agent) <= 90 else agent[:89] + "…")


def end_one(user: User, session_id: int) -> None:
    if session_id == current_session_id():
        sign_out()
        return
    if attempt(lambda: get_ledger().end_session_by_id(user, session_id)) is None:
        flash(f"Session {session_id} has ended: that browser must sign in again.")


def session_row(user: User, session: SessionInfo, here: int | None) -> None:
    with st.container(border=True, key=f"{KEY}.session.{session.id}"):
        about, act = st.columns([5, 1], vertical_alignment="center")
        with about:
            if session.id == here:
                st.badge("This browser", icon=":material/check:", color="green")
            st.text(browser(session))
            where = f" from {session.client}" if session.client else ""
            st.caption(
                f"Signed in {local_time(session.created_at)}{plain(where)} · last used "
                f"{local_time(session.last_seen_at)} · ends by {local_time(session.expires_at)}"
            )
        act.button("Sign out" if session.id == here else "End", key=f"{KEY}.end.{session.id}",
                   on_click=end_one, args=(user, session.id), width="stretch")


def sessions_section(user: User) -> None:
    head, everywhere = st.columns([4, 1.4], vertical_alignment="bottom")
    with head:
        st.header("Where you are signed in", anchor=False)
    everywhere.button("Sign out everywhere", key=f"{KEY}.everywhere", icon=":material/logout:",
                      on_click=lambda: sign_out(everywhere=user), width="stretch")
    found = attempt(lambda: get_ledger().sessions(user))
    if found is None:
        return
    settings = get_ledger().settings
    st.caption(
        f"A session ends {duration(settings.session_lifetime)} after signing in, or after "
        f"{duration(settings.session_idle)} without use."
    )
    here = current_session_id()
    for session in found:
        session_row(user, session, here)
