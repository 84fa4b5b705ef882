"""The journal: the one writer of movements.

A movement is one entry with two postings that sum to zero (the workspace wallet
against a platform account: top-ups for credits, usage for debits). With it, in the
same transaction, the wallet's running balance, the daily rollup, the idempotency
key (if any) and one audit row move by the same amount. Everything that moves money
calls `append` (consume's group commit, approvals, grants) or builds the same batch
table set-based and calls `write_batch` (bulk ingest, the demo): one set of
statements writes every row, so identical movements give identical rows whoever
made them. Nothing here ever updates or deletes an entry. After a batch, the balance
alerts its movements crossed fire in the same transaction (notify.alerts).

A batch is an Arrow table of `BATCH_SCHEMA`, one row per movement in entry id order
(ascending: rows are stored in that order, which history pages and zone maps rely on),
with the balances before and after it already decided by the caller (who holds the
wallets' locks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from .audit import AuditAction
from .errors import InsufficientCredits, InvalidAmount, NotFound, WalletInactive
from .models import EntryKind, Transaction, WalletStatus
from .money import MAX_BALANCE, format_credits, to_decimal
from .notify.alerts import BalanceChange, Level, after_movements, levels_from_json
from .schema import PLATFORM_ACCOUNTS, TOPUPS_ACCOUNT, USAGE_ACCOUNT
from .store import BatchSource, Database, as_utc

ENTRY_COLUMNS = (
    "id, workspace_id, kind, amount, description, feature, created_at, actor_id, request_id, corrects"
)
TRANSACTION_COLUMNS = ENTRY_COLUMNS + ", quantity, unit, rate"  # what row_to_transaction reads
MONEY = pa.decimal128(18, 4)
BATCH_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),  # the entry's id
        ("audit_id", pa.int64()),
        ("workspace_id", pa.int64()),
        ("account_id", pa.int64()),  # the wallet's account
        ("platform_id", pa.int64()),  # the other side: top-ups or usage
        ("kind", pa.string()),
        ("amount", MONEY),  # > 0
        ("signed", MONEY),  # the wallet's side: +amount for a credit, -amount for a debit
        ("description", pa.string()),
        ("feature", pa.string()),
        ("created_at", pa.timestamp("us")),  # when it happened (an ingested event's time)
        ("recorded_at", pa.timestamp("us")),  # when the ledger wrote it
        ("actor_id", pa.int64()),
        ("request_id", pa.int64()),
        ("corrects", pa.int64()),  # the entry a correction reverses; null for any other
        ("idempotency_key", pa.string()),
        ("action", pa.string()),  # AuditAction
        ("balance_before", MONEY),
        ("balance_after", MONEY),
    ]
)

# A batch of priced usage carries three more columns (nullable; other batches leave them out).
USAGE_FIELDS = [
    ("quantity", pa.decimal128(20, 8)),
    ("unit", pa.string()),
    ("rate", pa.decimal128(38, 10)),
]
USAGE_SCHEMA = pa.schema([*BATCH_SCHEMA, *USAGE_FIELDS])

# The statements of a batch, in order. `{batch}` is the batch's relation (store.batch).
_ENTRIES = f"""
    INSERT INTO entries ({ENTRY_COLUMNS})
    SELECT id, workspace_id, kind, amount, description, feature, created_at, actor_id, request_id,
           corrects
    FROM {{batch}} b
"""
_ENTRIES_USAGE = f"""
    INSERT INTO entries ({ENTRY_COLUMNS}, quantity, unit, rate)
    SELECT id, workspace_id, kind, amount, description, feature, created_at, actor_id, request_id,
           corrects, quantity, unit, rate
    FROM {{batch}} b
"""
_POSTINGS = """
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT id, account_id, signed FROM {batch} b
    UNION ALL
    SELECT id, platform_id, -signed FROM {batch} b
"""
_BALANCES = """
    UPDATE wallets SET balance = wallets.balance + d.delta, updated_at = d.last_at
    FROM (SELECT workspace_id, sum(signed) AS delta, max(recorded_at) AS last_at
          FROM {batch} b GROUP BY workspace_id) d
    WHERE wallets.workspace_id = d.workspace_id
"""
# Rollup deltas at two grains in one statement: per workspace, feature and day (feature ''
# for credits, which have none), and per workspace and day (feature NULL: the totals).
_ROLLUPS = """
    INSERT INTO daily_rollups (workspace_id, feature, day, debits, credits, debit_count, credit_count)
    SELECT workspace_id, feature_key, day,
           sum(CASE WHEN kind = 'debit' THEN amount ELSE 0 END),
           sum(CASE WHEN kind = 'credit' THEN amount ELSE 0 END),
           sum(CASE WHEN kind = 'debit' THEN 1 ELSE 0 END),
           sum(CASE WHEN kind = 'credit' THEN 1 ELSE 0 END)
    FROM (SELECT workspace_id, coalesce(feature, '') AS feature_key, CAST(created_at AS DATE) AS day,
                 kind, amount FROM {batch} b) t
    GROUP BY GROUPING SETS ((workspace_id, feature_key, day), (workspace_id, day))
