"""Posting movements: the only code that appends to `entries` and `postings`.

A movement is one journal entry with two postings that sum to zero: the
workspace wallet against a platform account (top-ups for credits, usage for
debits). In the same transaction the wallet's running balance and the daily
rollup move by the same amount. Nothing here ever updates or deletes an entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .errors import InsufficientCredits, InvalidAmount, NotFound, WalletInactive
from .models import EntryKind, Transaction, WalletStatus
from .money import MAX_BALANCE, format_credits, to_decimal
from .schema import PLATFORM_ACCOUNTS, TOPUPS_ACCOUNT, USAGE_ACCOUNT
from .store import Database, as_utc

ENTRY_COLUMNS = "id, workspace_id, kind, amount, description, feature, created_at, actor_id, request_id"


@dataclass(frozen=True, slots=True)
class WalletState:
    workspace_id: int
    account_id: int
    status: WalletStatus
    balance: Decimal


def lock_wallet(db: Database, cur: Any, workspace_id: int) -> WalletState:
    """Read a wallet inside the write transaction, locked until it ends where the store
    locks rows (on DuckDB writes are serialised, so what it reads is current anyway)."""
    rows = cur.execute(
        "SELECT account_id, status, balance FROM wallets WHERE workspace_id = ?" + db.lock_rows,
        [workspace_id],
    ).fetchall()
    row = rows[0] if rows else None
    if row is None:
        raise NotFound(f"There is no wallet for workspace {workspace_id}.")
    return WalletState(workspace_id, int(row[0]), WalletStatus(row[1]), to_decimal(row[2]))


def no_credits_message(balance: Decimal, amount: Decimal) -> str:
    if balance <= 0:
        return (
            "No credits available: this workspace has 0 en-credits, so features that use "
            "credits are blocked. Ask for more in Billing > Credit requests."
        )
    return (
        f"Not enough credits: this needs {format_credits(amount)} and the workspace has "
        f"{format_credits(balance)} available. Nothing was charged."
    )


def check_debit(wallet: WalletState, amount: Decimal) -> None:
    if wallet.status is WalletStatus.INACTIVE:
        raise WalletInactive(
            "No credits available: this workspace's wallet is inactive, so features that use "
            "credits are blocked. An administrator can reactivate it."
        )
    if amount > wallet.balance:
        raise InsufficientCredits(no_credits_message(wallet.balance, amount))


def post(
    db: Database,
    cur: Any,
    wallet: WalletState,
    *,
    kind: EntryKind,
    amount: Decimal,
    description: str,
    feature: str | None,
    actor_id: int,
    at: datetime,
    request_id: int | None = None,
) -> Transaction:
    """Append one movement. Debits must have passed `check_debit` on this `wallet`."""
    if kind is EntryKind.DEBIT:
        check_debit(wallet, amount)
        new_balance = wallet.balance - amount
        platform = PLATFORM_ACCOUNTS[USAGE_ACCOUNT]
        wallet_side = -amount
    else:
        new_balance = wallet.balance + amount
        if new_balance > MAX_BALANCE:
            raise InvalidAmount(
                f"That would take the wallet above the maximum balance of {format_credits(MAX_BALANCE)}."
            )
        platform = PLATFORM_ACCOUNTS[TOPUPS_ACCOUNT]
        wallet_side = amount
    entry_id = db.next_id("entries")
    cur.execute(
        f"INSERT INTO entries ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        [
            entry_id,
            wallet.workspace_id,
            kind.value,
            amount,
            description,
            feature,
            at,
            actor_id,
            request_id,
        ],
    )
    cur.execute(
        "INSERT INTO postings (entry_id, account_id, amount) VALUES (?, ?, ?), (?, ?, ?)",
        [entry_id, wallet.account_id, wallet_side, entry_id, platform, -wallet_side],
    )
    cur.execute(
        "UPDATE wallets SET balance = ?, updated_at = ? WHERE workspace_id = ?",
        [new_balance, at, wallet.workspace_id],
    )
    is_debit = kind is EntryKind.DEBIT
    cur.execute(
        """
        INSERT INTO daily_rollups
            (workspace_id, feature, day, debits, credits, debit_count, credit_count)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        """,
        [
            wallet.workspace_id,
            feature or "",
            at.date(),
            amount if is_debit else Decimal(0),
            Decimal(0) if is_debit else amount,
            1 if is_debit else 0,
            0 if is_debit else 1,
        ],
    )
    return Transaction(
        id=entry_id,
        workspace_id=wallet.workspace_id,
        kind=kind,
        amount=amount,
        description=description,
        feature=feature,
        created_at=as_utc(at),
        actor_id=actor_id,
        request_id=request_id,
    )


def row_to_transaction(row: tuple[Any, ...]) -> Transaction:
    return Transaction(
        id=int(row[0]),
        workspace_id=int(row[1]),
        kind=EntryKind(row[2]),
        amount=to_decimal(row[3]),
        description=row[4],
        feature=row[5],
        created_at=as_utc(row[6]),
        actor_id=row[7],
        request_id=row[8],
    )
