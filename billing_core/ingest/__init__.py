"""Bulk usage ingest: `Ledger.consume_many`, a whole batch of debits in one transaction.

- events.py: the events become one Arrow table (amounts parsed exactly by Arrow, by
  money.py's rules, never through float);
- decide.py: every row is checked and decided set-based in DuckDB, as `consume` would
  decide the events one by one in order of occurred_at (ties in input order): an event
  is posted iff its wallet is active and the amount fits the running balance at that
  point, so a refused event does not stop a later, smaller one;
- the posted rows are written by the journal's one writer (journal.write_batch), the
  same statements every other movement goes through; which grants each debit draws from
  is decided set-based too (pieces.py), in the draw-down order, as `consume` would; the
  batch's wallets' due grants expire first, as for any write, and a wallet the batch
  leaves below its automatic top-up threshold files its request in the same transaction;
- files.py: CSV and Parquet files read in chunks (`billing ingest FILE`).

On a server the decisions run in a scratch DuckDB filled with what they read (the
batch's wallets, locked in the server transaction, and their live grants, the
workspaces, the caller's memberships, the stored keys among the batch's); the writes go
to the server.

Priced usage (`unit` given): each event has a quantity instead of an amount, priced at
the rate card's price in effect at its occurred_at (its feature's own, else "*"; none:
refused), with its (workspace, feature) pair's carried remainder (pricing.py), all
set-based; the pairs' new remainders are written in the same transaction. A workspace
is named by id, name or external id (an external id first).

Idempotency keys belong to a workspace: a key already in that workspace's ledger,
or posted earlier in the batch for it, with the same charge (amount, feature) is a
skipped duplicate; for a different charge it is a rejection. An event dated more
than 5 minutes ahead of the ledger's clock, or before its workspace existed, is
refused. Entries take their ids in occurred_at order and `created_at` = occurred_at.
A call holds the batch's wallets throughout and keeps the batch in memory: give it up
to a million or so events at a time (the CLI reads files in chunks of 200,000).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .. import remainders
from ..access import Access
from ..audit import AuditAction
from ..errors import LedgerBusy
from ..journal import BATCH_SCHEMA, USAGE_SCHEMA, WalletState, lock_wallets, write_batch
from ..models import EntryKind, IngestResult, User
from ..money import QUANTUM
from ..notify.alerts import BalanceChange, after_movements
from ..pricing import Unit, parse_unit, priced_by
from ..schema import PLATFORM_ACCOUNTS, USAGE_ACCOUNT
from ..store import Database
from ..top_up import after_debits
from .decide import decide, registered
from .events import KEY_COLUMN, PRICED_COLUMNS, REQUIRED_COLUMNS, normalize
from .files import EventFile, open_event_file, read_chunks
from .pieces import LIVE_GRANTS, pieces

__all__ = [
    "KEY_COLUMN",
    "PRICED_COLUMNS",
    "REQUIRED_COLUMNS",
    "EventFile",
    "consume_many",
    "normalize",
    "open_event_file",
    "read_chunks",
]

_EPOCH = datetime(1970, 1, 1)
_TRIES = 3  # decisions of a batch that met another process's write of one of its keys


def consume_many(
    db: Database, access: Access, actor: User, events: object, *, unit: object = None
) -> IngestResult:
    """Debit a batch of usage events in one transaction; see the module docstring. A batch
    that met another process's write of one of its keys (LedgerBusy: nothing was written)
    is decided again, now seeing that key."""
    user = access.actor(actor)  # PermissionDenied for the whole call
    kind = None if unit is None else parse_unit(unit).value
    table = normalize(events, priced=kind is not None)
    for attempt in range(_TRIES):
        try:
            return _consume_once(db, user, table, kind)
        except LedgerBusy:
            if attempt == _TRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _consume_once(db: Database, user: User, events: pa.Table, unit: str | None) -> IngestResult:
    with db.writing() as cur:
        wallets = _lock_wallets(db, cur, events)  # their due grants already expired
        mirror = partial(_mirror, events=events, user=user, wallets=wallets, unit=unit)
        with db.decisions(cur, mirror) as duck:
            with registered(duck, "ingest_events", events):
                decision = decide(duck, user, events, db.clock(), unit)
            # a scratch table of this transaction: dropped here, or by the rollback on an error
            duck.execute("DROP TABLE ingest_checked")
            posted = decision.posted
            drawn = pieces(duck, posted)
        if posted.num_rows:
            write_batch(db, cur, _batch(db, user, posted, drawn, unit))
            remainders.store(cur, decision.remainders, db.clock())
            after_movements(db, cur, _changes(wallets, posted), db.clock())
            low = _below_top_up(wallets, posted)
            if low:  # the wallets as they are now, grants and all
                after_debits(db, cur, lock_wallets(db, cur, low).values())
    return _result(events, posted, decision.report)


def _changes(wallets: dict[int, WalletState], posted: pa.Table) -> list[BalanceChange]:
    """Each debited wallet's balance before and after the batch (for the balance alerts)."""
    spent = posted.group_by("workspace_id").aggregate([("amount", "sum")]).to_pylist()
    return [
        BalanceChange(w["workspace_id"], wallet.balance, wallet.balance - w["amount_sum"], wallet.levels)
        for w in spent
        for wallet in [wallets[w["workspace_id"]]]
    ]


