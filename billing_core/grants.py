"""Grants: what a wallet holds, which grants paid for a transaction, expiring them when
their time comes, and the forecast of credits that will expire unused."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from .access import Access
from .drawdown import LiveGrant
from .errors import InvalidInput, NotFound
from .forecast import expiry_forecast
from .journal import lock_and_expire
from .models import Draw, EntryKind, ExpiryForecast, Grant, GrantKind, Transaction, User
from .money import QUANTUM, ZERO, to_decimal
from .store import Database, as_utc
from .text import clean_id

BURN_DAYS = 30  # the forecast assumes the last 30 days' spend goes on
_GRANT_COLUMNS = (
    "id, workspace_id, kind, priority, amount, remaining, expires_at, source, created_at, "
    "created_by, entry_id, expired_entry_id"
)
_ORDER = "priority, expires_at NULLS LAST, id"  # the draw-down order


def _grant(row: tuple[Any, ...]) -> Grant:
    return Grant(
        id=int(row[0]),
        workspace_id=int(row[1]),
        kind=GrantKind(row[2]),
        priority=int(row[3]),
        amount=to_decimal(row[4]),
        remaining=to_decimal(row[5]),
        expires_at=as_utc(row[6]),
        source=str(row[7]),
        created_at=as_utc(row[8]),
        created_by=int(row[9]),
        entry_id=None if row[10] is None else int(row[10]),
        expired_entry_id=None if row[11] is None else int(row[11]),
    )


def live(grant: Grant) -> LiveGrant:
    expires = grant.expires_at.replace(tzinfo=None) if grant.expires_at else None
    return LiveGrant(grant.id, grant.kind, grant.priority, grant.remaining, expires)


class Grants:
    """Reading grants and draws; the expiry job."""

    def __init__(self, db: Database, access: Access) -> None:
        self.db = db
        self.access = access

    def grants(self, actor: User, workspace_id: int, *, include_spent: bool = False) -> list[Grant]:
        """The wallet's grants with credits left, in draw-down order (the next debit draws
        from the first); with `include_spent`, then the used-up and expired ones, newest first."""
        with self.db.reading() as cur:
            self.access.workspace(actor, workspace_id)
            rows = cur.execute(
                f"SELECT {_GRANT_COLUMNS} FROM grants WHERE workspace_id = ? AND remaining > 0 "
                f"ORDER BY {_ORDER}",
                [workspace_id],
            ).fetchall()
            if include_spent:
                rows += cur.execute(
                    f"SELECT {_GRANT_COLUMNS} FROM grants WHERE workspace_id = ? AND remaining = 0 "
                    "ORDER BY id DESC",
                    [workspace_id],
                ).fetchall()
        return [_grant(r) for r in rows]

    def draws(self, actor: User, transaction_id: int) -> list[Draw]:
        """Which grants a transaction moved, in draw-down order: the grants a debit drew from
        (each with what it took), the grant a credit made, the grant an expiry emptied. An
        entry from before grants existed names none."""
        clean_id(transaction_id, what="transaction")
        with self.db.reading() as cur:
            entry = cur.execute(
                "SELECT workspace_id, kind, created_at FROM entries WHERE id = ?", [transaction_id]
            ).fetchone()
            if entry is None:
                raise NotFound(f"There is no transaction {transaction_id}.")
            self.access.workspace(actor, int(entry[0]))
            rows = cur.execute(
                """
                SELECT g.id, p.amount, g.kind, g.source, g.expires_at
                FROM postings p JOIN grants g ON g.id = p.grant_id
                WHERE p.entry_id = ? ORDER BY g.priority, g.expires_at NULLS LAST, g.id
                """,
                [transaction_id],
            ).fetchall()
        kind = EntryKind(entry[1])
        return [
            Draw(
                transaction_id=transaction_id,
                grant_id=int(r[0]),
                amount=abs(to_decimal(r[1])),
                grant_kind=GrantKind(r[2]),
                grant_source=str(r[3]),
                grant_expires_at=as_utc(r[4]),
                kind=kind,
                created_at=as_utc(entry[2]),
            )
            for r in rows
        ]

    def grant_draws(self, actor: User, grant_id: int) -> list[Draw]:
        """Every transaction that moved a grant, oldest first: the credit that made it, the
        debits that drew from it (each with what it took), and its expiry, if it expired."""
        clean_id(grant_id, what="grant")
        with self.db.reading() as cur:
            grant = cur.execute(
                "SELECT workspace_id, kind, source, expires_at FROM grants WHERE id = ?", [grant_id]
            ).fetchone()
            if grant is None:
                raise NotFound(f"There is no grant {grant_id}.")
            self.access.workspace(actor, int(grant[0]))
            rows = cur.execute(
                """
                SELECT e.id, p.amount, e.kind, e.created_at
                FROM postings p JOIN entries e ON e.id = p.entry_id
                WHERE p.grant_id = ? ORDER BY e.id
                """,
                [grant_id],
            ).fetchall()
        return [
            Draw(
                transaction_id=int(r[0]),
                grant_id=grant_id,
                amount=abs(to_decimal(r[1])),
                grant_kind=GrantKind(grant[1]),
                grant_source=str(grant[2]),
                grant_expires_at=as_utc(grant[3]),
                kind=EntryKind(r[2]),
                created_at=as_utc(r[3]),
            )
            for r in rows
        ]

    def expire_due(self, now: datetime | None = None) -> list[Transaction]:
        """Expire every grant whose expiry has come by `now` (default: the ledger's clock; no
        later than it): what is left of each leaves its wallet as an expiry entry, dated at
        the expiry, in time order. Exactly once however often, however late and in however
        many processes it runs: each wallet is locked and its grants read anew under the
        lock, so a grant an earlier run (or any write on its wallet) expired is gone."""
        clock = self.db.clock()
        at = clock if now is None else _naive(now)
        if at > clock:
            raise InvalidInput("Grants cannot be expired ahead of the ledger's clock.")
        with self.db.reading() as cur:
            due = [int(r[0]) for r in cur.execute(
                "SELECT DISTINCT workspace_id FROM grants WHERE remaining > 0 AND expires_at <= ?", [at]
            ).fetchall()]
        if not due:
            return []
        with self.db.writing() as cur:
            return lock_and_expire(self.db, cur, due, now=at)[1]

    def expiry_forecast(self, actor: User, workspace_id: int) -> ExpiryForecast:
        """Credits of this wallet that will expire unused if the last 30 days' spend goes on."""
        with self.db.reading() as cur:
            self.access.workspace(actor, workspace_id)
            rows = cur.execute(
                f"SELECT {_GRANT_COLUMNS} FROM grants WHERE workspace_id = ? AND remaining > 0",
                [workspace_id],
            ).fetchall()
            today = self.db.clock().date()
            row = cur.execute(
                "SELECT coalesce(sum(debits), 0) FROM daily_rollups "
                "WHERE workspace_id = ? AND feature IS NULL AND day > ? AND day <= ?",
                [workspace_id, today - timedelta(days=BURN_DAYS), today],
            ).fetchone()
        per_day = (to_decimal(row[0] if row else 0) / BURN_DAYS).quantize(QUANTUM)
        return expiry_forecast(workspace_id, [live(_grant(r)) for r in rows], per_day, self.db.clock())


