"""Alerts & webhooks: the endpoints that receive signed events, and a fresh signing
secret for the next one. Not a page."""

from __future__ import annotations

import streamlit as st

from billing_core import Event, User
from billing_core.notify.channels import new_secret
from pages._shared import attempt, flash, get_ledger
from pages._text import visible_text

KEY = "billing.alerts"
NEW_SECRET = f"{KEY}.new_secret"


def add_webhook(admin: User, url: str, events: list[str], secret: str) -> None:
    made = attempt(lambda: get_ledger().add_webhook(admin, url, secret=secret, events=events))
    if made is not None:
        st.session_state.pop(NEW_SECRET, None)
        flash(f"Webhook {made.id} added: events are signed with the secret shown before saving.")


def webhooks_section(admin: User) -> None:
    ledger = get_ledger()
    hooks = attempt(lambda: ledger.webhooks(admin)) or []
    for hook in (h for h in hooks if h.active):
        with st.container(border=True, key=f"{KEY}.hook.{hook.id}"):
            about, remove = st.columns([5, 1], vertical_alignment="center")
            about.text(f"{visible_text(hook.url)}\n{', '.join(hook.events)}")
            remove.button("Remove", key=f"{KEY}.remove.{hook.id}", width="stretch",
                          on_click=lambda h=hook.id: attempt(lambda: ledger.remove_webhook(admin, h)))
    secret = st.session_state.setdefault(NEW_SECRET, new_secret())
    with st.form(f"{KEY}.add", border=True):
        url = st.text_input("Endpoint URL", placeholder="https://hooks.example.com/billing")
        events = st.multiselect("Events", [e.value for e in Event], default=[Event.BALANCE_LOW.value])
        st.text_input("Signing secret (copy it now: it is not shown again)", value=secret, disabled=True)
        added = st.form_submit_button("Add webhook")
    if added:
        add_webhook(admin, url, events, secret)
        st.rerun()
