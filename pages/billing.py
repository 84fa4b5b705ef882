"""Billing: one workspace's wallet, transaction history, spend and credit requests.

Every number and rule comes from billing_core; this page picks the workspace, asks,
and draws. User text (descriptions, notes, names) is always drawn as text.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from billing_core import (
    BillingError,
    CreditRequest,
    EntryKind,
    RequestStatus,
    Transaction,
    User,
    Wallet,
    WalletStatus,
    Workspace,
    format_credits,
)
from pages import _charts
from pages._shared import (
    NO_CREDITS,
    attempt,
    credits,
    csv_download,
    end_of_list_reached,
    flash,
    get_ledger,
    local_time,
    pick_workspace,
    plain,
    require_user,
    show_flash,
    viewer_timezone,
)

PAGE_SIZE = 50
HISTORY_KEY = "billing.history"
SENTINEL_KEY = "billing.history.sentinel"
DIALOG_KEY = "billing.request_dialog"
REQUEST_ERROR_KEY = "billing.request_error"
CREDIT_COLOUR, DEBIT_COLOUR = "#2e7d32", "#c62828"
KINDS = {"All": None, "Debits": "debit", "Credits": "credit"}
STATUS_TITLES = {
    RequestStatus.PENDING: "Pending",
    RequestStatus.APPROVED: "Approved",
    RequestStatus.REJECTED: "Rejected",
    RequestStatus.CANCELLED: "Cancelled",
}


# --- wallet ------------------------------------------------------------------------------


def wallet_card(wallet: Wallet, pending: list[CreditRequest]) -> None:
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
        reason = wallet.blocked_reason
        if reason:
            st.error(f"**{NO_CREDITS}** {reason}", icon=":material/block:")


# --- transaction history -----------------------------------------------------------------


@dataclass(frozen=True)
class HistoryFilters:
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None

    def as_kwargs(self) -> dict[str, Any]:
        return {"kind": self.kind, "since": self.since, "until": self.until,
                "search": self.search}

    @property
    def active(self) -> bool:
        return any(v is not None for v in self.as_kwargs().values())


def history_filters() -> HistoryFilters:
    kind_col, dates_col, text_col = st.columns([1.1, 1.4, 2])
    with kind_col:
        kind = st.segmented_control(
            "Type", list(KINDS), default="All", required=True, key="billing.history.kind"
        )
    with dates_col:
        dates = st.date_input(
            "Dates", value=(), format="YYYY-MM-DD", key="billing.history.dates",
            help="In your time zone. Pick a start and an end day.",
        )
    with text_col:
        search = st.text_input(
            "Search", key="billing.history.search", max_chars=200,
            placeholder="Description or feature",
        )
    zone = viewer_timezone()
    days: tuple[date, ...] = tuple(dates) if isinstance(dates, (tuple, list)) else ()
    since = datetime.combine(days[0], time(), zone) if days else None
    until = datetime.combine(days[-1], time.max, zone) if len(days) == 2 else None
    return HistoryFilters(
        kind=KINDS.get(kind or "All"),
        since=since,
        until=until,
        search=search.strip() or None,
    )


def loaded_history(user: User, workspace_id: int, filters: HistoryFilters,
                   as_of: datetime) -> dict[str, Any]:
    """The pages loaded so far, kept in session state as plain data (`items`, `cursor`,
    `error`). They start again from the newest page when the workspace, the filters or
    the wallet (a new movement) changed since they were loaded."""
    key = (workspace_id, *astuple(filters), as_of)
    state = st.session_state.get(HISTORY_KEY)
    if isinstance(state, dict) and state.get("key") == key:
        return state
    state = {"key": key, "items": [], "cursor": None, "error": None}
    try:
        page = get_ledger().history(user, workspace_id, limit=PAGE_SIZE, **filters.as_kwargs())
    except BillingError as error:
        state["error"] = str(error)
    else:
        state["items"], state["cursor"] = list(page.items), page.next_cursor
    st.session_state[HISTORY_KEY] = state
    return state


def load_next_page(user: User, workspace_id: int, filters: HistoryFilters) -> None:
    """Append the next page (a callback, so the list and buttons drawn after it are current)."""
    state = st.session_state.get(HISTORY_KEY)
    if not isinstance(state, dict) or state.get("cursor") is None:
        return
    try:
        page = get_ledger().history(
            user, workspace_id, limit=PAGE_SIZE, cursor=state["cursor"], **filters.as_kwargs()
        )
    except BillingError as error:
        state["error"] = str(error)
        return
    state["items"].extend(page.items)
    state["cursor"] = page.next_cursor
    state["error"] = None


def on_end_of_list(user: User, workspace_id: int, filters: HistoryFilters) -> None:
    """The scroll marker came into view: load the next page, unless the signal is about
    a shorter list than the one loaded now (a late duplicate)."""
    state = st.session_state.get(HISTORY_KEY)
    component = st.session_state.get(SENTINEL_KEY) or {}
    token = component.get("reached") if hasattr(component, "get") else None
    if isinstance(state, dict) and token not in (None, len(state["items"])):
        return
    load_next_page(user, workspace_id, filters)


def signed(tx: Transaction) -> str:
    """`+100.00` for a credit, `−2.50` for a debit."""
    sign = "+" if tx.kind is EntryKind.CREDIT else "−"
    return sign + format_credits(tx.amount, unit=False)


def history_frame(items: list[Transaction]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Amount": [signed(tx) for tx in items],
            "Type": ["Credit" if tx.kind is EntryKind.CREDIT else "Debit" for tx in items],
            "Description": [tx.description for tx in items],
            "Feature": [tx.feature or "—" for tx in items],
            "Date": [local_time(tx.created_at) for tx in items],
        }
    )


def _colour_by_type(row: pd.Series) -> list[str]:
    colour = CREDIT_COLOUR if row["Type"] == "Credit" else DEBIT_COLOUR
    return [f"color: {colour}" if c in ("Amount", "Type") else "" for c in row.index]


def _inert(text: str | None) -> str:
    """A cell a spreadsheet will not run as a formula."""
    value = text or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def history_csv(items: list[Transaction]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [tx.id for tx in items],
            "date": [local_time(tx.created_at) for tx in items],
            "type": [tx.kind.value for tx in items],
            "amount": [str(tx.amount) for tx in items],
            "description": [_inert(tx.description) for tx in items],
            "feature": [_inert(tx.feature) for tx in items],
        }
    )


@st.fragment
def history_section(user: User, workspace_id: int, as_of: datetime) -> None:
    st.subheader("Transaction history")
    filters = history_filters()
    state = loaded_history(user, workspace_id, filters, as_of)
    items: list[Transaction] = state["items"]
    more = state["cursor"] is not None
    if state["error"]:
        st.error(state["error"], icon="⚠️")
    if not items:
        if filters.active:
            st.info("No transactions match these filters.", icon=":material/filter_alt_off:")
        elif not state["error"]:
            st.info(
                "No transactions yet. Credits added and features used in this workspace "
                "will be listed here.",
                icon=":material/receipt_long:",
            )
        return
    load = partial(load_next_page, user, workspace_id, filters)
    with st.container(height=460, border=True, key="billing.history.list"):
        st.dataframe(
            history_frame(items).style.apply(_colour_by_type, axis=1),
            hide_index=True,
            height="content",
            column_config={
                "Amount": st.column_config.TextColumn(width="small", help="In en-credits"),
                "Type": st.column_config.TextColumn(width="small"),
                "Description": st.column_config.TextColumn(width="large"),
                "Date": st.column_config.TextColumn(f"Date ({viewer_timezone().key})"),
            },
            key="billing.history.table",
        )
        end_of_list_reached(
            SENTINEL_KEY,
            len(items),
            armed=more,
            on_reached=partial(on_end_of_list, user, workspace_id, filters),
        )
    with st.container(horizontal=True, vertical_alignment="center"):
        shown = f"{len(items):,} transactions shown"
        if not more:
            st.caption(f"{shown} · that is the whole history.")
        else:
            st.caption(f"{shown} · scroll to the end of the list to load more.")
            st.button("Load more", key="billing.history.more", on_click=load,
                      icon=":material/expand_more:")
        csv_download(history_csv(items), name="transactions",
                     key="billing.history.csv", label="Download CSV")


# --- spend charts ------------------------------------------------------------------------


@st.fragment
def spend_section(user: User, workspace_id: int) -> None:
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
            chart = (
                _charts.spend_by_feature(spend, "day")
                .configure_legend(orient="bottom", columns=3)
                .configure_axisX(format="%b %d")
            )
            st.altair_chart(chart, key="billing.spend.chart")
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
            flash(f"Request #{created.id} for {credits(created.amount)} is pending approval.")
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
wallet_card(wallet, [r for r in requests if r.status is RequestStatus.PENDING])
history_section(viewer, picked.id, wallet.updated_at)
spend_section(viewer, picked.id)
requests_section(viewer, picked, requests)
