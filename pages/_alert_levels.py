"""Alerts & webhooks: each workspace's low-balance levels (a share of the last top-up,
days of runway, fixed amounts) and the spike factor. Not a page."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from billing_core import User
from pages._shared import attempt, credits, flash, get_ledger, pick_workspace
from pages._text import visible_text

KEY = "billing.alerts"


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
