"""The Inbox page's sections: the notifications, newest first, with mark read, and each
person's email choices. Not a page (the underscore keeps it out of navigation)."""

from __future__ import annotations

import streamlit as st

from billing_core import Event, Notification, User
from pages._shared import attempt, flash, get_ledger, local_time, plain

KEY = "billing.inbox"
LABELS = {
    Event.REQUEST_CREATED: "New credit request",
    Event.REQUEST_APPROVED: "Request approved",
    Event.REQUEST_REJECTED: "Request rejected",
    Event.REQUEST_CANCELLED: "Request cancelled",
    Event.WALLET_DEACTIVATED: "Wallet deactivated",
    Event.WALLET_ACTIVATED: "Wallet activated",
    Event.BALANCE_LOW: "Low balance",
    Event.BALANCE_RESOLVED: "Balance recovered",
    Event.BALANCE_ZERO: "No credits available",
    Event.SPEND_SPIKE: "Unusual spend",
}


def label(event: str) -> str:
    return LABELS.get(Event(event), event) if event in {e.value for e in Event} else event


def mark_read(user: User, ids: list[int] | None) -> None:
    changed = attempt(lambda: get_ledger().mark_read(user, ids))
    if changed:
        flash("Marked as read." if ids else f"All {changed} marked as read.")


def notification_card(user: User, note: Notification) -> None:
    with st.container(border=True, key=f"{KEY}.note.{note.id}"):
        head, action = st.columns([5, 1], vertical_alignment="center")
        with head:
            state = "" if note.read else " · **unread**"
            st.markdown(f"**{plain(label(note.event))}** · {plain(local_time(note.created_at))}{state}")
            st.text(note.text)  # user text (names, notes) drawn as text
            if note.workspace_id is not None:
                st.page_link(
                    "pages/billing.py",
                    label=f"Open {plain(note.workspace_name or 'the workspace')}'s billing",
                    icon=":material/arrow_forward:",
                    query_params={"workspace": str(note.workspace_id)},
                )
        if not note.read:
            action.button("Mark read", key=f"{KEY}.read.{note.id}", on_click=mark_read,
                          args=(user, [note.id]), width="stretch")


def inbox_section(user: User) -> None:
    ledger = get_ledger()
    unread_only = st.toggle("Unread only", key=f"{KEY}.unread_only")
    notes = attempt(lambda: ledger.notifications(user, unread_only=unread_only))
    if notes is None:
        return
    unread = sum(not n.read for n in notes)
    top, button = st.columns([4, 1], vertical_alignment="center")
    top.markdown(f"{unread} unread of the {len(notes)} shown.")
    button.button("Mark all read", key=f"{KEY}.read_all", on_click=mark_read, args=(user, None),
                  disabled=unread == 0, width="stretch")
    if not notes:
        st.info("Nothing here yet: new requests, decisions and low balances will be listed here.",
                icon=":material/notifications:")
    for note in notes:
        notification_card(user, note)


def email_section(user: User) -> None:
    ledger = get_ledger()
    current = attempt(lambda: ledger.notification_settings(user))
    if current is None:
        return
    with st.form(f"{KEY}.email", border=True):
        enabled = st.toggle("Email me", value=current.email_enabled, key=f"{KEY}.email.on")
        chosen = st.multiselect(
            "About", [e.value for e in Event], default=list(current.email_events),
            format_func=label, key=f"{KEY}.email.events",
        )
        saved = st.form_submit_button("Save email choices")
    if saved and attempt(lambda: ledger.set_notification_settings(
            user, email_enabled=enabled, email_events=chosen)) is not None:
        st.success("Saved. The inbox keeps everything either way.", icon=":material/check_circle:")
