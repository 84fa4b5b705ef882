"""The journal: the one writer of movements.

A movement is one entry whose postings sum to zero: the workspace wallet against a
platform account (top-ups for credits, usage for debits, expired for expiries). Each
wallet posting names the grant it moves: a credit makes a grant, an expiry empties one,
and a debit draws from the wallet's grants in the draw-down order (drawdown.py), one
wallet posting per grant it draws from. With it, in the same transaction, the wallet's
running balance, its grants' remainders, the daily rollup, the idempotency key (if any)
and one audit row move by the same amount. Everything that moves money calls `append`
(consume's group commit, approvals, grants, expiries) or builds the same batch table
set-based and calls `write_batch` (bulk ingest, the demo): one set of statements writes
every row, so identical movements give identical rows whoever made them. A correction
moves grants too (admin_credits.py): taking back a credit draws from the grant it made
first (`Movement.draw_first`), reversing a debit gives its draws back (`Movement.returns`:
to a live grant, or as a new grant without expiry for an expired one's share). A usage
debit priced at 0 draws nothing: its one wallet posting names no grant. Nothing here
ever updates or deletes an entry. After a batch, the balance alerts its movements crossed
fire in the same transaction (notify.alerts).

A batch is an Arrow table of `BATCH_SCHEMA`, one row per movement and grant piece
(`piece` 1..k; the entry-level statements read piece 1) in entry id order (ascending:
rows are stored in that order, which history pages and zone maps rely on), with the
balances before and after it already decided by the caller (who holds the wallets'
locks, taken by `lock_wallets`, which first expires the wallets' due grants).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from . import drawdown
from .audit import AuditAction
from .drawdown import LiveGrant
from .errors import InsufficientCredits, InvalidAmount, NotFound, WalletInactive
from .models import EntryKind, GrantKind, Transaction, WalletStatus
from .money import MAX_BALANCE, format_credits, to_decimal
from .notify.alerts import BalanceChange, Level, after_movements, levels_from_json
from .schema import (
    EXPIRED_ACCOUNT,
    PLATFORM_ACCOUNTS,
    SYSTEM_USER_ID,
    TOPUPS_ACCOUNT,
    USAGE_ACCOUNT,
)
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
        ("platform_id", pa.int64()),  # the other side: top-ups, usage or expired
        ("kind", pa.string()),
        ("amount", MONEY),  # > 0
        ("signed", MONEY),  # the wallet's side: +amount for a credit, -amount otherwise
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
        ("piece", pa.int64()),  # 1..k: one row per grant the movement moves
        ("grant_id", pa.int64()),  # that grant (a credit's: the one it makes)
        ("piece_amount", MONEY),  # the wallet's side of this piece (the pieces sum to `signed`)
        ("grant_kind", pa.string()),  # a credit's new grant: kind, priority, expiry, source
        ("grant_priority", pa.int64()),
        ("grant_expires_at", pa.timestamp("us")),
        ("grant_source", pa.string()),
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
    FROM {{batch}} b WHERE piece = 1
"""
_ENTRIES_USAGE = f"""
    INSERT INTO entries ({ENTRY_COLUMNS}, quantity, unit, rate)
    SELECT id, workspace_id, kind, amount, description, feature, created_at, actor_id, request_id,
           corrects, quantity, unit, rate
    FROM {{batch}} b WHERE piece = 1
"""
_POSTINGS = """
    INSERT INTO postings (entry_id, account_id, amount, grant_id)
    SELECT id, account_id, piece_amount, grant_id FROM {batch} b
    UNION ALL
    SELECT id, platform_id, -signed, NULL FROM {batch} b WHERE piece = 1
"""
_BALANCES = """
    UPDATE wallets SET balance = wallets.balance + d.delta, updated_at = d.last_at
    FROM (SELECT workspace_id, sum(signed) AS delta, max(recorded_at) AS last_at
          FROM {batch} b WHERE piece = 1 GROUP BY workspace_id) d
    WHERE wallets.workspace_id = d.workspace_id
"""
# A credit's grant (a piece with `grant_kind`), made whole; then every other piece moves its
# grant's remainder: draws, expiries, and a correction's credits given back to the grants
# the debit it reverses drew from (a grant made in this batch and drawn from in it too
# ends right).
_GRANTS_MADE = """
    INSERT INTO grants (id, workspace_id, kind, priority, amount, remaining, expires_at, source,
                        entry_id, created_by, created_at, expired_entry_id)
    SELECT grant_id, workspace_id, grant_kind, grant_priority, piece_amount, piece_amount,
           grant_expires_at, grant_source, id, actor_id, created_at, NULL
    FROM {batch} b WHERE grant_kind IS NOT NULL
"""
_GRANTS_DRAWN = """
    UPDATE grants SET remaining = grants.remaining + d.delta,
                      expired_entry_id = coalesce(d.expired_by, grants.expired_entry_id)
    FROM (SELECT grant_id, sum(piece_amount) AS delta,
                 max(CASE WHEN kind = 'expiry' THEN id END) AS expired_by
          FROM {batch} b WHERE grant_kind IS NULL AND grant_id IS NOT NULL GROUP BY grant_id) d
    WHERE grants.id = d.grant_id
"""
# Rollup deltas at two grains in one statement: per workspace, feature and day (feature ''
# for credits and expiries, which have none), and per workspace and day (feature NULL:
# the totals). Expiries are not spend: they have columns of their own.
_ROLLUPS = """
    INSERT INTO daily_rollups (workspace_id, feature, day, debits, credits, debit_count, credit_count,
                               expired, expiry_count)
    SELECT workspace_id, feature_key, day,
           sum(CASE WHEN kind = 'debit' THEN amount ELSE 0 END),
           sum(CASE WHEN kind = 'credit' THEN amount ELSE 0 END),
           sum(CASE WHEN kind = 'debit' THEN 1 ELSE 0 END),
           sum(CASE WHEN kind = 'credit' THEN 1 ELSE 0 END),
           sum(CASE WHEN kind = 'expiry' THEN amount ELSE 0 END),
           sum(CASE WHEN kind = 'expiry' THEN 1 ELSE 0 END)
    FROM (SELECT workspace_id, coalesce(feature, '') AS feature_key, CAST(created_at AS DATE) AS day,
                 kind, amount FROM {batch} b WHERE piece = 1) t
    GROUP BY GROUPING SETS ((workspace_id, feature_key, day), (workspace_id, day))
"""
_KEYS = """
    INSERT INTO idempotency_keys (key, entry_id, workspace_id, amount, feature)
    SELECT idempotency_key, id, workspace_id, amount, feature FROM {batch} b
    WHERE idempotency_key IS NOT NULL AND piece = 1
"""
_KEYS_USAGE = """
    INSERT INTO idempotency_keys (key, entry_id, workspace_id, amount, feature, quantity, unit)
    SELECT idempotency_key, id, workspace_id, amount, feature, quantity, unit FROM {batch} b
    WHERE idempotency_key IS NOT NULL AND piece = 1
"""
_AUDIT = """
    INSERT INTO audit_log (id, recorded_at, actor_id, action, subject, workspace_id, before, after)
    SELECT audit_id, recorded_at, actor_id, action, 'entry:' || CAST(id AS VARCHAR), workspace_id,
           '{"balance": "' || CAST(balance_before AS VARCHAR) || '"}',
           '{"balance": "' || CAST(balance_after AS VARCHAR) || '", "amount": "'
               || CAST(amount AS VARCHAR) || '"}'
    FROM {batch} b WHERE piece = 1
"""

