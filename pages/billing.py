"""Billing: one workspace's wallet, credit requests, spend and transaction history.

Every number and rule comes from billing_core; this page picks the workspace, asks,
and draws. User text (descriptions, notes, names) is always drawn as text. The history
comes last: it grows as the reader scrolls to its end, so nothing may sit below it.
Each section is behind its own error boundary (`section`).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pandas as pd
import streamlit as st

from billing_core import (
    BillingError,
    CreditRequest,
    RequestStatus,
    User,
    Wallet,
    WalletStatus,
    Workspace,
)
from pages import _charts, _grants
from pages._billing_history import history_section
from pages._shared import (
    NO_CREDITS,
    attempt,
    credits,
    flash,
    get_ledger,
    local_time,
    pick_workspace,
    plain,
    require_user,
    section,
    show_flash,
)

DIALOG_KEY = "billing.request_dialog"
REQUEST_ERROR_KEY = "billing.request_error"
STATUS_TITLES = {
    RequestStatus.PENDING: "Pending",
    RequestStatus.APPROVED: "Approved",
    RequestStatus.REJECTED: "Rejected",
    RequestStatus.CANCELLED: "Cancelled",
}


# --- wallet ------------------------------------------------------------------------------


def wallet_card(wallet: Wallet, pending: list[CreditRequest], viewer: User) -> None:
    st.subheader("Wallet")
    with st.container(border=True):
        balance, status, asked = st.columns([2, 1, 1.3])
        balance.metric("Available balance", credits(wallet.balance))
        with status:
            st.caption("Wallet status")
            if wallet.status is WalletStatus.ACTIVE:
                st.badge("Active", icon=":material/check_circle:", color="green")
            else:
                st.badge("Inactive", icon=":material/block:", color="red")
        with asked:
            st.caption("Pending requests")
            waiting = sum((r.amount for r in pending), Decimal(0))
            st.markdown(f"**{credits(waiting)}**" if pending else "None")
        _grants.wallet_expiry(viewer, wallet.workspace_id)
        reason = wallet.blocked_reason
        if reason:
            st.error(f"**{NO_CREDITS}** {reason}", icon=":material/block:")


# --- spend charts ------------------------------------------------------------------------


@st.fragment
def spend_section(user: User, workspace_id: int) -> None:
    with section("spend"):
        st.subheader("Spend")
        days = st.segmented_control(
            "Period", [30, 90], default=30, required=True, key="billing.spend.days",
            format_func=lambda d: f"Last {d} days", label_visibility="collapsed",
        )
        ledger = get_ledger()
        end = ledger.today()
        start = end - timedelta(days=int(days or 30) - 1)
        spend = attempt(lambda: ledger.spend_by_feature(user, start, end, "day",
                                                        workspace_id=workspace_id))
        balance = attempt(lambda: ledger.balance_over_time(user, workspace_id, start, end))
        left, right = st.columns(2)
        with left:
            st.markdown("**Daily spend by feature**")
            if spend is not None and spend.empty:
                st.info("No en-credits were spent in this period.", icon=":material/bar_chart:")
            elif spend is not None:
                chart = _charts.spend_by_feature(spend, "day", start=start, end=end)
                st.altair_chart(chart.configure_legend(orient="bottom", columns=2),
                                key="billing.spend.chart")
        with right:
            st.markdown("**Balance over time**")
            if balance is not None:
                chart = _charts.balance_over_time(balance).configure_axisX(format="%b %d")
                st.altair_chart(chart, key="billing.balance.chart")


# --- credit requests ---------------------------------------------------------------------


def submit_request(user: User, workspace_id: int, amount: str, note: str) -> CreditRequest | None:
    """Ask for credits. The amount goes to billing_core as typed, so its own validation
    and messages apply; a refusal is drawn as an error and nothing is written."""
    return attempt(lambda: get_ledger().request_credits(user, workspace_id, amount, note))


def close_request_dialog() -> None:
    st.session_state.pop(DIALOG_KEY, None)


@st.dialog("New credit request", on_dismiss=close_request_dialog)
def request_dialog(user: User, workspace: Workspace) -> None:
    st.caption(
        f"For {plain(workspace.name)}. The request is created as Pending and waits for an "
        "administrator; once approved, the credits are added to the wallet."
    )
    with st.form("billing.request.form", border=False, enter_to_submit=True):
        amount = st.text_input("Amount (en-credits)", key="billing.request.amount",
                               placeholder="For example 500 or 250.50")
        note = st.text_area("Note (optional)", key="billing.request.note", max_chars=2000,
                            placeholder="What the credits are for")
        submitted = st.form_submit_button("Submit request", type="primary")
    if submitted:
        created = submit_request(user, workspace.id, amount, note)
        if created is not None:
            close_request_dialog()
            flash(f"Request #{created.id} for {credits(created.amount)} was approved at once by the "
                  "workspace's standing approval." if created.status is RequestStatus.APPROVED
                  else f"Request #{created.id} for {credits(created.amount)} is pending approval.")
            st.rerun()


def cancel_request(user: User, request: CreditRequest) -> None:
    """The Cancel button's callback: it runs before the page is drawn again, so a request
    another session decided meanwhile still gets billing_core's explanation."""
    try:
        get_ledger().cancel_request(user, request.id)
    except BillingError as error:
        st.session_state[REQUEST_ERROR_KEY] = str(error)
    else:
        flash(f"Request #{request.id} for {credits(request.amount)} was cancelled.")


def pending_request(user: User, request: CreditRequest) -> None:
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
            action.button("Cancel", key=f"billing.requests.cancel.{request.id}",
                          icon=":material/close:", on_click=cancel_request,
                          args=(user, request))


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
    title.subheader("Credit requests")
    if new.button("New request", type="primary", icon=":material/add:",
                  key="billing.requests.new", width="stretch"):
        st.session_state[DIALOG_KEY] = workspace.id
    if st.session_state.get(DIALOG_KEY) == workspace.id:
        request_dialog(user, workspace)
    refused = st.session_state.pop(REQUEST_ERROR_KEY, None)
    if refused:
        st.error(refused, icon="⚠️")
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
                for request in items:
                    pending_request(user, request)
            else:
                decided_table(items)


# --- the page ----------------------------------------------------------------------------

st.title("Billing")
st.caption(
    "Track the workspace en-credits balance, review transaction history, and manage "
    "top-up requests."
)
viewer = require_user()
show_flash()
picked = pick_workspace(viewer)
if picked is None:
    st.stop()
assert picked is not None
book = get_ledger()
wallet = attempt(lambda: book.wallet(viewer, picked.id))
requests = attempt(lambda: book.requests(viewer, workspace_id=picked.id))
if wallet is None or requests is None:
    st.stop()
assert wallet is not None and requests is not None
with section("wallet"):
    wallet_card(wallet, [r for r in requests if r.status is RequestStatus.PENDING], viewer)
with section("grants"):
    _grants.grants_section(viewer, picked)
with section("credit requests"):
    requests_section(viewer, picked, requests)
spend_section(viewer, picked.id)  # the two fragments have their own error boundaries
history_section(viewer, picked, wallet.updated_at)  # last: it grows as the reader scrolls
