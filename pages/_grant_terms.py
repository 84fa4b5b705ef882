"""Approvals: the terms of the grant an approval makes (kind, and when it expires), per
pending request, prefilled with the workspace's policy defaults; `end_of` is also the
expiry of an administrator's direct grant (People & workspaces, Credits).

Not a page (the underscore keeps it out of navigation). billing_core checks the terms.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import streamlit as st

from billing_core import CreditRequest, GrantKind, Ledger, User
from pages._shared import viewer_timezone

KEY = "billing.approvals"
KIND_LABELS = {GrantKind.PURCHASED.value: "Purchased", GrantKind.PROMOTIONAL.value: "Promotional"}


def kind_key(request_id: int) -> str:
    return f"{KEY}.kind.{request_id}"


def expiry_key(request_id: int) -> str:
    return f"{KEY}.expires.{request_id}"


def prefill(ledger: Ledger, admin: User, queue: list[CreditRequest]) -> None:
    """Each new card starts with its workspace's policy: the kind its approvals grant, and
    the last day before they expire (none: never). What the admin changed is kept."""
    policies = {}
    today = ledger.today()
    for request in queue:
        if kind_key(request.id) in st.session_state:
            continue
        if request.workspace_id not in policies:
            policies[request.workspace_id] = ledger.credit_policy(admin, request.workspace_id)
        policy = policies[request.workspace_id]
        st.session_state[kind_key(request.id)] = policy.grant_kind.value
        st.session_state[expiry_key(request.id)] = (
            today + timedelta(days=policy.grant_days) if policy.grant_days else None
        )


def fields(request_id: int, today: date) -> None:
    kind, ends = st.columns(2)
    kind.selectbox("Grant", list(KIND_LABELS), format_func=KIND_LABELS.__getitem__, key=kind_key(request_id),
                   help="Promotional credits are drawn before purchased ones.")
    ends.date_input("Expires after", key=expiry_key(request_id), min_value=today, format="YYYY-MM-DD",
                    help="The last day the credits can be used; empty: they never expire.")


def terms(request_id: int) -> tuple[str, datetime | None]:
    """(kind, expiry) chosen on the card: the expiry is the end of the last day picked, in
    the admin's time zone."""
    kind = str(st.session_state.get(kind_key(request_id)) or GrantKind.PURCHASED.value)
    return kind, end_of(st.session_state.get(expiry_key(request_id)))


def end_of(last: object) -> datetime | None:
    """The expiry of credits usable through the day `last` (the end of that day in the
    viewer's time zone); None (no day picked): they never expire."""
    if not isinstance(last, date):
        return None
    return datetime.combine(last + timedelta(days=1), time(), viewer_timezone())