def _below_top_up(held: dict[int, WalletState], posted: pa.Table) -> list[int]:
    """The debited wallets the batch left below their automatic top-up threshold."""
    if all(wallet.top_up_below is None for wallet in held.values()):
        return []  # the common case: no wallet tops itself up, nothing to read
    last = dict(zip(posted.column("workspace_id").to_pylist(), posted.column("balance_after").to_pylist(),
                    strict=True))
    return sorted(
        w for w, balance in last.items()
        if held[w].top_up_below is not None and balance < held[w].top_up_below
    )


def _batch(db: Database, user: User, posted: pa.Table, drawn: pa.Table, unit: str | None) -> pa.Table:
    """The posted rows as the journal's batch: ids from the ledger, one debit each (with
    the quantity, unit and rate of priced usage), a row per grant it draws from (`drawn`:
    seq, piece, grant_id, drawn; a debit priced at 0 has one row naming no grant)."""
    now = db.clock()
    entries = pa.array(db.allocate_ids("entries", posted.num_rows))
    audits = pa.array(db.allocate_ids("audit_log", posted.num_rows))
    posted = posted.append_column("id", entries).append_column("audit_id", audits).take(drawn.column("seq"))
    n = posted.num_rows
    extra = {
        "piece": drawn.column("piece"),
        "grant_id": drawn.column("grant_id"),
        "piece_amount": pc.negate(drawn.column("drawn")),
        "grant_kind": pa.nulls(n, pa.string()),
        "grant_priority": pa.nulls(n, pa.int64()),
        "grant_expires_at": pa.nulls(n, pa.timestamp("us")),
        "grant_source": pa.nulls(n, pa.string()),
        "platform_id": pa.repeat(pa.scalar(PLATFORM_ACCOUNTS[USAGE_ACCOUNT], pa.int64()), n),
        "kind": pa.repeat(pa.scalar(EntryKind.DEBIT.value), n),
        "signed": pc.negate(posted.column("amount")),
        "recorded_at": pa.repeat(pa.scalar(now, pa.timestamp("us")), n),
        "actor_id": pa.repeat(pa.scalar(user.id, pa.int64()), n),
        "request_id": pa.nulls(n, pa.int64()),
        "corrects": pa.nulls(n, pa.int64()),
        "action": pa.repeat(pa.scalar(AuditAction.CONSUME.value), n),
    }
    columns = {name: posted.column(name) for name in posted.column_names} | extra
    if unit is None:
        return pa.table({name: columns[name] for name in BATCH_SCHEMA.names}).cast(BATCH_SCHEMA)
    columns["unit"] = posted.column("unit")  # the unit of the price it was priced by (unit or its twin)
    return pa.table({name: columns[name] for name in USAGE_SCHEMA.names}).cast(USAGE_SCHEMA)


def _lock_wallets(db: Database, cur: Any, events: pa.Table) -> dict[int, WalletState]:
    """The wallets the batch may name (by id, name or external id), held until the commit."""
    ids, names, texts = _candidates(events)
    if names:
        found = cur.execute(
            "SELECT id FROM workspaces WHERE name_key IN (SELECT unnest(?::VARCHAR[])) "
            "OR external_id IN (SELECT unnest(?::VARCHAR[]))",
            [names, texts],
        ).fetchall()
        ids = sorted(set(ids) | {int(r[0]) for r in found})
    return lock_wallets(db, cur, ids)


def _candidates(events: pa.Table) -> tuple[list[int], list[str], list[str]]:
    """Workspace ids, lower-cased names and stripped texts (external ids) the batch may
    name (each distinct text once)."""
    ids = {int(v) for v in pc.unique(events.column("ws_int")).to_pylist() if v is not None}
    names: set[str] = set()
    texts: set[str] = set()
    for text in pc.unique(events.column("ws_text")).to_pylist():
        if text is None:
            continue
        clean = str(text).strip()
        names.add(clean.lower())
        texts.add(clean)
        if clean.isascii() and clean.isdigit() and len(clean) <= 18:
            ids.add(int(clean))
    return sorted(ids), sorted(names), sorted(texts)


