"""Transaction history: newest first, by keyset cursor, so page 2,000 costs what page 1 does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from .access import Access
from .errors import InvalidInput
from .journal import TRANSACTION_COLUMNS, row_to_transaction
from .models import EntryKind, Page, Transaction, User
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


def _scan_back(
    cur: Any, sql: str, params: list[object], newest: int, wanted: int, window: int
) -> list[tuple[Any, ...]]:
    """Read the newest `wanted` matching rows at or below id `newest`, a window of ids
    at a time, each window twice as wide as the last.

    Entries are stored in id order, so DuckDB's min/max zone maps skip every row
    group outside a window: a page costs about the same at depth 100,000 as at the
    top, and about the same in a ledger of 10 million entries as in one of 10,000.
    """
    rows: list[tuple[Any, ...]] = []
    high = newest
    while len(rows) < wanted and high >= 1:
        low = max(1, high - window + 1)
        rows += cur.execute(sql, [*params, low, high, wanted - len(rows)]).fetchall()
        high = low - 1
        window *= 2
    return rows


class History:
    """Transaction history pages."""

    def __init__(self, db: Database, access: Access) -> None:
        self.db = db
        self.access = access

    def _window(self, limit: int) -> int:
        """The first id window to read: where `limit` entries of an average workspace
        would be found, with room to spare."""
        entries = self.db.last_id("entries")
        workspaces = max(1, self.db.last_id("workspaces"))
        return max(4 * limit, 2 * (limit + 1) * entries // workspaces)

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
        newest = decode_cursor(cursor) - 1 if cursor is not None else self.db.last_id("entries")
        if kind is not None:
            try:
                where.append("kind = ?")
                params.append(EntryKind(kind).value)
            except ValueError:
                raise InvalidInput("The type of a transaction is 'debit', 'credit' or 'expiry'.") from None
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
                "(strpos(lower(description), lower(?)) > 0"
                " OR strpos(lower(coalesce(feature, '')), lower(?)) > 0)"
            )
            params += [search.strip(), search.strip()]
        sql = (
            f"SELECT {TRANSACTION_COLUMNS} FROM entries WHERE {' AND '.join(where)} "
            "AND id BETWEEN ? AND ? ORDER BY id DESC LIMIT ?"
        )
        with self.db.reading() as cur:
            self.access.workspace(actor, workspace_id)
            rows = _scan_back(cur, sql, params, newest, limit + 1, self._window(limit))
        items = [row_to_transaction(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)

    def history_frames(
        self,
        actor: User,
        workspace_id: int,
        *,
        page_size: int = MAX_PAGE,
        kind: EntryKind | str | None = None,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        search: str | None = None,
    ) -> Iterator[pd.DataFrame]:
        """The whole filtered history, newest first, one frame per keyset page (for an
        export): the same filters and access check as `history`, page after page, so
        only one page is held at a time. Columns: id, created_at (aware UTC), type,
        amount (a signed Decimal: credits positive, debits and expiries negative), feature,
        description. An empty history yields one empty frame with those columns."""
        cursor: str | None = None
        while True:
            page = self.history(actor, workspace_id, limit=page_size, cursor=cursor,
                                kind=kind, since=since, until=until, search=search)
            yield history_frame(page.items)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


def signed_amount(tx: Transaction) -> Decimal:
    """A movement as seen by the wallet: a credit adds, a debit or an expiry takes away."""
    return tx.amount if tx.kind is EntryKind.CREDIT else -tx.amount


def history_frame(items: list[Transaction]) -> pd.DataFrame:
    """Transactions as a tidy frame (see `History.history_frames`)."""
    return pd.DataFrame(
        {
            "id": pd.Series([tx.id for tx in items], dtype="int64"),
            "created_at": pd.Series([tx.created_at for tx in items], dtype="datetime64[us, UTC]"),
            "type": pd.Series([tx.kind.value for tx in items], dtype=object),
            "amount": pd.Series([signed_amount(tx) for tx in items], dtype=object),
            "feature": pd.Series([tx.feature for tx in items], dtype=object),
            "description": pd.Series([tx.description for tx in items], dtype=object),
        }
    )
