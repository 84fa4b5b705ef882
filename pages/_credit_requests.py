"""Billing's credit requests: New request (a dialog), the pending cards with Cancel, and
the decided requests by status.

Not a page (the underscore keeps it out of navigation). billing_core validates the amount
and decides who may cancel; this asks, and tells what it said.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from billing_core import BillingError, CreditRequest, InvalidAmount, RequestStatus, User, Workspace
from pages import _a11y, _notice
from pages._notice import Notice, Tone
from pages._shared import credits, flash, get_ledger, local_time, plain, try_billing
from pages._text import visible_text

DIALOG_KEY = "billing.request_dialog"
HEAD_KEY = "billing.requests.head"
NOTICES = "billing.requests"  # where a refused cancel is shown
STATUS_TITLES = {
    RequestStatus.PENDING: "Pending",
    RequestStatus.APPROVED: "Approved",
    RequestStatus.REJECTED: "Rejected",
    RequestStatus.CANCELLED: "Cancelled",
}


AMOUNT_KEY, NOTE_KEY = "billing.request.amount", "billing.request.note"
NEW_KEY = "billing.requests.new"


def submit_request(
    user: User, workspace_id: int, amount: str, note: str
) -> tuple[CreditRequest | None, BillingError | None]:
    """Ask for credits. The amount goes to billing_core as typed, so its own validation
    and messages apply; a refusal is drawn as an error, tied to its field, and nothing
    is written."""
    created, error = try_billing(
        lambda: get_ledger().request_credits(user, workspace_id, amount, note))
    if error is not None:
        st.error(plain(str(error)), icon="⚠️")
    return created, error


def field_of(error: BillingError | None) -> str | None:
    """The field a refusal is about: the amount, or else (a bad note) the note."""
    if error is None:
        return None
    return AMOUNT_KEY if isinstance(error, InvalidAmount) else NOTE_KEY


def created_message(created: CreditRequest) -> str:
    """What became of a new request: pending, or approved at once by the standing approval."""
    if created.status is RequestStatus.APPROVED:
        return (f"Request #{created.id} for {credits(created.amount)} was approved at once by the "
                "workspace's standing approval.")
    return f"Request #{created.id} for {credits(created.amount)} is pending approval."


def close_request_dialog() -> None:
    st.session_state.pop(DIALOG_KEY, None)


@st.dialog("New credit request", on_dismiss=close_request_dialog)
def request_dialog(user: User, workspace: Workspace) -> None:
    st.caption(
        f"For {plain(workspace.name)}. The request is created as Pending and waits for an "
        "administrator; once approved, the credits are added to the wallet."
    )
    with st.form("billing.request.form", border=False, enter_to_submit=True):
        amount = st.text_input("Amount (en-credits)", key=AMOUNT_KEY,
                               placeholder="For example 500 or 250.50")
        note = st.text_area("Note (optional)", key=NOTE_KEY, max_chars=2000,
                            placeholder="What the credits are for")
        submitted = st.form_submit_button("Submit request", type="primary")
    created, error = submit_request(user, workspace.id, amount, note) if submitted else (None, None)
    field = field_of(error)
    for key, element in ((AMOUNT_KEY, "input"), (NOTE_KEY, "textarea")):
        _a11y.field_error(key, [_a11y.widget(key, element)],
                          visible_text(error) if field == key else None)
    if created is not None:
        close_request_dialog()
        flash(created_message(created))
        _a11y.request_focus(_a11y.widget(NEW_KEY, "button"))  # back where the dialog opened
        st.rerun()


def reason_key(request_id: int) -> str:
    return f"billing.requests.reason.{request_id}"


def cancel_request(user: User, request: CreditRequest, others: list[int]) -> None:
    """The Cancel button's callback: it runs before the page is drawn again, so a request
    another session decided meanwhile still gets billing_core's explanation. The reason
    typed beside it (optional) is kept with the cancellation. The card goes away, so
    focus moves to the next pending card's Cancel (`others`, nearest first), or else to
    the section's heading."""
    try:
        get_ledger().cancel_request(user, request.id, st.session_state.get(reason_key(request.id)) or None)
    except BillingError as error:
        _notice.notify(NOTICES, Notice(plain(str(error)), Tone.ERROR))
    else:
        flash(f"Request #{request.id} for {credits(request.amount)} was cancelled.")
        _a11y.request_focus(*(_a11y.widget(f"billing.requests.cancel.{i}", "button")
                              for i in others), f".st-key-{HEAD_KEY.replace('.', '-')} h2")


