"""Approvals' decisions log: every approved, rejected and cancelled request, newest first,
filtered by outcome, with its CSV (exact amounts).

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from billing_core import CreditRequest, Ledger, RequestStatus, User
from pages._shared import attempt, csv_download, local_time
from pages._text import visible_text

KEY = "billing.approvals"
OUTCOMES = [RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.CANCELLED]
TEXT_COLUMNS = ["Workspace", "Decided by", "Decision note", "Requested by", "Request note"]


def decisions_log_section(ledger: Ledger, admin: User) -> None:
    st.header("Decisions log", anchor=False)
    every = attempt(lambda: ledger.requests(admin))
    if every is None:
        return
    decided = sorted(
        (r for r in every if r.status is not RequestStatus.PENDING and r.decided_at),
        key=lambda r: (r.decided_at, r.id),
        reverse=True,
    )
    if not decided:
        st.info("No request has been approved, rejected or cancelled yet.")
        return
    kinds = st.pills(
        "Show", OUTCOMES, selection_mode="multi", default=OUTCOMES, key=f"{KEY}.log_kinds",
        format_func=str,
    )
    log = decisions_log([r for r in decided if r.status in (kinds or [])])
    shown = log.assign(
        Amount=log["Amount"].astype(float),  # drawn as 5,000.00 like every other amount
        **{c: log[c].map(visible_text) for c in TEXT_COLUMNS},
    )
    st.dataframe(shown.style.format({"Amount": "{:,.2f}"}), hide_index=True, key=f"{KEY}.log")
    csv_download(log, name="decisions-log", key=f"{KEY}.log_csv")  # exact amounts


def decisions_log(shown: list[CreditRequest]) -> pd.DataFrame:
    """The decided requests as a table: amounts exact (Decimal), user text as stored."""
    return pd.DataFrame(
        {
            "Decided": [local_time(r.decided_at) for r in shown],
            "Request": [f"#{r.id}" for r in shown],
            "Workspace": [r.workspace_name for r in shown],
            "Amount": pd.Series([r.amount for r in shown], dtype=object),
            "Outcome": [r.status.value for r in shown],
            "Decided by": [r.decided_by_name or "" for r in shown],
            "Decision note": [r.decision_note or "" for r in shown],
            "Requested by": [r.requested_by_name for r in shown],
            "Request note": [r.note or "" for r in shown],
            "Requested": [local_time(r.requested_at) for r in shown],
        },
        columns=["Decided", "Request", "Workspace", "Amount", "Outcome", "Decided by",
                 "Decision note", "Requested by", "Request note", "Requested"],
    )
