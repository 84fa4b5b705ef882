"""The Audit log's filters, table and CSV (pages/audit_log.py draws them).

Not a page (the underscore keeps it out of navigation). The CSV goes through
billing_core.export; the table draws user text as text, hidden characters shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from billing_core import Ledger, User
from billing_core.audit_query import MAX_ROWS
from billing_core.export import csv_bytes
from pages._shared import local_time
from pages._text import visible_text


@dataclass(frozen=True, slots=True)
class Filters:
    who: int | None
    actions: tuple[str, ...]
    workspace_id: int | None
    since: date | None
    until: date | None
    search: str | None

    def read(self, ledger: Ledger, admin: User, limit: int) -> pd.DataFrame:
        return ledger.audit_events(
            admin, who=self.who, action=list(self.actions) or None, workspace_id=self.workspace_id,
            since=self.since, until=self.until, search=self.search, limit=limit,
        )


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """The log as a table: local times, text as text (hidden characters as code points)."""
    text = lambda column: [visible_text(v) if isinstance(v, str) else "" for v in frame[column]]  # noqa: E731
    about = [f"{p} ({s})" if p else s for p, s in zip(text("person"), text("subject"), strict=True)]
    return pd.DataFrame(
        {
            "When": [local_time(t) for t in frame["at"]],
            "Who": text("actor"),
            "Action": frame["action"],
            "About": about,
            "Workspace": text("workspace"),
            "Detail": text("detail"),
            "Before": text("before"),
            "After": text("after"),
        }
    )


def audit_csv(ledger: Ledger, admin: User, chosen: Filters) -> bytes:
    """Every matching row (up to 100,000), built when the button is clicked."""
    frame = chosen.read(ledger, admin, MAX_ROWS)
    frame["at"] = frame["at"].astype(str)
    return csv_bytes(frame)