"""
_KEYS = """
    INSERT INTO idempotency_keys (key, entry_id, workspace_id, amount, feature)
    SELECT idempotency_key, id, workspace_id, amount, feature FROM {batch} b
    WHERE idempotency_key IS NOT NULL
"""
_KEYS_USAGE = """
    INSERT INTO idempotency_keys (key, entry_id, workspace_id, amount, feature, quantity, unit)
    SELECT idempotency_key, id, workspace_id, amount, feature, quantity, unit FROM {batch} b
    WHERE idempotency_key IS NOT NULL
"""
_AUDIT = """
    INSERT INTO audit_log (id, recorded_at, actor_id, action, subject, workspace_id, before, after)
    SELECT audit_id, recorded_at, actor_id, action, 'entry:' || CAST(id AS VARCHAR), workspace_id,
           '{"balance": "' || CAST(balance_before AS VARCHAR) || '"}',
           '{"balance": "' || CAST(balance_after AS VARCHAR) || '", "amount": "'
               || CAST(amount AS VARCHAR) || '"}'
    FROM {batch} b
"""


@dataclass(frozen=True, slots=True)
class WalletState:
    workspace_id: int
    account_id: int
    status: WalletStatus
    balance: Decimal
    levels: tuple[Level, ...] = ()  # its low-balance alert levels (notify.alerts)


@dataclass(frozen=True, slots=True)
class Movement:
    """One movement to append; `at` defaults to the batch's time (ingest passes the event's).
    A correction (`corrects` set) reverses that entry: it may take credits back from an
    inactive wallet (an administrator's fix, not a feature's use), never below zero."""

    workspace_id: int
    kind: EntryKind
    amount: Decimal
    description: str
    feature: str | None
    actor_id: int
    action: AuditAction
    request_id: int | None = None
    key: str | None = None
    corrects: int | None = None
    quantity: Decimal | None = None  # priced usage: the quantity, unit and rate behind the amount
    unit: str | None = None
    rate: Decimal | None = None


def lock_wallets(db: Database, cur: Any, workspace_ids: Sequence[int]) -> dict[int, WalletState]:
    """The wallets, read inside the write transaction and held until it ends (locked in id
    order where the store locks rows, so two writers never wait on each other)."""
    rows = db.select_for_update(
        cur,
        """
        SELECT w.workspace_id, w.account_id, w.status, w.balance,
               (SELECT t.levels FROM balance_thresholds t WHERE t.workspace_id = w.workspace_id)
        FROM wallets w WHERE w.workspace_id IN (SELECT unnest(?::BIGINT[])) ORDER BY w.workspace_id
        """,
        [sorted(set(workspace_ids))],
    )
    return {
        int(r[0]): WalletState(
            int(r[0]), int(r[1]), WalletStatus(r[2]), to_decimal(r[3]), levels_from_json(r[4])
        )
        for r in rows
    }


def lock_wallet(db: Database, cur: Any, workspace_id: int) -> WalletState:
    wallet = lock_wallets(db, cur, [workspace_id]).get(workspace_id)
    if wallet is None:
        raise NotFound(f"There is no wallet for workspace {workspace_id}.")
    return wallet


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
    if amount > wallet.balance or wallet.balance <= 0:  # blocked at zero, even for usage that rounds to 0
        raise InsufficientCredits(no_credits_message(wallet.balance, amount))


def check_credit(wallet: WalletState, amount: Decimal) -> None:
    if wallet.balance + amount > MAX_BALANCE:
        raise InvalidAmount(
            f"That would take the wallet above the maximum balance of {format_credits(MAX_BALANCE)}."
        )


def apply(wallet: WalletState, movement: Movement) -> WalletState:
    """The wallet after `movement`, which must pass its check (raises the refusal if not)."""
    if movement.kind is EntryKind.DEBIT:
        check_debit(wallet if movement.corrects is None else replace(wallet, status=WalletStatus.ACTIVE),
                    movement.amount)
        return replace(wallet, balance=wallet.balance - movement.amount)
    check_credit(wallet, movement.amount)
    return replace(wallet, balance=wallet.balance + movement.amount)


def append(
    db: Database,
    cur: Any,
    wallets: Mapping[int, WalletState],
    movements: Sequence[Movement],
    *,
    at: datetime,
) -> list[Transaction]:
    """Write `movements` in order against `wallets` (locked by the caller in this
    transaction); each must fit its wallet's running balance. Returns their transactions."""
    if not movements:
        return []
    entry_ids = db.allocate_ids("entries", len(movements))
    audit_ids = db.allocate_ids("audit_log", len(movements))
    running = dict(wallets)
    usage = any(m.quantity is not None for m in movements)
    schema = USAGE_SCHEMA if usage else BATCH_SCHEMA
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    made: list[Transaction] = []
    for movement, entry_id, audit_id in zip(movements, entry_ids, audit_ids, strict=True):
        before = running.get(movement.workspace_id)
        if before is None:
            raise NotFound(f"There is no wallet for workspace {movement.workspace_id}.")
        after = apply(before, movement)
        running[movement.workspace_id] = after
        credit = movement.kind is EntryKind.CREDIT
        for name, value in (
            ("id", int(entry_id)),
            ("audit_id", int(audit_id)),
            ("workspace_id", movement.workspace_id),
            ("account_id", before.account_id),
            ("platform_id", PLATFORM_ACCOUNTS[TOPUPS_ACCOUNT if credit else USAGE_ACCOUNT]),
            ("kind", movement.kind.value),
            ("amount", movement.amount),
            ("signed", movement.amount if credit else -movement.amount),
            ("description", movement.description),
            ("feature", movement.feature),
            ("created_at", at),
            ("recorded_at", at),
            ("actor_id", movement.actor_id),
            ("request_id", movement.request_id),
            ("corrects", movement.corrects),
            ("idempotency_key", movement.key),
            ("action", movement.action.value),
            ("balance_before", before.balance),
            ("balance_after", after.balance),
        ):
            columns[name].append(value)
        if usage:
            columns["quantity"].append(movement.quantity)
            columns["unit"].append(movement.unit)
            columns["rate"].append(movement.rate)
        made.append(
            Transaction(
                id=int(entry_id),
                workspace_id=movement.workspace_id,
                kind=movement.kind,
                amount=movement.amount,
                description=movement.description,
                feature=movement.feature,
                created_at=as_utc(at),
                actor_id=movement.actor_id,
                request_id=movement.request_id,
                corrects=movement.corrects,
                quantity=movement.quantity,
                unit=movement.unit,
                rate=movement.rate,
            )
        )
    write_batch(db, cur, pa.table(columns, schema=schema))
    credited = {m.workspace_id for m in movements if m.kind is EntryKind.CREDIT}
    after_movements(
        db,
        cur,
        [
            BalanceChange(ws, wallets[ws].balance, running[ws].balance, wallets[ws].levels, ws in credited)
            for ws in sorted({m.workspace_id for m in movements})
        ],
        at,
    )
    return made


