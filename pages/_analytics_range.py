"""Spend analytics' controls: the date range, the grouping and the workspace, as a Query.

Not a page (the underscore keeps it out of navigation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import streamlit as st

from billing_core import Ledger, User
from pages._shared import attempt, plain
from pages._text import visible_text

KEY = "billing.analytics"
GRANULARITIES = ["day", "week", "month"]


@dataclass(frozen=True, slots=True)
class Query:
    start: date
    end: date
    granularity: str
    workspace_id: int | None
    workspace_name: str | None

    @property
    def slug(self) -> str:
        scope = f"-workspace-{self.workspace_id}" if self.workspace_id is not None else ""
        return f"{self.start}_{self.end}{scope}"

    @property
    def where(self) -> str:
        place = f" in {plain(self.workspace_name)}" if self.workspace_name else ""
        return f"between {self.start} and {self.end}{place}"


def controls(ledger: Ledger, user: User) -> Query | None:
    spaces = attempt(lambda: ledger.workspaces(user))
    if spaces is None:
        return None
    if not spaces:
        st.info("You are not a member of any workspace yet, so there is no spend to show. "
                "Ask an administrator to add you to one.")
        return None
    names = {w.id: w.name for w in spaces}
    today = ledger.today()
    every = "All workspaces" if user.is_admin else "All my workspaces"
    period, group, where = st.columns([2, 1.4, 2], vertical_alignment="bottom")
    picked = period.date_input(
        "Date range", value=(today - timedelta(days=89), today), max_value=today,
        key=f"{KEY}.range",
    )
    granularity = group.segmented_control(
        "Group by", GRANULARITIES, default="week", required=True, key=f"{KEY}.granularity",
        format_func=str.capitalize,
    )
    workspace_id = where.selectbox(
        "Workspace", [None, *names],
        format_func=lambda i: every if i is None else visible_text(names[i]),
        key=f"{KEY}.workspace",
    )
    if not isinstance(picked, tuple | list) or len(picked) != 2:
        st.info("Pick the last day of the range too.")
        return None
    start, end = picked
    return Query(start, end, granularity or "week", workspace_id,
                 None if workspace_id is None else names[workspace_id])
