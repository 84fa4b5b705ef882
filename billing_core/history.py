"""Transaction history: newest first, by keyset cursor, so page 2,000 costs what page 1 does."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from .access import require_workspace
from .errors import InvalidInput
from .journal import ENTRY_COLUMNS, row_to_transaction
from .models import EntryKind, Page, User
from .store import Database

MAX_PAGE = 500
_CURSOR_PREFIX = "before:"


def encode_cursor(entry_id: int) -> str:
    return f"{_CURSOR_PREFIX}{entry_id}"


def decode_cursor(cursor: object) -> int:
    if isinstance(cursor, str) and cursor.startswith(_CURSOR_PREFIX):
        digits = cursor[len(_CURSOR_PREFIX) :]
        if digits.isascii() and digits.isdigit() and len(digits) < 19:
            return int(digits)
    raise InvalidInput("That history cursor is not valid; start again from the first page.")


def _utc(value: date | datetime, *, end: bool) -> datetime:
    """A filter bound as naive UTC. A date means its whole (UTC) day."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        day = value + timedelta(days=1) if end else value
        return datetime.combine(day, time())
    raise InvalidInput("Dates in history filters must be dates or datetimes.")


class HistoryOps:
    db: Database

    def history(
        self,
        actor: User,
        workspace_id: int,
        *,
        limit: int = 50,
        cursor: str | None = None,
        kind: EntryKind | str | None = None,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        search: str | None = None,
    ) -> Page:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"A history page holds 1 to {MAX_PAGE} transactions.")
        # Each filter adds a fixed SQL fragment; every value is a bound parameter.
        where = ["workspace_id = ?"]
        params: list[object] = [workspace_id]
        if cursor is not None:
            where.append("id < ?")
            params.append(decode_cursor(cursor))
        if kind is not None:
            try:
                where.append("kind = ?")
                params.append(EntryKind(kind).value)
            except ValueError:
                raise InvalidInput("The type of a transaction is 'debit' or 'credit'.") from None
        if since is not None:
            where.append("created_at >= ?")
            params.append(_utc(since, end=False))
        if until is not None:
            where.append("created_at <= ?" if isinstance(until, datetime) else "created_at < ?")
            params.append(_utc(until, end=True))
        if search is not None and search.strip():
            if len(search) > 200:
                raise InvalidInput("Search for at most 200 characters.")
            where.append(
                "(contains(lower(description), lower(?)) OR contains(lower(coalesce(feature, '')), lower(?)))"
            )
            params += [search.strip(), search.strip()]
        sql = (
            f"SELECT {ENTRY_COLUMNS} FROM entries WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY id DESC LIMIT ?"
        )
        with self.db.reading() as cur:
            require_workspace(cur, actor, workspace_id)
            rows = cur.execute(sql, [*params, limit + 1]).fetchall()
        items = [row_to_transaction(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)
