"""Bulk usage ingest on a PostgreSQL ledger: the same decisions as ingest.py, made
in a scratch DuckDB beside the server transaction.

Inside one server transaction: the wallets the batch names are locked (in id
order, as every writer locks them), and what the checks read — those wallets,
the workspaces, the caller's memberships and the stored idempotency keys among
the batch's — is copied into an in-memory DuckDB ledger. ingest.py's set-based
checks, walk and writes run there unchanged, with entry and audit ids taken from
the server's sequences; the rows it wrote are then copied to the server (COPY)
and the wallets' balances set, before the commit. So both stores give exactly
the outcome of calling `consume` once per event in order, and other processes'
debits to the same wallets wait for the batch instead of racing it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from .errors import LedgerBusy
from .ingest import _ingest, _registered
from .models import IngestResult, User
from .store import Database
from .store_duckdb import DuckDatabase


class _ServerIds:
    """The scratch ledger, but with ids and time from the server ledger."""

    def __init__(self, scratch: DuckDatabase, server: Database) -> None:
        self._scratch = scratch
        self._server = server
        self.clock = server.clock

    def allocate_ids(self, table: str, count: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        return self._server.allocate_ids(table, count)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._scratch, name)


def _candidates(events: pa.Table) -> tuple[list[int], list[str], list[str]]:
    """Workspace ids and lower-cased names the batch may name, and its keys (as given
    and stripped): what the checks can look up."""
    ids = {int(v) for v in events.column("ws_int").to_pylist() if v is not None}
    names: set[str] = set()
    for text in set(events.column("ws_text").to_pylist()) - {None}:
        clean = str(text).strip()
        names.add(clean.lower())
        if clean.isascii() and clean.isdigit() and len(clean) <= 18:
            ids.add(int(clean))
    keys: set[str] = set()
    for key in set(events.column("key").to_pylist()) - {None}:
        keys.update({str(key), str(key).strip()})
    return sorted(ids), sorted(names), sorted(k for k in keys if "\x00" not in k)


def _mirror(server: Any, scratch: Any, events: pa.Table, user: User) -> dict[int, Any]:
    """Lock the batch's wallets on the server and copy what the checks read."""
    ids, names, keys = _candidates(events)
    wallets = server.execute(
        """
        SELECT workspace_id, account_id, status, balance, updated_at FROM wallets
        WHERE workspace_id IN (SELECT unnest(?::BIGINT[]))
           OR workspace_id IN (SELECT id FROM workspaces WHERE name_key IN (SELECT unnest(?::VARCHAR[])))
        ORDER BY workspace_id FOR UPDATE
        """,
        [ids, names],
    ).fetchall()
    spaces = server.execute("SELECT id, name, name_key, created_at FROM workspaces").fetchall()
    members = server.execute(
        "SELECT workspace_id, user_id, created_at FROM memberships WHERE user_id = ?", [user.id]
    ).fetchall()
    stored = server.execute(
        "SELECT key, entry_id, workspace_id, amount, feature FROM idempotency_keys "
        "WHERE key IN (SELECT unnest(?::VARCHAR[])) AND workspace_id IN (SELECT unnest(?::BIGINT[]))",
        [keys, [int(r[0]) for r in wallets]],
    ).fetchall()
    for table, rows, width in (
        ("wallets", wallets, 5),
        ("workspaces", spaces, 4),
        ("memberships", members, 3),
        ("idempotency_keys", stored, 5),
    ):
        if rows:
            marks = ", ".join(["?"] * width)
            # table names are the constants above
            scratch.executemany(f"INSERT INTO {table} VALUES ({marks})", [list(r) for r in rows])  # noqa: S608
    return {int(r[0]): r[3] for r in wallets}


def consume_many_on_server(db: Database, user: User, events: pa.Table, tries: int = 3) -> IngestResult:
    """ingest.consume_many for a server ledger; see the module docstring. A batch that met
    another process's write of one of its keys (LedgerBusy: nothing was written) is decided
    again, now seeing that key."""
    for attempt in range(tries):
        try:
            return _consume_once(db, user, events)
        except LedgerBusy:
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _consume_once(db: Database, user: User, events: pa.Table) -> IngestResult:
    scratch = DuckDatabase(":memory:", db.clock)
    try:
        with db.writing() as server, scratch.writing() as cur:
            before = _mirror(server, cur, events, user)
            with _registered(cur, "ingest_events", events):
                result = _ingest(_ServerIds(scratch, db), cur, user, events)  # type: ignore[arg-type]
            if result.posted:
                _copy_back(db, server, cur, before)
            cur.execute("DROP TABLE ingest_checked")
    finally:
        scratch.close()
    return result


def _copy_back(db: Database, server: Any, cur: Any, before: dict[int, Any]) -> None:
    """The rows the scratch ledger wrote, onto the server, and the new balances."""
    for table, sql in (
        ("entries", "SELECT * FROM entries"),
        ("postings", "SELECT * FROM postings"),
        ("daily_rollups", "SELECT * FROM daily_rollups"),
        ("audit_log", "SELECT * FROM audit_log"),
        ("idempotency_keys", "SELECT * FROM idempotency_keys WHERE entry_id IN (SELECT id FROM entries)"),
    ):
        db.insert_arrow(server, table, cur.sql(sql).to_arrow_table())
    moved = cur.execute("SELECT workspace_id, balance, updated_at FROM wallets").fetchall()
    changed = [r for r in moved if int(r[0]) in before and r[1] != before[int(r[0])]]
    if changed:
        server.execute(
            """
            UPDATE wallets SET balance = v.balance, updated_at = v.at
            FROM (SELECT unnest(?::BIGINT[]) AS ws, unnest(?::DECIMAL(18,4)[]) AS balance,
                         unnest(?::TIMESTAMP[]) AS at) v
            WHERE wallets.workspace_id = v.ws
            """,
            [[r[0] for r in changed], [r[1] for r in changed], [r[2] for r in changed]],
        )
