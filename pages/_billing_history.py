"""Billing's transaction history: filters, a list that loads the next page when the reader
reaches its end, and a CSV of the whole filtered history.

The loaded pages live in session state as plain data; every page and the CSV come from
billing_core, which checks access on every call.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import date, datetime, time
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from billing_core import BillingError, EntryKind, Ledger, Transaction, Unit, User, Workspace, format_credits
from billing_core.export import csv_chunks, file_name
from billing_core.pricing import quantity_label
from pages._shared import get_ledger, local_time, plain, section, viewer_timezone
from pages._transaction_list import Row, transaction_list

PAGE_SIZE = 50
HISTORY_KEY = "billing.history"
LIST_KEY = "billing.history.list"
KINDS = {"All": None, "Debits": EntryKind.DEBIT, "Credits": EntryKind.CREDIT, "Expiries": EntryKind.EXPIRY}
COLUMNS = ("Amount", "Type", "Description", "Feature", "Date")
TYPE_LABELS = {EntryKind.CREDIT: "Credit", EntryKind.DEBIT: "Debit", EntryKind.EXPIRY: "Expiry"}


@dataclass(frozen=True)
class HistoryFilters:
    kind: EntryKind | None = None
    since: datetime | None = None  # the start of the first day, in the viewer's zone
    until: datetime | None = None  # the end of the last day, in the viewer's zone
    search: str | None = None

    def as_kwargs(self) -> dict[str, Any]:
        return {"kind": self.kind, "since": self.since, "until": self.until,
                "search": self.search}

    @property
    def active(self) -> bool:
        return any(v is not None for v in self.as_kwargs().values())

    def describe(self) -> list[str]:
        """The filters as parts of a file name: `["debits", "2026-11-01", "2026-11-27"]`."""
        parts = [{EntryKind.DEBIT: "debits", EntryKind.CREDIT: "credits", EntryKind.EXPIRY: "expiries",
                  None: ""}[self.kind]]
        if self.since is not None:
            first = self.since.date().isoformat()
            parts += [first, self.until.date().isoformat()] if self.until else [f"from {first}"]
        if self.search:
            parts.append(f"search {self.search[:40]}")
        return [p for p in parts if p]


def history_filters() -> HistoryFilters:
    kind_col, dates_col, text_col = st.columns([1.6, 1.4, 1.6])
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
    return HistoryFilters(
        kind=KINDS.get(kind or "All"),
        since=datetime.combine(days[0], time(), zone) if days else None,
        until=datetime.combine(days[-1], time.max, zone) if len(days) == 2 else None,
        search=search.strip() or None,
    )


# --- the pages loaded so far -------------------------------------------------------------


def loaded_history(user: User, workspace_id: int, filters: HistoryFilters,
                   as_of: datetime) -> dict[str, Any]:
    """The pages loaded so far, kept in session state as plain data (`key`, `items`,
    `cursor`, `error`). They start again from the newest page when the workspace, the
    filters or the wallet (a new movement) changed since they were loaded."""
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
    """The reader reached the end of the list: load the next page, unless the signal is
    about a shorter list than the one loaded now (a late duplicate)."""
    state = st.session_state.get(HISTORY_KEY)
    signal = st.session_state.get(LIST_KEY) or {}
    token = signal.get("reached") if hasattr(signal, "get") else None
    if isinstance(state, dict) and token not in (None, len(state["items"])):
        return
    load_next_page(user, workspace_id, filters)


# --- drawing -----------------------------------------------------------------------------


def shown_row(tx: Transaction) -> Row:
    """`+100.00` for a credit, `−2.50` for a debit or an expiry; dates in the viewer's zone."""
    credit = tx.kind is EntryKind.CREDIT
    return Row(
        amount=("+" if credit else "−") + format_credits(tx.amount, unit=False),
        kind=tx.kind.value,
        kind_label=TYPE_LABELS[tx.kind],
        description=tx.description,
        feature=(tx.feature or "—") + usage_shown(tx),
        when=local_time(tx.created_at),
    )


