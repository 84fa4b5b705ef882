"""Approvals (administrators only): the pending queue, every wallet, and the decisions log.

billing_core holds every rule (admins only, four eyes, exactly-once approval, a
rejection needs a reason); this page only draws, asks and reports what it said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from billing_core import (
    CreditRequest,
    InvalidInput,
    Ledger,
    RequestStatus,
    User,
    WalletHealth,
    WalletStatus,
)
from pages import _charts, _grant_terms, _policies
from pages._shared import (
    ago,
    attempt,
    credits,
    csv_download,
    current_user,
    figure,
    get_ledger,
    local_time,
    plain,
    require_user,
    section,
    try_billing,
)
from pages._text import badge_label, visible_text
from pages._wallet_table import styled_wallets, wallet_columns, wallet_table

KEY = "billing.approvals"
FLASH = f"{KEY}.flash"
BULK_NOTE = f"{KEY}.bulk_note"
STATUS_FLASH = f"{KEY}.status_flash"
REFRESH_ALL = f"{KEY}.refresh_all"
DAYS = 30


def pick_key(request_id: int) -> str:
    return f"{KEY}.pick.{request_id}"


def note_key(request_id: int) -> str:
    return f"{KEY}.note.{request_id}"


# --------------------------------------------------------------------------- deciding


@dataclass(frozen=True, slots=True)
class Outcome:
    request_id: int
    ok: bool
    message: str


def decide(
    ledger: Ledger, admin: User, request_ids: list[int], verdict: str, note: str | None
) -> list[Outcome]:
    """Approve or reject each request in turn; one Outcome per request. A bad note is
    the same for every request, so it stops the batch at the first one."""
    outcomes = []
    for request_id in request_ids:
        if verdict == "approve":
            kind, expires_at = _grant_terms.terms(request_id)
            action = partial(ledger.approve_request, admin, request_id, note or None, kind=kind,
                             expires_at=expires_at)
        else:
            action = partial(ledger.reject_request, admin, request_id, note or "")
        done, error = try_billing(action)
        if done is not None:
            outcomes.append(Outcome(request_id, True, _done_message(done)))
            continue
        message = str(error)
        if not re.search(rf"#{request_id}\b", message):
            message = f"Request #{request_id}: {message}"
        outcomes.append(Outcome(request_id, False, message))
        if isinstance(error, InvalidInput):
            break
    return outcomes


def _done_message(request: CreditRequest) -> str:
    amount = credits(request.amount)
    if request.status is RequestStatus.APPROVED:
        return f"Approved #{request.id}: {amount} added to {request.workspace_name}."
    return f"Rejected #{request.id}: {amount} for {request.workspace_name}."


def on_decide(request_ids: list[int], verdict: str, note_from: str, bulk: bool = False) -> None:
    """Button callback: runs before the next script run, even when the clicked card is
    gone by then (another admin decided it), so billing_core's answer always reaches
    the admin. The outcomes wait in session state for the queue to show them."""
    ledger, admin = get_ledger(), current_user()
    if admin is None:
        return
    if bulk:  # only the requests still ticked when the button was clicked
        request_ids = [r for r in request_ids if st.session_state.get(pick_key(r))]
    outcomes = decide(ledger, admin, request_ids, verdict, st.session_state.get(note_from))
    st.session_state[FLASH] = [(o.request_id, o.ok, o.message) for o in outcomes]
    if any(o.ok for o in outcomes):
        st.session_state[REFRESH_ALL] = True
        if bulk:
            st.session_state[BULK_NOTE] = ""


def show_flash() -> None:
    saved = st.session_state.pop(FLASH, None)
    if not saved:
        return
    outcomes = [Outcome(*o) for o in saved]
    done = [o for o in outcomes if o.ok]
    failed = [o for o in outcomes if not o.ok]
    if len(outcomes) == 1 and done:
        st.toast(plain(done[0].message), icon=":material/check_circle:")
    elif done:
        st.toast(f"{len(done)} of {len(outcomes)} requests decided.", icon=":material/check_circle:")
        st.success(_lines(done))
    if failed:
        st.error(_lines(failed), icon=":material/error:")


def _lines(outcomes: list[Outcome]) -> str:
    """One outcome as a sentence, several as a list (user text escaped)."""
    if len(outcomes) == 1:
        return plain(outcomes[0].message)
    return "\n".join(f"- {plain(o.message)}" for o in outcomes)


# --------------------------------------------------------------------------- the queue


@st.fragment
def pending_queue(ledger: Ledger, admin: User) -> None:
    """The queue reruns alone (ticking, typing, Refresh); a decision that changed the
    books reruns the whole page so the balances below are current too. Its error
    boundary is inside the fragment, since the fragment also runs alone."""
    if st.session_state.pop(REFRESH_ALL, False):
        st.rerun(scope="app")
    with section("Pending requests"):
        queue_body(ledger, admin)


def queue_body(ledger: Ledger, admin: User) -> None:
    head, refresh = st.columns([6, 1], vertical_alignment="bottom")
    head.subheader("Pending requests")
    refresh.button("Refresh", key=f"{KEY}.refresh", icon=":material/refresh:", width="stretch")
    show_flash()
    queue = attempt(lambda: ledger.requests(admin, status=RequestStatus.PENDING))
    overview = attempt(lambda: ledger.wallet_overview(admin, days=DAYS))
    if queue is None or overview is None:
        return
    if not queue:
        st.info("No pending requests: every credit request has been decided.", icon=":material/check_circle:")
        return
    wallets = {int(w["workspace_id"]): w for w in overview.to_dict("records")}
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
            st.caption(_wallet_line(wallet))
            if request.requested_by == admin.id:
                st.caption("You asked for these credits: another administrator must approve.")
        with act:
            st.text_input(
                "Decision note", key=note_key(request.id),
                placeholder="Optional to approve, required to reject",
            )
            _grant_terms.fields(request.id, get_ledger().today())
            approve, reject = st.columns(2)
            approve.button("Approve", key=f"{KEY}.approve.{request.id}", type="primary",
                           icon=":material/check:", width="stretch", on_click=on_decide,
                           args=([request.id], "approve", note_key(request.id)))
            reject.button("Reject", key=f"{KEY}.reject.{request.id}", icon=":material/close:",
                          width="stretch", on_click=on_decide,
                          args=([request.id], "reject", note_key(request.id)))


def _wallet_line(wallet: dict[str, Any] | None) -> str:
    if wallet is None:
        return "Wallet: not available."
    if wallet["balance"] <= 0:
        outlook = "out of credits"
    elif wallet["runs_out_on"] is None:
        outlook = "no recent spend"
    else:
        outlook = f"runs out about {wallet['runs_out_on']}"
    inactive = " · wallet inactive" if wallet["status"] != WalletStatus.ACTIVE.value else ""
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
        all_col.button("Select all", key=f"{KEY}.select_all", on_click=_select_all,
                       args=(ids,), width="stretch")
        approve_col.button("Approve selected", key=f"{KEY}.approve_selected", type="primary",
                           disabled=not chosen, width="stretch", on_click=on_decide,
                           args=(ids, "approve", BULK_NOTE, True))
        reject_col.button("Reject selected", key=f"{KEY}.reject_selected",
                          disabled=not chosen, width="stretch", on_click=on_decide,
                          args=(ids, "reject", BULK_NOTE, True))


def _select_all(request_ids: list[int]) -> None:
    for request_id in request_ids:
        st.session_state[pick_key(request_id)] = True


# --------------------------------------------------------------------------- wallets


def wallets_section(ledger: Ledger, admin: User) -> None:
    st.subheader("Every wallet")
    changed = st.session_state.pop(STATUS_FLASH, None)
    if changed is not None:
        ok, message = changed
        if ok:
            st.toast(plain(message), icon=":material/check_circle:")
        else:
            st.error(plain(message), icon=":material/error:")
    frame = attempt(lambda: ledger.wallet_overview(admin, days=DAYS))  # health included
    if frame is None:
        return
    if frame.empty:
        st.info("No workspaces yet: wallets appear here once a workspace is created.")
        return
    st.caption(f"{len(frame)} wallets; amounts in en-credits.")
    zero = frame[frame["health"] == WalletHealth.ZERO_BALANCE.value]
    low = frame[frame["health"] == WalletHealth.LOW_BALANCE.value]
    cols = st.columns(5)
    cols[0].metric("Total balance", figure(sum(frame["balance"])), border=True)
    cols[1].metric(f"Spent, last {DAYS} days", figure(sum(frame["spent"])), border=True)
    cols[2].metric("Pending requests", figure(sum(frame["pending"])), border=True)
    cols[3].metric("Zero balance", len(zero), border=True)
    cols[4].metric("Low balance", len(low), border=True,
                   help="Runs out within 14 days at the last 30 days' rate.")
    attention = [
        (f"{name}: zero balance, features blocked", "red") for name in zero["workspace"]
    ] + [
        (f"{name}: runs out {day} ({left} days)", "orange")
        for name, day, left in zip(low["workspace"], low["runs_out_on"], low["days_left"],
                                   strict=True)
    ] + [
        (f"{name}: wallet inactive", "gray")
        for name in frame.loc[frame["health"] == WalletHealth.INACTIVE.value, "workspace"]
    ]
    if attention:
        with st.container(horizontal=True, key=f"{KEY}.attention"):
            for label, colour in attention:
                st.badge(badge_label(label), icon=":material/warning:", color=colour)
    st.dataframe(
        styled_wallets(wallet_table(frame, DAYS)),
        hide_index=True,
        key=f"{KEY}.wallets",
        column_config=wallet_columns(DAYS),
    )
    wallet_status_control(frame)


def wallet_status_control(frame: pd.DataFrame) -> None:
    """Pick a wallet by name and flip its status. The picker's labels are the names only:
    Streamlit keeps a picked option by its label, so a label holding the status went stale
    after a change; the status is drawn next to it from this run's data instead."""
    st.markdown("**Activate or deactivate a wallet**")
    st.caption("An inactive wallet blocks every feature that uses credits in its workspace.")
    names = dict(zip(frame["workspace_id"].astype(int), frame["workspace"], strict=True))
    status = dict(zip(frame["workspace_id"].astype(int), frame["status"], strict=True))
    pick, now, act = st.columns([3, 1.2, 2], vertical_alignment="bottom")
    workspace_id = pick.selectbox(
        "Wallet", list(names), format_func=lambda i: visible_text(names[i]),
        key=f"{KEY}.status_pick",
    )
    if workspace_id is None:
        return
    active = status[workspace_id] == WalletStatus.ACTIVE.value
    with now.container(key=f"{KEY}.status_now"):
        if active:
            st.badge("Active", icon=":material/check_circle:", color="green")
        else:
            st.badge("Inactive", icon=":material/block:", color="red")
    new_status = WalletStatus.INACTIVE if active else WalletStatus.ACTIVE
    label = "Deactivate wallet" if active else "Activate wallet"
    act.button(label, key=f"{KEY}.status_button", icon=":material/power_settings_new:",
               on_click=on_set_status, args=(workspace_id, new_status.value))