# The wallets of a write, their live grants in draw-down order, their automatic top-up
# threshold and low-balance levels: locked by the first statement, read by the second
# (store.select_after_lock).
_LOCK = """
    SELECT workspace_id FROM wallets WHERE workspace_id IN (SELECT unnest(?::BIGINT[]))
    ORDER BY workspace_id
"""
_LOCKED = """
    SELECT w.workspace_id, w.account_id, w.status, w.balance, p.top_up_below,
           g.id, g.kind, g.priority, g.remaining, g.expires_at, t.levels
    FROM wallets w
    LEFT JOIN grants g ON g.workspace_id = w.workspace_id AND g.remaining > 0
    LEFT JOIN credit_policies p ON p.workspace_id = w.workspace_id
    LEFT JOIN balance_thresholds t ON t.workspace_id = w.workspace_id
    WHERE w.workspace_id IN (SELECT unnest(?::BIGINT[]))
    ORDER BY w.workspace_id, g.priority, g.expires_at NULLS LAST, g.id
"""


@dataclass(frozen=True, slots=True)
class WalletState:
    """A wallet as a write holds it: its balance, its live grants in draw-down order (their
    remainders sum to the balance) and its automatic top-up threshold, if it has one."""

    workspace_id: int
    account_id: int
    status: WalletStatus
    balance: Decimal
    grants: tuple[LiveGrant, ...] = ()
    top_up_below: Decimal | None = None
    levels: tuple[Level, ...] = ()  # its low-balance alert levels (notify.alerts)