def pending_request(user: User, request: CreditRequest, others: list[int]) -> None:
    with st.container(border=True, key=f"billing.requests.pending.{request.id}"):
        amount, who, action = st.columns([1.3, 3, 0.8], vertical_alignment="center")
        amount.markdown(f"**{credits(request.amount)}**")
        with who:
            st.caption(
                f"#{request.id} · asked by {plain(request.requested_by_name)} on "
                f"{local_time(request.requested_at)}"
            )
            if request.note:
                st.text(request.note)
        if user.is_admin or request.requested_by == user.id:
            action.text_input("Why cancel (optional)", key=reason_key(request.id),
                              placeholder="Why cancel (optional)", label_visibility="collapsed")
            action.button("Cancel", key=f"billing.requests.cancel.{request.id}",
                          icon=":material/close:", on_click=cancel_request,
                          args=(user, request, others))


def cancelled_by(request: CreditRequest) -> str:
    """Who cancelled: the requester, or the responsible party (an administrator)."""
    role = "the requester" if request.cancelled_by_requester else "an administrator"
    return f"{request.decided_by_name or ''} ({role})"


def cancelled_table(requests: list[CreditRequest]) -> None:
    frame = pd.DataFrame(
        {
            "Request": [f"#{r.id}" for r in requests],
            "Amount": [credits(r.amount) for r in requests],
            "Asked by": [visible_text(r.requested_by_name) for r in requests],
            "Asked on": [local_time(r.requested_at) for r in requests],
            "Cancelled by": [visible_text(cancelled_by(r)) for r in requests],
            "Cancelled on": [local_time(r.decided_at) for r in requests],
            "Why": [visible_text(r.decision_note or "") for r in requests],
        }
    )
    st.dataframe(frame, hide_index=True)


def decided_table(requests: list[CreditRequest]) -> None:
    frame = pd.DataFrame(
        {
            "Request": [f"#{r.id}" for r in requests],
            "Amount": [credits(r.amount) for r in requests],
            "Asked by": [r.requested_by_name for r in requests],
            "Asked on": [local_time(r.requested_at) for r in requests],
            "Note": [r.note or "" for r in requests],
            "Decided by": [r.decided_by_name or "" for r in requests],
            "Decided on": [local_time(r.decided_at) for r in requests],
            "Decision note": [r.decision_note or "" for r in requests],
        }
    )
    st.dataframe(frame, hide_index=True)


def requests_section(user: User, workspace: Workspace, requests: list[CreditRequest]) -> None:
    title, new = st.columns([4, 1], vertical_alignment="bottom")
    with title.container(key=HEAD_KEY):
        st.header("Credit requests", anchor=False)
    if new.button("New request", type="primary", icon=":material/add:",
                  key=NEW_KEY, width="stretch"):
        st.session_state[DIALOG_KEY] = workspace.id
    if st.session_state.get(DIALOG_KEY) == workspace.id:
        request_dialog(user, workspace)
    _notice.show(NOTICES)
    if not requests:
        st.info(
            "No credit requests yet. When the workspace needs more en-credits, use "
            "New request; an administrator will review it.",
            icon=":material/request_quote:",
        )
        return
    grouped = {s: [r for r in requests if r.status is s] for s in STATUS_TITLES}
    tabs = st.tabs([f"{STATUS_TITLES[s]} ({len(grouped[s])})" for s in STATUS_TITLES])
    for (status, items), tab in zip(grouped.items(), tabs, strict=True):
        with tab:
            if not items:
                st.caption(f"No {STATUS_TITLES[status].lower()} requests.")
            elif status is RequestStatus.PENDING:
                ids = [r.id for r in items]
                for n, request in enumerate(items):
                    pending_request(user, request, ids[n + 1:] + ids[:n][::-1])
            elif status is RequestStatus.CANCELLED:
                cancelled_table(items)
            else:
                decided_table(items)