def _naive(moment: datetime) -> datetime:
    if not isinstance(moment, datetime):
        raise InvalidInput("Give the time to expire grants up to as a datetime.")
    return as_utc(moment).replace(tzinfo=None)


EXPIRING_DAYS = 30  # "expiring soon": within this many days


def with_expiries(db: Database, frame: pd.DataFrame) -> pd.DataFrame:
    """wallet_overview's frame (workspace_id, status, per_day) with its wallets' expiries:
    expiring_30d, next_expiry, expires_unused (the forecast at per_day; an inactive wallet
    spends nothing) and unused_from. One read of the live grants that expire."""
    now = db.clock()
    ids = [int(w) for w in frame["workspace_id"]]
    with db.reading() as cur:
        rows = cur.execute(
            f"SELECT {_GRANT_COLUMNS} FROM grants WHERE remaining > 0 "
            "AND workspace_id IN (SELECT unnest(?::BIGINT[]))",
            [ids],
        ).fetchall()
    held: dict[int, list[Grant]] = {}
    for row in rows:
        grant = _grant(row)
        held.setdefault(grant.workspace_id, []).append(grant)
    soon = now + timedelta(days=EXPIRING_DAYS)
    expiring, nearest, unused, first = [], [], [], []
    for workspace_id, status, rate in zip(frame["workspace_id"], frame["status"], frame["per_day"],
                                          strict=True):
        grants = held.get(int(workspace_id), [])
        ends = [g.expires_at for g in grants if g.expires_at is not None]
        expiring.append(sum((g.remaining for g in grants if g.expires_at is not None
                             and g.expires_at.replace(tzinfo=None) <= soon), ZERO))
        nearest.append(min(ends) if ends else None)
        spend = to_decimal(rate) if status == "active" else ZERO
        outlook = expiry_forecast(int(workspace_id), [live(g) for g in grants], spend, now)
        unused.append(outlook.unused)
        first.append(outlook.first_on)
    return frame.assign(
        expiring_30d=pd.Series(expiring, index=frame.index, dtype=object),
        next_expiry=pd.Series(nearest, index=frame.index, dtype=object),
        expires_unused=pd.Series(unused, index=frame.index, dtype=object),
        unused_from=pd.Series(first, index=frame.index, dtype=object),
    )