@dataclass(frozen=True, slots=True)
class NewGrant:
    """The grant a credit makes."""

    kind: GrantKind = GrantKind.PURCHASED
    priority: int | None = None  # None: the kind's default
    expires_at: datetime | None = None
    source: str = "grant"


@dataclass(frozen=True, slots=True)
class Return:
    """Where part of a correction's credit goes when it reverses a debit: the debit's draw
    from a grant, given back to that grant (`grant_id`) while it is live, or (`grant_id`
    None: the grant has expired, or the debit is older than grants) as a new grant of the
    same kind and priority that never expires. `expires_at`: the live grant's expiry."""

    amount: Decimal
    kind: GrantKind
    priority: int
    grant_id: int | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Movement:
    """One movement to append; `at` defaults to the batch's time (ingest passes the event's,
    an expiry its grant's expiry). A credit makes `grant`; an expiry empties `expires`.
    A correction (`corrects` set) reverses that entry: it may take credits back from an
    inactive wallet (an administrator's fix, not a feature's use), never below zero. Taking
    back a credit draws from `draw_first` (the grant that credit made) before the order;
    reversing a debit gives its credits back as `returns` instead of making one grant."""

    workspace_id: int
    kind: EntryKind
    amount: Decimal
    description: str
    feature: str | None
    actor_id: int
    action: AuditAction
    request_id: int | None = None
    key: str | None = None
    grant: NewGrant = NewGrant()
    expires: int | None = None
    at: datetime | None = None
    corrects: int | None = None
    draw_first: int | None = None
    returns: tuple[Return, ...] = ()
    quantity: Decimal | None = None  # priced usage: the quantity, unit and rate behind the amount
    unit: str | None = None
    rate: Decimal | None = None


def lock_wallets(
    db: Database, cur: Any, workspace_ids: Sequence[int], *, now: datetime | None = None
) -> dict[int, WalletState]:
    """The wallets, read inside the write transaction and held until it ends (locked in id
    order where the store locks rows, so two writers never wait on each other), with their
    due grants already expired (see `lock_and_expire`)."""
    return lock_and_expire(db, cur, workspace_ids, now=now)[0]