def write_batch(db: Database, cur: Any, batch: pa.Table) -> None:
    """Write a batch of decided movements (`BATCH_SCHEMA`, entry ids ascending): entries,
    postings, balances, rollups, keys and audit rows, set-based. The caller holds the
    wallets' locks and has checked every rule; this only writes."""
    if not batch.num_rows:
        return
    with_keys = batch.column("idempotency_key").null_count < batch.num_rows
    usage = "quantity" in batch.column_names
    names = (USAGE_SCHEMA if usage else BATCH_SCHEMA).names
    with db.batch(cur, batch.select(names)) as source, db.pipelined(cur):
        write_source(cur, source, with_keys=with_keys, with_usage=usage)


def write_source(cur: Any, source: BatchSource, *, with_keys: bool = True, with_usage: bool = False) -> None:
    """The journal's statements over a batch already in the database (`source`: columns of
    `BATCH_SCHEMA`, or `USAGE_SCHEMA` `with_usage`). `write_batch` for a batch in memory; a
    bulk builder with its rows in a table of its own calls this with `NamedRelation`."""
    entries, keys = (_ENTRIES_USAGE, _KEYS_USAGE) if with_usage else (_ENTRIES, _KEYS)
    for statement in (entries, _POSTINGS, _BALANCES, _ROLLUPS, *([keys] if with_keys else []), _AUDIT):
        source.execute(cur, statement)


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
        corrects=row[9],
        quantity=_column(row, 10),
        unit=row[11] if len(row) > 11 else None,
        rate=_column(row, 12),
    )


def _column(row: tuple[Any, ...], index: int) -> Decimal | None:
    """An optional number of a row read with `TRANSACTION_COLUMNS` (absent from shorter rows)."""
    value = row[index] if len(row) > index else None
    return None if value is None else Decimal(value)