def _keys(events: pa.Table) -> list[str]:
    """The batch's idempotency keys, as given and stripped: what the checks may look up."""
    keys: set[str] = set()
    for key in pc.unique(events.column("key")).to_pylist():
        if key is not None:
            keys.update({str(key), str(key).strip()})
    return sorted(k for k in keys if "\x00" not in k)


def _mirror(
    server: Any,
    scratch: Any,
    *,
    events: pa.Table,
    user: User,
    wallets: dict[int, WalletState],
    unit: str | None,
) -> None:
    """On a server: copy what the decisions read (the locked wallets, the workspaces, the
    caller's memberships, the stored keys among the batch's; for priced usage the unit's
    prices and the wallets' carried remainders) into the scratch DuckDB."""
    keys = _keys(events)
    spaces = server.execute("SELECT id, name, name_key, created_at, external_id FROM workspaces").fetchall()
    members = server.execute(
        "SELECT workspace_id, user_id, created_at FROM memberships WHERE user_id = ?", [user.id]
    ).fetchall()
    stored = server.execute(
        "SELECT key, entry_id, workspace_id, amount, feature, quantity, unit FROM idempotency_keys "
        "WHERE key IN (SELECT unnest(?::VARCHAR[])) AND workspace_id IN (SELECT unnest(?::BIGINT[]))",
        [keys, sorted(wallets)],
    ).fetchall()
    # the scratch wallets' updated_at is never read by the decisions
    held = [(w.workspace_id, w.account_id, w.status.value, w.balance, _EPOCH) for w in wallets.values()]
    grants = server.execute(LIVE_GRANTS, [sorted(wallets)]).fetchall()
    prices: list[Any] = []
    carried: list[Any] = []
    if unit is not None:
        prices = server.execute(
            "SELECT id, feature, unit, credits_per_unit, effective_from, created_by, created_at "
            "FROM prices WHERE unit IN (SELECT unnest(?::VARCHAR[]))",
            [[u.value for u in priced_by(Unit(unit))]],
        ).fetchall()
        carried = server.execute(
            "SELECT workspace_id, feature, remainder, updated_at FROM usage_remainders "
            "WHERE workspace_id IN (SELECT unnest(?::BIGINT[]))",
            [sorted(wallets)],
        ).fetchall()
    for table, rows, columns in (
        ("wallets", held, "workspace_id, account_id, status, balance, updated_at"),
        ("workspaces", spaces, "id, name, name_key, created_at, external_id"),
        ("memberships", members, "workspace_id, user_id, created_at"),
        ("idempotency_keys", stored, "key, entry_id, workspace_id, amount, feature, quantity, unit"),
        ("grants", grants, "id, workspace_id, kind, priority, amount, remaining, expires_at, source, "
                           "entry_id, created_by, created_at, expired_entry_id"),
        ("prices", prices, "id, feature, unit, credits_per_unit, effective_from, created_by, created_at"),
        ("usage_remainders", carried, "workspace_id, feature, remainder, updated_at"),
    ):
        if rows:
            marks = ", ".join(["?"] * (columns.count(",") + 1))
            # table and column names are the constants above
            scratch.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", [list(r) for r in rows])



def _result(events: pa.Table, posted: pa.Table, report: pa.Table) -> IngestResult:
    """The counts, and the refused and skipped rows with the workspace and amount as given."""
    rows = report.column("row")
    given = events.take(rows)
    shown = pc.coalesce(given.column("amount_text"), pc.cast(given.column("amount"), pa.string()))
    workspace = pc.coalesce(given.column("ws_text"), pc.cast(given.column("ws_int"), pa.string()))
    frame = pa.table(
        {
            "row": rows,
            "workspace": workspace,
            "amount": shown,
            "reason": report.column("reason"),
            "idempotency_key": report.column("idempotency_key"),
            "outcome": report.column("outcome"),
        }
    ).to_pandas()
    refused = frame["outcome"] == "rejected"
    rejected = frame.loc[refused, ["row", "workspace", "amount", "reason"]].reset_index(drop=True)
    skipped = frame.loc[~refused, ["row", "idempotency_key"]].reset_index(drop=True)
    total = pc.sum(posted.column("amount")).as_py() if posted.num_rows else None
    return IngestResult(
        received=events.num_rows,
        posted=posted.num_rows,
        skipped_duplicates=len(skipped),
        rejected_count=len(rejected),
        total_posted=(total or Decimal(0)).quantize(QUANTUM),
        rejected=rejected,
        skipped=skipped,
    )