def lock_and_expire(
    db: Database, cur: Any, workspace_ids: Sequence[int], *, now: datetime | None = None
) -> tuple[dict[int, WalletState], list[Transaction]]:
    """Lock the wallets and bring them up to date: every grant whose expiry has come
    (at or before `now`, default the ledger's clock) leaves as an expiry entry, in time
    order, dated at its expiry and recorded now, before anything else is decided. So a
    debit never draws from an expired grant, however late the expiry job is, and a grant
    expires once: whoever locks its wallet first expires it, and the next one sees it gone.
    Returns the wallets as they are after, and the expiries written."""
    ids = sorted(set(workspace_ids))
    rows = db.select_after_lock(cur, _LOCK, _LOCKED, [ids])
    wallets: dict[int, WalletState] = {}
    for r in rows:
        workspace_id = int(r[0])
        wallet = wallets.get(workspace_id) or WalletState(
            workspace_id, int(r[1]), WalletStatus(r[2]), to_decimal(r[3]),
            top_up_below=None if r[4] is None else to_decimal(r[4]), levels=levels_from_json(r[10]),
        )
        if r[5] is not None:  # rows come in draw-down order
            grant = LiveGrant(int(r[5]), GrantKind(r[6]), int(r[7]), to_decimal(r[8]), r[9])
            wallet = replace(wallet, grants=(*wallet.grants, grant))
        wallets[workspace_id] = wallet
    at = now if now is not None else db.clock()
    due = sorted(
        ((g, w.workspace_id) for w in wallets.values() for g in drawdown.due(w.grants, at)),
        key=lambda d: (d[0].expires_at, d[0].id),
    )
    if not due:
        return wallets, []
    expiries = [expiry(workspace_id, grant) for grant, workspace_id in due]
    made, after = _write(db, cur, wallets, expiries, at=db.clock())
    return after, made


def expiry(workspace_id: int, grant: LiveGrant) -> Movement:
    """The movement that takes what is left of `grant` out of its wallet at its expiry."""
    return Movement(
        workspace_id=workspace_id,
        kind=EntryKind.EXPIRY,
        amount=grant.remaining,
        description=f"Unused credits expired: grant #{grant.id} ({grant.kind.value})",
        feature=None,
        actor_id=SYSTEM_USER_ID,
        action=AuditAction.EXPIRE,
        expires=grant.id,
        at=grant.expires_at,
    )


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


def apply(wallet: WalletState, movement: Movement, *, grant_id: int | None = None) -> WalletState:
    """The wallet after `movement`, which must pass its check (raises the refusal if not).
    A credit needs the id of the grant it makes."""
    return step(wallet, movement, lambda: _given(grant_id))[0]


def _given(grant_id: int | None) -> int:
    if grant_id is None:
        raise ValueError("a credit makes a grant: give its id")
    return grant_id


# A movement's wallet-side piece: (grant id, signed amount, the grant it makes or None); a
# debit of 0 (usage priced at 0) has one piece naming no grant
Part = tuple["int | None", Decimal, "NewGrant | None"]


def step(
    wallet: WalletState,
    movement: Movement,
    new_grant_id: Callable[[], int],
    entry_id: int = 0,
) -> tuple[WalletState, list[Part]]:
    """The wallet after `movement`, and the movement's wallet-side pieces (grant id, signed
    amount, the new grant if the piece makes one) in draw-down order; raises the refusal if
    the movement does not fit. `new_grant_id` hands out the ids of the grants it makes
    (`grants_made` of them); `entry_id` is the movement's own."""
    amount = movement.amount
    if movement.kind is EntryKind.DEBIT:
        check_debit(wallet if movement.corrects is None else replace(wallet, status=WalletStatus.ACTIVE),
                    amount)
        grants, drawn = drawdown.draw(wallet.grants, amount, first=movement.draw_first)
        # usage priced at 0 draws nothing: one piece that names no grant
        pieces: list[Part] = [(g, -a, None) for g, a in drawn] or [(None, -amount, None)]
        return replace(wallet, balance=wallet.balance - amount, grants=grants), pieces
    if movement.kind is EntryKind.CREDIT:
        check_credit(wallet, amount)
        if movement.returns:
            return _give_back(wallet, movement, new_grant_id, entry_id)
        new = movement.grant
        priority = new.kind.default_priority if new.priority is None else new.priority
        made_id = new_grant_id()
        made = LiveGrant(made_id, new.kind, priority, amount, new.expires_at)
        grants = drawdown.add(wallet.grants, made)
        return (replace(wallet, balance=wallet.balance + amount, grants=grants),
                [(made_id, amount, replace(new, priority=priority))])
    gone = next((g for g in wallet.grants if g.id == movement.expires), None)
    if gone is None or gone.remaining != amount:
        raise AssertionError(f"grant {movement.expires} does not hold {amount} to expire")
    grants = tuple(g for g in wallet.grants if g.id != gone.id)
    return replace(wallet, balance=wallet.balance - amount, grants=grants), [(gone.id, -amount, None)]