def on_set_status(workspace_id: int, status: str) -> None:
    """Button callback with the status chosen on screen (never re-derived on the next run,
    so a click can't flip a wallet another admin just changed)."""
    admin = current_user()
    if admin is None:
        return
    wallet, error = try_billing(lambda: get_ledger().set_wallet_status(admin, workspace_id, status))
    st.session_state[STATUS_FLASH] = (
        (True, f"{wallet.workspace_name}'s wallet is now {wallet.status.value}.")
        if wallet is not None else (False, str(error))
    )


def spend_section(ledger: Ledger, admin: User) -> None:
    st.subheader(f"Spend by workspace, last {DAYS} days")
    today = ledger.today()
    spend = attempt(lambda: ledger.spend_by_workspace(admin, today - timedelta(days=DAYS - 1),
                                                       today, "day"))
    if spend is None:
        return
    if spend.empty:
        st.info(f"Nothing was spent in the last {DAYS} days.")
        return
    drawn = spend.assign(workspace=spend["workspace"].map(visible_text))
    daily, totals = st.columns([3, 2])
    daily.altair_chart(_charts.spend_by_workspace(drawn, "day"), key=f"{KEY}.spend_daily")
    totals.altair_chart(_charts.workspace_totals(drawn), key=f"{KEY}.spend_totals")
    csv_download(spend, name=f"spend-by-workspace-{today}", key=f"{KEY}.spend_csv")


