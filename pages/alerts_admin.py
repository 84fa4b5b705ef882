"""Alerts & webhooks (administrators): each workspace's low-balance levels, the webhook
endpoints that receive signed events, and the delivery log.

billing_core checks every setting, URL and secret, and keeps the audit trail; this page
asks, shows and reports what it said.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from billing_core import Event, User
from billing_core.notify.channels import new_secret
from pages._shared import (
    attempt,
    credits,
    csv_download,
    flash,
    get_ledger,
    local_time,
    pick_workspace,
    plain,
    require_user,
    section,
    show_flash,
)
from pages._text import visible_text

KEY = "billing.alerts"
NEW_SECRET = f"{KEY}.new_secret"


def levels_section(admin: User) -> None:
    ledger = get_ledger()
    workspace = pick_workspace(admin, key=f"{KEY}.workspace")
    if workspace is None:
        return
    current = attempt(lambda: ledger.thresholds(admin, workspace.id))
    if current is None:
        return
    if current.levels:
        st.dataframe(
            pd.DataFrame({
                "Level": [visible_text(name) for name, _ in current.levels],
                "Amount (en-credits)": [credits(amount) for _, amount in current.levels],
                "Alert": ["firing" if name in current.active else "quiet" for name, _ in current.levels],
            }),
            hide_index=True,
        )
    else:
        st.info("No levels yet: a share of the last top-up needs a top-up, runway needs spend.",
                icon=":material/notifications_off:")
    with st.form(f"{KEY}.levels", border=True):
        share = st.text_input("Share of the last top-up (empty: off)",
                              value="" if current.top_up_share is None else str(current.top_up_share),
                              help="0.2 alerts when the balance falls below 20% of the last top-up.")
        runway = st.text_input("Days of runway (comma-separated)",
                               value=", ".join(str(d) for d in current.runway_days),
                               help="At the last 30 days' burn rate.")
        amounts = st.text_input("Fixed amounts (comma-separated en-credits)",
                                value=", ".join(str(a) for a in current.amounts))
        factor = st.text_input("Spike factor", value=str(current.spike_factor),
                               help="Spend more than this many times the usual is reported.")
        saved = st.form_submit_button("Save levels")
    if saved:
        days = [d.strip() for d in runway.split(",") if d.strip()]
        if not all(d.isdigit() for d in days):
            st.error("Days of runway are whole numbers, such as 3, 7.", icon="⚠️")
            return
        done = attempt(lambda: ledger.set_thresholds(
            admin, workspace.id, top_up_share=share.strip() or None, runway_days=[int(d) for d in days],
            amounts=[a.strip() for a in amounts.split(",") if a.strip()], spike_factor=factor.strip(),
        ))
        if done is not None:
            flash(f"Levels of {visible_text(workspace.name)} saved.")
            st.rerun()


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


def deliveries_section(admin: User) -> None:
    ledger = get_ledger()
    log = attempt(lambda: ledger.deliveries(admin, limit=200))
    if not log:
        st.info("Nothing sent yet.", icon=":material/outbox:")
        return
    frame = pd.DataFrame({
        "Delivery": [d.id for d in log],
        "Event": [d.event for d in log],
        "To": [visible_text(d.target) for d in log],
        "Status": [d.status for d in log],
        "Tries": [d.attempts for d in log],
        "Last error": [visible_text(d.last_error or "") for d in log],
        "Response (ms)": [d.response_ms for d in log],
        "Next try": [local_time(d.next_attempt_at) if d.status == "pending" else "" for d in log],
    })
    st.dataframe(frame, hide_index=True)
    csv_download(frame, name="deliveries", key=f"{KEY}.log_csv")
    failed = [d.id for d in log if d.status == "failed"]
    if failed:
        pick, again = st.columns([3, 1], vertical_alignment="bottom")
        chosen = pick.selectbox("Failed delivery", failed, key=f"{KEY}.failed")
        if again.button("Send again", key=f"{KEY}.again") and attempt(
                lambda: ledger.send_again(admin, int(chosen))) is not None:
            flash(f"Delivery {chosen} will be sent again.")
            st.rerun()


st.title("Alerts & webhooks")
viewer = require_user()
if not viewer.is_admin:
    st.error("Alerts and webhooks are set by administrators.", icon=":material/lock:")
    st.stop()
show_flash()
st.header("Low-balance levels", anchor=False)
with section("Low-balance levels"):
    levels_section(viewer)
st.header("Webhooks", anchor=False)
with section("Webhooks"):
    webhooks_section(viewer)
st.header("Delivery log", anchor=False)
with section("Delivery log"):
    deliveries_section(viewer)
st.caption(plain("Email settings are each person's own, on their Inbox page."))
