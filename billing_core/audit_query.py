"""Reading the audit trail with filters, for the Audit log page and its CSV (admins only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import pandas as pd

from .access import Access
from .audit import AuditAction
from .errors import InvalidInput
from .models import User
from .store import Database, as_utc
from .text import clean_id, clean_limit, clean_text

MAX_ROWS = 100_000

_SELECT = """
    SELECT a.id, a.recorded_at AS at, a.actor_id, coalesce(u.name, '') AS actor, a.action,
           a.subject, coalesce(p.name, '') AS person, a.workspace_id, coalesce(w.name, '') AS workspace,
           a.before, a.after
    FROM audit_log a
    LEFT JOIN users u ON u.id = a.actor_id
    LEFT JOIN users p ON a.subject = 'user:' || CAST(p.id AS VARCHAR)
    LEFT JOIN workspaces w ON w.id = a.workspace_id
    WHERE (? IS NULL OR a.actor_id = ?)
      AND (? OR a.action IN (SELECT unnest(?::VARCHAR[])))
      AND (? IS NULL OR a.workspace_id = ?)
      AND (? IS NULL OR a.recorded_at >= ?)
      AND (? IS NULL OR a.recorded_at < ?)
      AND (? IS NULL OR strpos(lower(a.subject || ' ' || coalesce(a.before, '') || ' '
                                     || coalesce(a.after, '') || ' ' || coalesce(u.name, '') || ' '
                                     || coalesce(u.email, '') || ' ' || coalesce(p.name, '') || ' '
                                     || coalesce(p.email, '') || ' ' || coalesce(w.name, '')), ?) > 0
           OR a.subject IN (SELECT 'entry:' || CAST(id AS VARCHAR) FROM entries
                            WHERE strpos(lower(description), ?) > 0)
           OR a.subject IN (SELECT 'request:' || CAST(id AS VARCHAR) FROM credit_requests
                            WHERE strpos(lower(coalesce(note, '')), ?) > 0))
    ORDER BY a.id DESC
    LIMIT ?
"""


def _actions(action: str | Sequence[str] | None) -> list[str]:
    wanted = [action] if isinstance(action, str) else list(action or [])
    known = {a.value for a in AuditAction}
    unknown = [a for a in wanted if a not in known]
    if unknown:
        raise InvalidInput(f"There is no audit action {unknown[0]!r}.")
    return wanted


def _start(day: date | datetime | None) -> datetime | None:
    if day is None or isinstance(day, datetime):
        return day
    return datetime.combine(day, time())


class AuditQuery:
    def __init__(self, db: Database, access: Access) -> None:
        self.db = db
        self.access = access

    def audit_events(
        self,
        actor: User,
        *,
        who: int | None = None,
        action: str | Sequence[str] | None = None,
        workspace_id: int | None = None,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        search: str | None = None,
        limit: int = 500,
    ) -> pd.DataFrame:
        """The newest audit rows that match every filter given: by whom (`who`, a user id),
        one or more actions, a workspace, from `since` to `until` (days in UTC, both
        included) and text in the subject, values, person or workspace (any case).
        Columns: id, at (aware UTC), actor_id, actor, action, subject, person (the subject's name when
        it is a person), workspace_id, workspace, before, after (JSON text), and detail: a
        movement's description (a grant's reason) or a request's note."""
        clean_limit(limit, most=MAX_ROWS)
        if who is not None:
            clean_id(who, what="user")
        if workspace_id is not None:
            clean_id(workspace_id, what="workspace")
        actions = _actions(action)
        text = clean_text(search, what="search", limit=200, required=False)
        start = _start(since)
        end = _start(until)
        if end is not None and isinstance(until, date) and not isinstance(until, datetime):
            end += timedelta(days=1)
        if start is not None and end is not None and start >= end:
            raise InvalidInput("The start date is after the end date.")
        self.access.admin(actor, "read the audit log")
        needle = text.lower() if text else None
        frame = self.db.frame(
            _SELECT,
            [who, who, not actions, actions, workspace_id, workspace_id, start, start, end, end,
             needle, needle, needle, needle, limit],
        )
        frame["at"] = pd.Series(
            [as_utc(t.to_pydatetime()) for t in pd.to_datetime(frame["at"])], index=frame.index,
            dtype="datetime64[us, UTC]",
        )
        frame["detail"] = self._details(list(frame["subject"]))
        return frame

    def _details(self, subjects: list[str]) -> list[str | None]:
        """The description or note behind each `entry:<id>` / `request:<id>` subject."""
        wanted: dict[str, list[int]] = {"entry": [], "request": []}
        for subject in subjects:
            kind, _, number = str(subject).partition(":")
            if kind in wanted and number.isdigit():
                wanted[kind].append(int(number))
        found: dict[str, str | None] = {}
        with self.db.reading() as cur:
            for kind, table, column in (("entry", "entries", "description"),
                                        ("request", "credit_requests", "note")):
                if wanted[kind]:
                    # table and column come from the constant pairs above
                    rows = cur.execute(
                        f"SELECT id, {column} FROM {table} WHERE id IN (SELECT unnest(?::BIGINT[]))",
                        [wanted[kind]],
                    ).fetchall()
                    found.update({f"{kind}:{r[0]}": r[1] for r in rows})
        return [found.get(str(subject)) for subject in subjects]