# --------------------------------------------------------------------------- decisions


def decisions_log_section(ledger: Ledger, admin: User) -> None:
    st.subheader("Decisions log")
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
        "Show", ["approved", "rejected", "cancelled"], selection_mode="multi",
        default=["approved", "rejected", "cancelled"], key=f"{KEY}.log_kinds",
    )
    log = decisions_log([r for r in decided if r.status.value in (kinds or [])])
    shown = log.assign(
        Amount=log["Amount"].astype(float),  # drawn as 5,000.00 like every other amount
        **{c: log[c].map(visible_text) for c in _LOG_TEXT},
    )
    st.dataframe(shown.style.format({"Amount": "{:,.2f}"}), hide_index=True, key=f"{KEY}.log")
    csv_download(log, name="decisions-log", key=f"{KEY}.log_csv")  # exact amounts


_LOG_TEXT = ["Workspace", "Decided by", "Decision note", "Requested by", "Request note"]


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


# --------------------------------------------------------------------------- page


def main() -> None:
    user = require_user()
    st.title("Approvals")
    if not user.is_admin:
        st.error(
            "Approvals are for administrators only. Ask an administrator to decide your "
            "workspace's credit requests.",
            icon=":material/lock:",
        )
        st.stop()
    ledger = get_ledger()
    st.caption("Decide credit requests across every workspace and keep an eye on every wallet.")
    pending_queue(ledger, user)
    st.divider()
    with section("Every wallet"):
        wallets_section(ledger, user)
    st.divider()
    with section("Credit policies"):
        _policies.policies_section(ledger, user)
    st.divider()
    with section("Spend by workspace"):
        spend_section(ledger, user)
    st.divider()
    with section("Decisions log"):
        decisions_log_section(ledger, user)


main()
