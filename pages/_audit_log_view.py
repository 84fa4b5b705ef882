"""The Audit log's filters and the log they select, with its CSV download (pages/audit_log.py
calls `log_section`).

Not a page (the underscore keeps it out of navigation). billing_core reads and filters
(`Ledger.audit_events`); user text is drawn as text with hidden characters shown.
"""

from __future__ import annotations

from datetime import date
from functools import partial

import streamlit as st

from billing_core import Ledger, User
from billing_core.audit import AuditAction
from billing_core.export import file_name
from pages._audit_table import Filters, audit_csv, shown
from pages._shared import attempt
from pages._text import visible_text

KEY = "billing.audit"
SHOWN = 500
ANYONE = -1


def filters(ledger: Ledger, admin: User) -> Filters:
    people = {p.user.id: f"{visible_text(p.user.name)} · {p.user.email}" for p in ledger.people(admin)}
    people[0] = "Billing system (the command line's operator)"
    spaces = {w.id: visible_text(w.name) for w in ledger.workspaces(admin, include_archived=True)}
    who_col, action_col, space_col = st.columns(3)
    who = who_col.selectbox("Who", [ANYONE, *people], key=f"{KEY}.who",
                            format_func=lambda i: "Anyone" if i == ANYONE else people[i])
    actions = action_col.multiselect("Action", [a.value for a in AuditAction], key=f"{KEY}.actions",
                                     placeholder="Any action")
    space = space_col.selectbox("Workspace", [ANYONE, *spaces], key=f"{KEY}.space",
                                format_func=lambda i: "Any workspace" if i == ANYONE else spaces[i])
    since_col, until_col, text_col = st.columns([1, 1, 2])
    since = since_col.date_input("From", value=None, key=f"{KEY}.since", format="YYYY-MM-DD")
    until = until_col.date_input("To", value=None, key=f"{KEY}.until", format="YYYY-MM-DD")
    search = text_col.text_input("Text", key=f"{KEY}.search", placeholder="A name, an email, a reason…")
    return Filters(
        who=None if who == ANYONE else who, actions=tuple(actions),
        workspace_id=None if space == ANYONE else space,
        since=since if isinstance(since, date) else None, until=until if isinstance(until, date) else None,
        search=search or None,
    )


def log_section(ledger: Ledger, admin: User) -> None:
    chosen = filters(ledger, admin)
    frame = attempt(lambda: chosen.read(ledger, admin, SHOWN))
    if frame is None:
        return
    count, download = st.columns([4, 1], vertical_alignment="bottom")
    more = " (the newest; narrow the filters or download the CSV for more)" if len(frame) == SHOWN else ""
    count.caption(f"{len(frame):,} changes{more}, newest first.")
    dates = [str(d) for d in (chosen.since, chosen.until) if d is not None]
    download.download_button(
        "Download CSV", data=partial(audit_csv, ledger, admin, chosen),
        file_name=file_name("audit-log", *dates),
        mime="text/csv", key=f"{KEY}.csv", icon=":material/download:", on_click="ignore",
        disabled=frame.empty, help="Every change that matches the filters, up to 100,000.",
    )
    if frame.empty:
        st.info("No change matches these filters.", icon=":material/search_off:")
        return
    st.dataframe(shown(frame), hide_index=True, key=f"{KEY}.table")