def _give_back(
    wallet: WalletState, movement: Movement, new_grant_id: Callable[[], int], entry_id: int
) -> tuple[WalletState, list[Part]]:
    """A correction's credit (reversing a debit): each draw goes back to its grant while
    that grant is live; the share of one that has expired becomes a new grant of the same
    kind and priority, without expiry, made by the correction (`correction:<entry id>`)."""
    if sum((r.amount for r in movement.returns), Decimal(0)) != movement.amount:
        raise AssertionError(f"a correction's returns do not sum to its {movement.amount}")
    grants = {g.id: g for g in wallet.grants}
    parts: list[Part] = []
    for back in movement.returns:
        if back.grant_id is not None:
            held = grants.get(back.grant_id)
            grants[back.grant_id] = (
                LiveGrant(back.grant_id, back.kind, back.priority, back.amount, back.expires_at)
                if held is None else replace(held, remaining=held.remaining + back.amount)
            )
            parts.append((back.grant_id, back.amount, None))
        else:
            made_id = new_grant_id()
            grants[made_id] = LiveGrant(made_id, back.kind, back.priority, back.amount, None)
            made = NewGrant(back.kind, back.priority, None, f"correction:{entry_id}")
            parts.append((made_id, back.amount, made))
    held_after = drawdown.in_order(grants.values())
    return replace(wallet, balance=wallet.balance + movement.amount, grants=held_after), parts


def grants_made(movement: Movement) -> int:
    """How many new grants `movement` makes (its grant ids are allocated before it is written)."""
    if movement.kind is not EntryKind.CREDIT:
        return 0
    if movement.returns:
        return sum(1 for r in movement.returns if r.grant_id is None)
    return 1


_PLATFORM = {
    EntryKind.CREDIT: PLATFORM_ACCOUNTS[TOPUPS_ACCOUNT],
    EntryKind.DEBIT: PLATFORM_ACCOUNTS[USAGE_ACCOUNT],
    EntryKind.EXPIRY: PLATFORM_ACCOUNTS[EXPIRED_ACCOUNT],
}


def append(
    db: Database,
    cur: Any,
    wallets: Mapping[int, WalletState],
    movements: Sequence[Movement],
    *,
    at: datetime,
) -> list[Transaction]:
    """Write `movements` in order against `wallets` (locked by the caller in this
    transaction with `lock_wallets`); each must fit its wallet's running balance.
    Returns their transactions."""
    return _write(db, cur, wallets, movements, at=at)[0]


