"""Alerts & webhooks: the delivery log of emails and webhooks, its CSV, and send again
for a delivery whose retries ran out. Not a page."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from billing_core import DeliveryStatus, User
from pages._shared import attempt, csv_download, flash, get_ledger, local_time
from pages._text import visible_text

KEY = "billing.alerts"


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
        "Next try": [local_time(d.next_attempt_at) if d.status is DeliveryStatus.PENDING else ""
                     for d in log],
    })
    st.dataframe(frame, hide_index=True)
    csv_download(frame, name="deliveries", key=f"{KEY}.log_csv")
    failed = [d.id for d in log if d.status is DeliveryStatus.FAILED]
    if failed:
        pick, again = st.columns([3, 1], vertical_alignment="bottom")
        chosen = pick.selectbox("Failed delivery", failed, key=f"{KEY}.failed")
        if again.button("Send again", key=f"{KEY}.again") and attempt(
                lambda: ledger.send_again(admin, int(chosen))) is not None:
            flash(f"Delivery {chosen} will be sent again.")
            st.rerun()