def usage_shown(tx: Transaction) -> str:
    """" · 1,000 tokens" behind a priced usage debit's feature; nothing for other rows."""
    if tx.quantity is None or tx.unit is None:
        return ""
    return f" · {quantity_label(tx.quantity, Unit(tx.unit))}"


def history_list(user: User, workspace_id: int, filters: HistoryFilters,
                 state: dict[str, Any]) -> None:
    items: list[Transaction] = state["items"]
    transaction_list(
        LIST_KEY,
        [shown_row(tx) for tx in items],
        list_id=repr(state["key"]),
        columns=[*COLUMNS[:-1], f"Date ({viewer_timezone().key})"],
        label="Transaction history",
        more=state["cursor"] is not None,
        on_end_reached=partial(on_end_of_list, user, workspace_id, filters),
    )


# --- the CSV of the whole filtered history -----------------------------------------------


def csv_frame(frame: pd.DataFrame, zone: ZoneInfo) -> pd.DataFrame:
    """One page of billing_core's history frame as CSV columns: the date in the viewer's
    zone (named in the header), the amount a signed number."""
    return pd.DataFrame(
        {
            "id": frame["id"],
            f"date ({zone.key})": frame["created_at"].dt.tz_convert(zone)
            .dt.strftime("%Y-%m-%d %H:%M:%S"),
            "type": frame["type"],
            "amount": frame["amount"],
            "feature": frame["feature"],
            "description": frame["description"],
        }
    )


def history_csv(ledger: Ledger, user: User, workspace_id: int, filters: HistoryFilters,
                zone: ZoneInfo) -> bytes:
    """Every transaction that matches the filters, as CSV, read from billing_core a page at
    a time (not the rows this browser loaded). Runs when the button is clicked."""
    frames = ledger.history_frames(user, workspace_id, **filters.as_kwargs())
    return b"".join(csv_chunks(csv_frame(frame, zone) for frame in frames))


def csv_name(workspace: Workspace, filters: HistoryFilters) -> str:
    """`acme-research_transactions_debits_2026-11-01_2026-11-27.csv`"""
    return file_name(workspace.name, "transactions", *filters.describe())


def csv_button(user: User, workspace: Workspace, filters: HistoryFilters) -> None:
    st.download_button(
        "Download CSV",
        data=partial(history_csv, get_ledger(), user, workspace.id, filters, viewer_timezone()),
        file_name=csv_name(workspace, filters),
        mime="text/csv",
        key="billing.history.csv",
        icon=":material/download:",
        on_click="ignore",
        help="Every transaction that matches the filters, not only the rows shown.",
    )


# --- the section -------------------------------------------------------------------------


def empty_history(filters: HistoryFilters, state: dict[str, Any]) -> None:
    if filters.active:
        st.info("No transactions match these filters.", icon=":material/filter_alt_off:")
    elif not state["error"]:
        st.info(
            "No transactions yet. Credits added and features used in this workspace "
            "will be listed here.",
            icon=":material/receipt_long:",
        )


@st.fragment
def history_section(user: User, workspace: Workspace, as_of: datetime) -> None:
    with section("transaction history"):
        st.header("Transaction history", anchor=False)
        filters = history_filters()
        state = loaded_history(user, workspace.id, filters, as_of)
        if state["error"]:
            st.error(plain(state["error"]), icon="⚠️")
        if not state["items"]:
            empty_history(filters, state)
            return
        more = state["cursor"] is not None
        with st.container(horizontal=True, vertical_alignment="center"):
            shown = f"{len(state['items']):,} transactions shown"
            st.caption(f"{shown} · scroll to the end of the list to load more." if more
                       else f"{shown} · that is the whole history.")
            csv_button(user, workspace, filters)
        history_list(user, workspace.id, filters, state)
        if more:  # for keyboards, and for a list too short to scroll
            st.button("Load more", key="billing.history.more", icon=":material/expand_more:",
                      on_click=partial(load_next_page, user, workspace.id, filters))