def _write(
    db: Database,
    cur: Any,
    wallets: Mapping[int, WalletState],
    movements: Sequence[Movement],
    *,
    at: datetime,
) -> tuple[list[Transaction], dict[int, WalletState]]:
    """`append`, also returning the wallets as they are after the movements."""
    running = dict(wallets)
    if not movements:
        return [], running
    entry_ids = db.allocate_ids("entries", len(movements))
    audit_ids = db.allocate_ids("audit_log", len(movements))
    made_grants = sum(grants_made(m) for m in movements)
    grant_ids = iter(db.allocate_ids("grants", made_grants).tolist() if made_grants else [])
    usage = any(m.quantity is not None for m in movements)
    schema = USAGE_SCHEMA if usage else BATCH_SCHEMA
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    made: list[Transaction] = []
    for movement, entry_id, audit_id in zip(movements, entry_ids, audit_ids, strict=True):
        before = running.get(movement.workspace_id)
        if before is None:
            raise NotFound(f"There is no wallet for workspace {movement.workspace_id}.")
        credit = movement.kind is EntryKind.CREDIT
        after, pieces = step(before, movement, lambda: next(grant_ids), int(entry_id))
        running[movement.workspace_id] = after
        when = movement.at or at
        shared = {
            "id": int(entry_id),
            "audit_id": int(audit_id),
            "workspace_id": movement.workspace_id,
            "account_id": before.account_id,
            "platform_id": _PLATFORM[movement.kind],
            "kind": movement.kind.value,
            "amount": movement.amount,
            "signed": movement.amount if credit else -movement.amount,
            "description": movement.description,
            "feature": movement.feature,
            "created_at": when,
            "recorded_at": at,
            "actor_id": movement.actor_id,
            "request_id": movement.request_id,
            "corrects": movement.corrects,
            "idempotency_key": movement.key,
            "action": movement.action.value,
            "balance_before": before.balance,
            "balance_after": after.balance,
        }
        for number, (grant_id, piece, made_grant) in enumerate(pieces, start=1):
            row = shared | {
                "piece": number,
                "grant_id": grant_id,
                "piece_amount": piece,
                "grant_kind": None if made_grant is None else made_grant.kind.value,
                "grant_priority": None if made_grant is None else made_grant.priority,
                "grant_expires_at": None if made_grant is None else made_grant.expires_at,
                "grant_source": None if made_grant is None else made_grant.source,
            }
            if usage:
                row |= {"quantity": movement.quantity, "unit": movement.unit, "rate": movement.rate}
            for name, value in row.items():
                columns[name].append(value)
        made.append(
            Transaction(
                id=int(entry_id),
                workspace_id=movement.workspace_id,
                kind=movement.kind,
                amount=movement.amount,
                description=movement.description,
                feature=movement.feature,
                created_at=as_utc(when),
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
    return made, running


def write_batch(db: Database, cur: Any, batch: pa.Table) -> None:
    """Write a batch of decided movements (`BATCH_SCHEMA`, entry ids ascending, a row per
    grant piece): entries, postings, balances, grants, rollups, keys and audit rows,
    set-based. The caller holds the wallets' locks and has checked every rule; this only
    writes."""
    if not batch.num_rows:
        return
    with_keys = batch.column("idempotency_key").null_count < batch.num_rows
    made = batch.num_rows - batch.column("grant_kind").null_count  # pieces that make a grant
    moved = batch.num_rows - made - batch.column("grant_id").null_count  # pieces that move one
    usage = "quantity" in batch.column_names
    names = (USAGE_SCHEMA if usage else BATCH_SCHEMA).names
    with db.batch(cur, batch.select(names)) as source, db.pipelined(cur):
        write_source(cur, source, with_keys=with_keys, with_credits=made > 0, with_draws=moved > 0,
                     with_usage=usage)


def write_source(
    cur: Any,
    source: BatchSource,
    *,
    with_keys: bool = True,
    with_credits: bool = True,
    with_draws: bool = True,
    with_usage: bool = False,
) -> None:
    """The journal's statements over a batch already in the database (`source`: columns of
    `BATCH_SCHEMA`, or `USAGE_SCHEMA` `with_usage`). `write_batch` for a batch in memory; a
    bulk builder with its rows in a table of its own calls this with `NamedRelation`. The
    other `with_` flags leave out the statements that would find no rows: keys, new grants
    (credits), draws (debits, expiries and a correction's credits given back)."""
    entries, keys = (_ENTRIES_USAGE, _KEYS_USAGE) if with_usage else (_ENTRIES, _KEYS)
    statements = (
        entries,
        _POSTINGS,
        _BALANCES,
        *([_GRANTS_MADE] if with_credits else []),
        *([_GRANTS_DRAWN] if with_draws else []),
        _ROLLUPS,
        *([keys] if with_keys else []),
        _AUDIT,
    )
    for statement in statements:
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
