"""Approvals' pending queue: one card per request (approve, or reject with a note) and a
bar to decide the ticked ones together.

Not a page (the underscore keeps it out of navigation). A fragment: ticking, typing and
Refresh rerun only the queue; a decision that changed the books reruns the whole page.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import streamlit as st

from billing_core import CreditRequest, Ledger, RequestStatus, User, WalletHealth, WalletStatus
from pages import _a11y, _grant_terms, _notice
from pages._approvals_decide import (
    BULK_NOTE,
    HEAD_KEY,
    KEY,
    NOTICES,
    ORDER_KEY,
    REFRESH_ALL,
    Verdict,
    note_key,
    on_decide,
    pick_key,
)
from pages._shared import ago, attempt, credits, get_ledger, local_time, plain, section
from pages._text import visible_text

DAYS = 30  # the burn rate on each card: spend over the last DAYS days


@st.fragment
def pending_queue(ledger: Ledger, admin: User) -> None:
    """The queue, behind its own error boundary (inside the fragment, which also runs alone)."""
    if st.session_state.pop(REFRESH_ALL, False):
        st.rerun(scope="app")
    with section("Pending requests"):
        queue_body(ledger, admin)


def queue_body(ledger: Ledger, admin: User) -> None:
    head, refresh = st.columns([6, 1], vertical_alignment="bottom")
    with head.container(key=HEAD_KEY):
        st.header("Pending requests", anchor=False)
    refresh.button("Refresh", key=f"{KEY}.refresh", icon=":material/refresh:", width="stretch")
    _notice.show(NOTICES, fields=[])  # a refused note marks its own field
    _a11y.apply_focus()  # a refusal reruns only this fragment, not app.py
    queue = attempt(lambda: ledger.requests(admin, status=RequestStatus.PENDING))
    overview = attempt(lambda: ledger.wallet_overview(admin, days=DAYS))
    if queue is None or overview is None:
        return
    if not queue:
        st.info("No pending requests: every credit request has been decided.",
                icon=":material/check_circle:")
        return
    wallets = {int(w["workspace_id"]): w for w in overview.to_dict("records")}
    st.session_state[ORDER_KEY] = [r.id for r in queue]
    st.caption(f"{len(queue)} pending, oldest first, across every workspace.")
    _grant_terms.prefill(ledger, admin, queue)
    for request in queue:
        request_card(admin, request, wallets.get(request.workspace_id))
    bulk_bar(queue)


def request_card(admin: User, request: CreditRequest, wallet: dict[str, Any] | None) -> None:
    with st.container(border=True, key=f"{KEY}.card.{request.id}"):
        pick, about, act = st.columns([0.4, 5, 4], vertical_alignment="center")
        pick.checkbox(f"Select request #{request.id}", key=pick_key(request.id),
                      label_visibility="collapsed")
        with about:
            st.markdown(
                f"**{credits(request.amount)}** for **{plain(request.workspace_name)}**"
                f" · request \\#{request.id}"
            )
            st.caption(
                f"Asked by {plain(request.requested_by_name)} · {ago(request.requested_at)}"
                f" ({local_time(request.requested_at)})"
            )
            if request.note:
                st.text(f"Note: {visible_text(request.note)}")
            st.caption(wallet_line(wallet))
            if request.requested_by == admin.id:
                st.caption("You asked for these credits: another administrator must approve.")
        with act:  # the grant's terms first: from the note, Approve is one Tab away
            _grant_terms.fields(request.id, get_ledger().today())
            st.text_input(
                "Decision note", key=note_key(request.id),
                placeholder="Optional to approve, required to reject",
            )
            approve, reject = st.columns(2)
            approve.button("Approve", key=f"{KEY}.approve.{request.id}", type="primary",
                           icon=":material/check:", width="stretch", on_click=on_decide,
                           args=([request.id], Verdict.APPROVE, note_key(request.id)))
            reject.button("Reject", key=f"{KEY}.reject.{request.id}", icon=":material/close:",
                          width="stretch", on_click=on_decide,
                          args=([request.id], Verdict.REJECT, note_key(request.id)))


def wallet_line(wallet: dict[str, Any] | None) -> str:
    """The wallet a request would top up, from wallet_overview's row (billing_core's health)."""
    if wallet is None:
        return "Wallet: not available."
    if WalletHealth(wallet["health"]) is WalletHealth.ZERO_BALANCE:
        outlook = "out of credits"
    elif wallet["runs_out_on"] is None:
        outlook = "no recent spend"
    else:
        outlook = f"runs out about {wallet['runs_out_on']}"
    inactive = (" · wallet inactive"
                if WalletStatus(wallet["status"]) is WalletStatus.INACTIVE else "")
    per_day = credits(wallet["per_day"].quantize(Decimal("0.01")))
    return (
        f"Balance {credits(wallet['balance'])} · burning {per_day}/day"
        f" (last {DAYS} days) · {outlook}{inactive}"
    )


def bulk_bar(queue: list[CreditRequest]) -> None:
    chosen = [r for r in queue if st.session_state.get(pick_key(r.id))]
    ids = [r.id for r in queue]
    with st.container(border=True, key=f"{KEY}.bulk"):
        total = sum((r.amount for r in chosen), Decimal(0))
        st.markdown(
            f"**{len(chosen)} selected**" + (f" · {credits(total)} in total" if chosen else "")
        )
        note_col, all_col, approve_col, reject_col = st.columns(
            [5, 1.3, 2, 2], vertical_alignment="bottom"
        )
        note_col.text_input(
            "Note for the selected requests", key=BULK_NOTE,
            placeholder="Optional to approve, required to reject",
        )
        all_col.button("Select all", key=f"{KEY}.select_all", on_click=select_all,
                       args=(ids,), width="stretch")
        approve_col.button("Approve selected", key=f"{KEY}.approve_selected", type="primary",
                           disabled=not chosen, width="stretch", on_click=on_decide,
                           args=(ids, Verdict.APPROVE, BULK_NOTE, True))
        reject_col.button("Reject selected", key=f"{KEY}.reject_selected",
                          disabled=not chosen, width="stretch", on_click=on_decide,
                          args=(ids, Verdict.REJECT, BULK_NOTE, True))


def select_all(request_ids: list[int]) -> None:
    for request_id in request_ids:
        st.session_state[pick_key(request_id)] = True
