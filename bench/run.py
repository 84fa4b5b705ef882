"""`make bench` / `make bench-small`: build a large ledger, measure it on each store, print one table.

The ledger is built in DuckDB (bench/build.py), then copied into PostgreSQL with
`billing_core.migrate.copy_ledger` (what `billing migrate` does): into a throwaway
server on loopback started here (tests/pg_server.py; fsync off, a test server's
setting), or into the empty database of `--pg-url`. The same measurements then run
on each store, and the table shows them side by side: a DuckDB and a PostgreSQL column.

Figures with a naive counterpart are measured side by side in the same run and
shown as a ratio, so the table holds on a noisy machine; so is the cost of the
embedded ledger's high-water mark (debits with and without it, alternating, beside the
raw floor it builds on: a small write and fdatasync on this disk). Reads are also measured
on a 10,000-entry ledger of the same shape, and the large/small ratio shown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402

import billing_core  # noqa: E402
from bench.build import build  # noqa: E402
from billing_core import EntryKind  # noqa: E402
from billing_core.audit import AuditAction  # noqa: E402
from billing_core.journal import (  # noqa: E402
    BATCH_SCHEMA,
    MONEY,
    Movement,
    append,
    lock_wallet,
    lock_wallets,
    write_batch,
)
from billing_core.migrate import copy_ledger  # noqa: E402
from billing_core.schema import PLATFORM_ACCOUNTS, USAGE_ACCOUNT  # noqa: E402
from billing_core.store import Database  # noqa: E402

BUSY = 1  # the busy workspace of bench.build
STORES = ("duckdb", "postgresql")
THREADS = 16
Figure = tuple[float, float]  # median, p95 in ms

# The raw-scan side of the daily spend figure: the rollup query's result, from the entries.
# Written in the SQL both stores accept (explicit GROUP BY, ::DATE) and read through
# `db.frame`, as the rollup query is.
RAW_SPEND = """
SELECT e.created_at::DATE AS period, e.workspace_id, w.name AS workspace, sum(e.amount) AS spent
FROM entries e JOIN workspaces w ON w.id = e.workspace_id
WHERE e.kind = 'debit' AND e.created_at >= ? AND e.created_at < ?
GROUP BY 1, 2, 3 ORDER BY period, workspace
"""


def timed(fn: Callable[[], object], repeat: int) -> Figure:
    samples = []
    fn()
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


@contextmanager
def opened(where: str, *, high_water: bool = True, create: bool = False) -> Iterator[billing_core.Ledger]:
    """The ledger at `where` (`create`: an empty database becomes one); `high_water=False`
    opens a DuckDB file without its high-water mark (for the side-by-side cost of the mark)."""
    if high_water or where.startswith(("postgresql://", "postgres://")):
        ledger = billing_core.open_ledger(where, create=create)
    else:
        from billing_core.clock import clock_from_env
        from billing_core.store_duckdb import DuckDatabase

        ledger = billing_core.Ledger(DuckDatabase(where, clock_from_env(), high_water=False))
    try:
        yield ledger
    finally:
        ledger.close()


def reads(where: str, repeat: int) -> dict[str, Figure]:
    """The read figures of one ledger (a DuckDB file or a postgresql:// URL)."""
    with opened(where) as ledger:
        admin = ledger.user_by_email("user1@bench.example")
        assert admin is not None
        with ledger.db.reading() as cur:
            in_busy = cur.execute("SELECT count(*) FROM entries WHERE workspace_id = ?", [BUSY]).fetchone()[0]
        depth = min(100_000, max(0, in_busy - 60))
        with ledger.db.reading() as cur:
            row = cur.execute(
                "SELECT id FROM entries WHERE workspace_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                [BUSY, depth],
            ).fetchone()
        cursor = f"before:{row[0] + 1}"

        def offset_page() -> None:
            with ledger.db.reading() as cur:
                cur.execute(
                    "SELECT id, kind, amount, description, feature, created_at FROM entries "
                    "WHERE workspace_id = ? ORDER BY id DESC LIMIT 50 OFFSET ?",
                    [BUSY, depth],
                ).fetchall()

        last = _last_day(ledger)
        start, end = last - timedelta(days=89), last

        def raw_scan() -> None:
            ledger.db.frame(RAW_SPEND, [start, end + timedelta(days=1)])

        return {
            "balance": timed(lambda: ledger.wallet(admin, BUSY), repeat),
            "first": timed(lambda: ledger.history(admin, BUSY, limit=50), repeat),
            "deep": timed(lambda: ledger.history(admin, BUSY, limit=50, cursor=cursor), repeat),
            "offset": timed(offset_page, max(5, repeat // 5)),
            "rollups": timed(lambda: ledger.spend_by_workspace(admin, start, end), max(5, repeat // 5)),
            "raw": timed(raw_scan, max(3, repeat // 20)),
            "depth": (float(depth), 0.0),
        }


def _last_day(ledger: billing_core.Ledger) -> date:
    with ledger.db.reading() as cur:
        return cur.execute("SELECT max(day) FROM daily_rollups").fetchone()[0]  # type: ignore[no-any-return]


def debits_per_second(where: str, wallets: list[int], per_thread: int, naive: bool,
                      threads: int = THREADS) -> float:
    """`threads` threads debiting at once: through `consume` (group commit) or one transaction each."""
    with opened(where) as ledger:
        member = ledger.user_by_email("user1@bench.example")
        assert member is not None
        barrier = threading.Barrier(threads)
        one_credit = billing_core.parse_amount("0.01")

        def one_transaction(workspace_id: int) -> None:
            with ledger.db.writing() as cur:
                wallet = lock_wallet(ledger.db, cur, workspace_id)
                debit = Movement(workspace_id, EntryKind.DEBIT, one_credit, "bench", "AI chat", member.id,
                                 AuditAction.CONSUME)
                append(ledger.db, cur, {workspace_id: wallet}, [debit], at=ledger.db.clock())

        def work(i: int) -> None:
            barrier.wait()
            for _ in range(per_thread):
                if naive:
                    one_transaction(wallets[i % len(wallets)])
                else:
                    ledger.consume(member, wallets[i % len(wallets)], one_credit, feature="AI chat",
                                   description="bench")

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(threads)))
        return threads * per_thread / (time.perf_counter() - started)


def _debit_columns(db: Database, spaces: list[int], actor_id: int, keys: list[str] | None,
                   now: datetime) -> dict[str, pa.Array]:
    """Every column but the ids of a journal batch (`BATCH_SCHEMA`) of one 0.01 debit per
    entry of `spaces`: each debit one piece drawn from its wallet's one grant (bench/build.py
    numbers it as its workspace), as group commit and ingest write them. Made before the
    clock starts; `_with_ids` adds the ids inside the measured transaction."""
    size = len(spaces)
    amount = billing_core.parse_amount("0.01")
    with db.reading() as cur:
        accounts = dict(cur.execute(
            "SELECT workspace_id, account_id FROM wallets WHERE workspace_id IN (SELECT unnest(?::BIGINT[]))",
            [sorted(set(spaces))],
        ).fetchall())
    return {
        "workspace_id": pa.array(spaces, pa.int64()),
        "account_id": pa.array([accounts[w] for w in spaces], pa.int64()),
        "platform_id": pa.repeat(pa.scalar(PLATFORM_ACCOUNTS[USAGE_ACCOUNT], pa.int64()), size),
        "kind": pa.repeat(pa.scalar(EntryKind.DEBIT.value), size),
        "amount": pa.repeat(pa.scalar(amount, MONEY), size),
        "signed": pa.repeat(pa.scalar(-amount, MONEY), size),
        "description": pa.repeat(pa.scalar("bench"), size),
        "feature": pa.repeat(pa.scalar("AI chat"), size),
        "created_at": pa.repeat(pa.scalar(now, pa.timestamp("us")), size),
        "recorded_at": pa.repeat(pa.scalar(now, pa.timestamp("us")), size),
        "actor_id": pa.repeat(pa.scalar(actor_id, pa.int64()), size),
        "request_id": pa.nulls(size, pa.int64()),
        "corrects": pa.nulls(size, pa.int64()),
        "idempotency_key": pa.nulls(size, pa.string()) if keys is None else pa.array(keys, pa.string()),
        "action": pa.repeat(pa.scalar(AuditAction.CONSUME.value), size),
        "balance_before": pa.repeat(pa.scalar(amount, MONEY), size),  # the values do not matter here
        "balance_after": pa.repeat(pa.scalar(amount, MONEY), size),
        "piece": pa.repeat(pa.scalar(1, pa.int64()), size),
        "grant_id": pa.array(spaces, pa.int64()),
        "piece_amount": pa.repeat(pa.scalar(-amount, MONEY), size),
        "grant_kind": pa.nulls(size, pa.string()),
        "grant_priority": pa.nulls(size, pa.int64()),
        "grant_expires_at": pa.nulls(size, pa.timestamp("us")),
        "grant_source": pa.nulls(size, pa.string()),
    }


def _with_ids(db: Database, columns: dict[str, pa.Array]) -> pa.Table:
    """The batch with its entry and audit ids, allocated now (inside the write transaction)."""
    size = len(columns["workspace_id"])
    ids = {"id": pa.array(db.allocate_ids("entries", size)),
           "audit_id": pa.array(db.allocate_ids("audit_log", size))}
    return pa.table({name: (columns | ids)[name] for name in BATCH_SCHEMA.names}).cast(BATCH_SCHEMA)


def floor_debits_per_second(where: str, wallets: list[int], batches: int, size: int = THREADS) -> float:
    """The floor under group commit, measured raw: one thread, one transaction per batch of
    `size` debits, each issuing exactly the statements a group commit of that batch issues
    (lock the wallets, then the journal's writes over the batch as a relation) with every
    row prepared beforehand: no queue, no threads, no decisions, no validation."""
    with opened(where) as ledger:
        db = ledger.db
        member = ledger.user_by_email("user1@bench.example")
        assert member is not None
        spaces = [wallets[i % len(wallets)] for i in range(size)]
        columns = _debit_columns(db, spaces, member.id, None, db.clock())
        started = time.perf_counter()
        for _ in range(batches):
            with db.writing() as cur:
                lock_wallets(db, cur, spaces)
                write_batch(db, cur, _with_ids(db, columns))
        return batches * size / (time.perf_counter() - started)


def ingest_floor(where: str, events: int, tag: str) -> float:
    """The floor under bulk ingest, measured raw: `events` debits with idempotency keys,
    prepared beforehand as the journal's batch, written by the journal's statements in one
    transaction (after locking the wallets): no parsing, no decisions, no grants to split.
    Events/s."""
    with opened(where) as ledger:
        db = ledger.db
        admin = ledger.user_by_email("user1@bench.example")
        assert admin is not None
        workspaces = db.last_id("workspaces")
        spaces = [1 + i % workspaces for i in range(events)]
        keys = [f"floor-{tag}-{i}" for i in range(events)]
        columns = _debit_columns(db, spaces, admin.id, keys, db.clock())
        started = time.perf_counter()
        with db.writing() as cur:
            lock_wallets(db, cur, sorted(set(spaces)))
            write_batch(db, cur, _with_ids(db, columns))
        return events / (time.perf_counter() - started)


def alerts_on_and_off(
    where: str, wallets: list[int], per_thread: int, rounds: int = 3
) -> tuple[float, float]:
    """Group-commit debits/s with every wallet's low-balance levels set (the alerts read
    with each batch's wallet locks, crossings checked) and with none, interleaved in
    `rounds` so a noisy machine weighs on both alike; the best of each."""
    with opened(where) as ledger:
        with ledger.db.writing() as cur:
            saved = cur.execute("SELECT * FROM balance_thresholds").fetchall()
    on, off = [], []
    for _ in range(rounds):
        _set_levels(where, wallets, on=True)
        on.append(debits_per_second(where, wallets, per_thread, naive=False))
        _set_levels(where, wallets, on=False)
        off.append(debits_per_second(where, wallets, per_thread, naive=False))
    with opened(where) as ledger, ledger.db.writing() as cur:
        cur.execute("DELETE FROM balance_thresholds")
        for row in saved:
            cur.execute("INSERT INTO balance_thresholds VALUES (?, ?, ?, ?)", list(row))
    return max(on), max(off)


def _set_levels(where: str, wallets: list[int], *, on: bool) -> None:
    """Three levels far below the bench wallets' balances (no alert fires: the common case),
    or none."""
    with opened(where) as ledger, ledger.db.writing() as cur:
        cur.execute("DELETE FROM balance_thresholds")
        if on:
            levels = json.dumps([["20% of the last top-up", "1000.0000"], ["7 days of runway", "70.0000"],
                                 ["low", "5.0000"]])
            for workspace_id in wallets:
                cur.execute(
                    "INSERT INTO balance_thresholds (workspace_id, settings, levels, refreshed_at) "
                    "VALUES (?, '{}', ?, ?)",
                    [workspace_id, levels, ledger.db.clock()],
                )


def high_water_cost(where: str, wallets: list[int], per_thread: int, rounds: int = 2) -> dict[str, float]:
    """Debits/s with and without the high-water mark, measured in pairs so that both see the
    same machine at the same moment (on a shared machine the load changes by the second):
    the ledger and a copy of it, opened side by side, the copy without its mark.

    - 1 thread: one debit on each in turn, the time of each summed apart;
    - 16 threads: 16 threads on each ledger at once (each ledger's own group commit).

    Each is run 2 x `rounds` times, which ledger goes first alternating, after a warm-up."""
    import shutil

    twin = Path(where).with_name(f"bench-twin-{os.getpid()}.duckdb")
    shutil.copy(where, twin)
    runs: dict[str, list[float]] = {"grouped": [], "grouped_off": [], "single": [], "single_off": []}
    try:
        with opened(where) as marked, opened(str(twin), high_water=False) as bare:
            pair = [(marked, ""), (bare, "_off")]
            members = {id(book): book.user_by_email("user1@bench.example") for book, _ in pair}
            one = billing_core.parse_amount("0.01")

            def debit(book: billing_core.Ledger, workspace_id: int) -> None:
                book.consume(members[id(book)], workspace_id, one, feature="AI chat", description="bench")

            for turn in range(2 * rounds + 1):  # the first is a warm-up
                order = pair if turn % 2 == 0 else pair[::-1]
                spent = _in_turn(order, debit, per_thread * 2, wallets)
                took = _at_once(order, debit, per_thread, wallets)
                if turn == 0:
                    continue
                for _, suffix in pair:
                    runs["single" + suffix].append(per_thread * 2 / spent[suffix])
                    runs["grouped" + suffix].append(THREADS * per_thread / took[suffix])
    finally:
        for leftover in (twin, Path(f"{twin}.wal")):
            leftover.unlink(missing_ok=True)
    return {name: statistics.median(values) for name, values in runs.items()}


Pair = list[tuple[billing_core.Ledger, str]]


def _in_turn(order: Pair, debit: Callable[[billing_core.Ledger, int], None], count: int,
             wallets: list[int]) -> dict[str, float]:
    """One thread: a debit on each ledger in turn; the seconds each ledger's debits took."""
    spent = {suffix: 0.0 for _, suffix in order}
    for i in range(count):
        for book, suffix in order:
            started = time.perf_counter()
            debit(book, wallets[i % len(wallets)])
            spent[suffix] += time.perf_counter() - started
    return spent


def _at_once(order: Pair, debit: Callable[[billing_core.Ledger, int], None], per_thread: int,
             wallets: list[int]) -> dict[str, float]:
    """THREADS threads on each ledger, all started together; the seconds until each
    ledger's last thread was done."""
    barrier = threading.Barrier(THREADS * len(order))
    lock = threading.Lock()
    ends: dict[str, float] = {}

    def work(book: billing_core.Ledger, suffix: str, i: int) -> None:
        barrier.wait()
        for _ in range(per_thread):
            debit(book, wallets[i % len(wallets)])
        with lock:
            ends[suffix] = max(ends.get(suffix, 0.0), time.perf_counter())

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS * len(order)) as pool:
        for future in [pool.submit(work, book, suffix, i) for book, suffix in order for i in range(THREADS)]:
            future.result()
    return {suffix: end - started for suffix, end in ends.items()}


def fsync_floor(folder: Path, repeat: int = 400) -> Figure:
    """A 512-byte write and an fdatasync of a small file on this disk: what the mark pays
    per commit, at the least."""
    path = folder / f"bench-fsync-{os.getpid()}.probe"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        samples = []
        for i in range(repeat):
            started = time.perf_counter()
            os.pwrite(fd, b"x" * 512, 512 * (i % 2))
            os.fdatasync(fd)
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95)]


def backup_seconds(where: str, folder: Path) -> tuple[float, int]:
    """Seconds of `billing backup` (snapshot, copy into a new file, verify(), compare) of the
    whole ledger, and the rows copied."""
    import shutil

    from billing_core.backup import take_backup

    target = folder / f"bench-backups-{os.getpid()}"
    try:
        with opened(where) as ledger:
            started = time.perf_counter()
            manifest = take_backup(ledger, ledger.system_user(), target)
            return time.perf_counter() - started, sum(manifest.rows.values())
    finally:
        shutil.rmtree(target, ignore_errors=True)


def page_figures(where: str, repeat: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "page_timings.py"), where, str(repeat)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def ingest_rate(where: str, events: int, tag: str) -> float | None:
    """Events/s of `Ledger.consume_many` on `events` usage events, if it exists."""


    with opened(where) as ledger:
        if not hasattr(ledger, "consume_many"):
            return None
        admin = ledger.user_by_email("user1@bench.example")
        assert admin is not None
        workspaces = ledger.db.last_id("workspaces")
        now = ledger.db.clock()
        table = pa.table({
            "workspace": pa.array([1 + i % workspaces for i in range(events)], pa.int64()),
            "amount": pa.array(["0.05"] * events, pa.string()),
            "feature": pa.array(["AI chat"] * events, pa.string()),
            "description": pa.array(["bulk"] * events, pa.string()),
            "occurred_at": pa.array([now] * events, pa.timestamp("us")),
            "idempotency_key": pa.array([f"bench-{tag}-{i}" for i in range(events)], pa.string()),
        })
        started = time.perf_counter()
        result = ledger.consume_many(admin, table)
        rate = events / (time.perf_counter() - started)
        assert result.posted == events, result
        return rate


def priced_ingest_rate(where: str, events: int, tag: str) -> float | None:
    """Rows/s of priced ingest: a LiteLLM-format spend log (spend in USD, 8 decimals, as
    text; the team as a workspace's external id; a model per row) through
    `consume_many(..., unit="usd")` as `billing ingest --preset litellm` maps it: each row
    priced by the rate card at its time (an ASOF join), its pair's remainder carried."""
    import numpy as np


    with opened(where) as ledger:
        if not hasattr(ledger, "consume_usage"):
            return None
        admin = ledger.user_by_email("user1@bench.example")
        assert admin is not None
        workspaces = ledger.db.last_id("workspaces")
        now = ledger.db.clock()
        with ledger.db.writing() as cur:  # the operator links every workspace to a gateway team
            cur.execute("UPDATE workspaces SET external_id = 'team-' || CAST(id AS VARCHAR) "
                        "WHERE external_id IS NULL")
        ledger.set_price(admin, "*", "usd", "100", effective_from=now - timedelta(days=30))
        ledger.set_price(admin, "gpt-4o", "usd", "120", effective_from=now - timedelta(days=1))
        rng = np.random.default_rng(15)
        teams = pa.array(np.char.add("team-", (1 + np.arange(events) % workspaces).astype(str)))
        # as the gateway's CSV has it: plain text with 8 decimals
        spend = pa.array(np.char.add("0.", np.char.zfill(rng.integers(1, 100_000, events).astype(str), 8)))
        models = np.array(["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "text-embedding-3-small"])
        table = pa.table({
            "workspace": teams,
            "quantity": spend,
            "feature": pa.array(models[np.arange(events) % len(models)]),
            "occurred_at": pa.array([now - timedelta(hours=2)] * events, pa.timestamp("us")),
            "idempotency_key": pa.array(np.char.add(f"chatcmpl-{tag}-", np.arange(events).astype(str))),
        })
        started = time.perf_counter()
        result = ledger.consume_many(admin, table, unit="usd")
        rate = events / (time.perf_counter() - started)
        assert result.posted == events, result
        return rate


def verify_seconds(where: str) -> float:
    """Seconds of `Ledger.verify()` over the whole ledger (it raises on any difference)."""
    with opened(where) as ledger:
        started = time.perf_counter()
        ledger.verify()
        return time.perf_counter() - started


@dataclass
class Measured:
    """Every figure of one store."""

    big: dict[str, Figure] | None  # None: a writes-only pass
    little: dict[str, Figure] | None
    pages: dict[str, float] | None
    floor: float
    alerts: tuple[float, float]  # debits/s with balance alerts on, off
    single: float
    grouped: float
    naive: float
    one_wallet: float
    ingest: float | None
    priced: float | None  # priced ingest (LiteLLM format, --preset litellm), rows/s
    verify: float | None
    seconds: float
    mark: dict[str, float] | None = None  # debits/s with and without the high-water mark
    fsync: Figure | None = None  # a small write and fdatasync on this disk
    backup: tuple[float, int] | None = None  # seconds, rows
    ingest_floor: float | None = None  # the journal's statements alone over the same events, events/s


def measure(large: str, small: str | None, args: argparse.Namespace, label: str,
            writes_only: bool = False) -> Measured:
    """The same measurements, in the same order, on one store; the writes come last."""
    started = time.perf_counter()

    def step(what: str) -> None:
        print(f"  {label}: {what} ({time.perf_counter() - started:.0f} s)", flush=True)

    big = little = pages = None
    if not writes_only:
        step("reads")
        big = reads(large, args.repeat)
        little = reads(small, args.repeat) if small is not None else None
        step("page timings")
        pages = page_figures(large, args.page_repeat)
    wallets = list(range(2, 2 + THREADS))
    step("debits")
    floor = floor_debits_per_second(large, wallets, args.debits_per_thread)
    single = debits_per_second(large, wallets, args.debits_per_thread * 4, naive=False, threads=1)
    grouped = debits_per_second(large, wallets, args.debits_per_thread, naive=False)
    naive = debits_per_second(large, wallets, args.debits_per_thread, naive=True)
    one_wallet = debits_per_second(large, [BUSY], args.debits_per_thread, naive=False)
    step("debits with balance alerts on and off")
    alerts = alerts_on_and_off(large, wallets, args.debits_per_thread)
    mark = fsync = None
    if not large.startswith(("postgresql://", "postgres://")):
        step("the high-water mark: debits with and without it, and the fsync floor")
        fsync = fsync_floor(Path(large).parent)
        mark = high_water_cost(large, wallets, args.debits_per_thread)
    step("bulk ingest, and its floor")
    ingest = ingest_rate(large, args.ingest, tag=label)
    raw_ingest = ingest_floor(large, args.ingest, tag=label)
    step("priced ingest")
    priced = priced_ingest_rate(large, args.ingest, tag=label)
    checked = None
    if not writes_only:
        step("verify")
        checked = verify_seconds(large)
    backup = None
    if mark is not None:
        step("backup")
        backup = backup_seconds(large, Path(large).parent)
    seconds = time.perf_counter() - started
    print(f"  {label}: done in {seconds:.0f} s", flush=True)
    return Measured(big, little, pages, floor, alerts, single, grouped, naive, one_wallet, ingest, priced,
                    checked, seconds, mark, fsync, backup, raw_ingest)


# ----------------------------------------------------------------------------- PostgreSQL


@dataclass
class Server:
    """Where the PostgreSQL ledgers live: the large one, the 10k one (if a database could be
    made for it), and what the copy and the server's settings were."""

    large: str
    small: str | None
    version: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    throwaway: bool = True
    copied_rows: int = 0
    copy_seconds: float = 0.0
    copy_sent: float = 0.0
    vacuum_seconds: float = 0.0
    durable: dict[str, str] = field(default_factory=dict)
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for undo in reversed(self.cleanup):
            try:
                undo()
            except Exception as error:  # noqa: BLE001 - reported, the rest still runs
                print(f"cleanup failed: {error}", file=sys.stderr)
        self.cleanup.clear()


def _with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path="/" + name).geturl()


def _admin(url: str, statement: object) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(statement)  # type: ignore[call-overload]


def start_server(pg_url: str | None) -> Server:
    """A throwaway server with two empty databases, or the given server's empty database
    (plus, if the role may create databases, a second one for the 10k ledger, dropped after)."""
    if pg_url is None:
        from tests.pg_server import ThrowawayPostgres

        pg = ThrowawayPostgres(relaxed=False).start()
        server = Server(large=pg.create_database("bench_large"), small=pg.create_database("bench_10k"))
        server.cleanup.append(pg.stop)
        set_durability(server.large, "off")  # the test server's settings for the first pass
    else:
        from psycopg import sql

        name = (urlsplit(pg_url).path.lstrip("/") or "postgres") + "_bench_10k"
        small: str | None = _with_database(pg_url, name)
        try:
            _admin(pg_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except Exception as error:  # noqa: BLE001 - the 10k ratios are then left out
            print(f"no database for the 10k ledger on {pg_url.split('@')[-1]} ({error}); "
                  "the PostgreSQL 'vs 10k' ratios are left out", flush=True)
            small = None
        server = Server(large=pg_url, small=small, throwaway=False)
        if small is not None:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            server.cleanup.append(lambda: _admin(pg_url, drop))
    import psycopg

    with psycopg.connect(server.large, autocommit=True) as conn:
        server.version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        for setting in ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers"):
            server.settings[setting] = str(conn.execute(f"SHOW {setting}").fetchone()[0])  # type: ignore[index]
    return server


def copy_in(source: Path, url: str) -> tuple[int, float, float]:
    """Copy the DuckDB ledger at `source` into the empty ledger at `url` (as `billing migrate`
    does: one transaction, COPY, both verified and compared). Returns (rows, seconds, and the
    seconds until the last batch was sent: the source's verify() and the COPY)."""
    with opened(str(source)) as duck, opened(url, create=True) as target:
        started = time.perf_counter()
        landed = [started]
        report = copy_ledger(duck, target, progress=lambda _table, _rows: landed.append(time.perf_counter()))
        return sum(report.rows.values()), time.perf_counter() - started, landed[-1] - started


def settle(url: str) -> float:
    """VACUUM ANALYZE and CHECKPOINT after the bulk copy (what autovacuum does on its own a
    while after a large load), so the reads see planner statistics and the visibility map,
    and the server sits idle while the other store is measured. Returns the seconds."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")
    return time.perf_counter() - started


def prepare_postgres(pg_url: str | None, large: Path, small: Path) -> Server:
    server = start_server(pg_url)
    try:
        print(f"PostgreSQL {server.version}: copying the built ledger in", flush=True)
        server.copied_rows, server.copy_seconds, server.copy_sent = copy_in(large, server.large)
        server.vacuum_seconds = settle(server.large)
        if server.small is not None:
            copy_in(small, server.small)
            settle(server.small)
        print(f"copied {server.copied_rows:,} rows in {server.copy_seconds:.1f} s, "
              f"VACUUM ANALYZE {server.vacuum_seconds:.1f} s", flush=True)
    except BaseException:
        server.close()
        raise
    return server


# ----------------------------------------------------------------------------- the table


def ms(figure: Figure) -> str:
    return f"{figure[0]:.2f} / {figure[1]:.2f} ms"


COLUMNS = ("duckdb", "postgresql", "postgresql-durable")


DURABILITY = ("fsync", "synchronous_commit", "full_page_writes")


def set_durability(url: str, value: str) -> dict[str, str]:
    """Turn the throwaway server's durability settings off (a test server's) or on (a
    production server's) with ALTER SYSTEM and a reload; returns them as the server shows them."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for setting in DURABILITY:
            conn.execute(f"ALTER SYSTEM SET {setting} = {value}")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(1.0)  # the reload reaches every backend
    with psycopg.connect(url, autocommit=True) as conn:
        return {setting: str(conn.execute(f"SHOW {setting}").fetchone()[0])  # type: ignore[index]
                for setting in DURABILITY}


def rows_of(results: dict[str, Measured | None], server: Server | None,
            args: argparse.Namespace) -> list[tuple[str, ...]]:
    def cells(fn: Callable[[Measured], str], reads: bool = False) -> tuple[str, str, str]:
        out = []
        for column in COLUMNS:
            m = results.get(column)
            if m is None:
                out.append("not run")
            elif reads and m.big is None:
                out.append("(writes only)")
            else:
                out.append(fn(m))
        return out[0], out[1], out[2]

    def vs_small(m: Measured, key: str) -> str:
        if m.little is None or m.big is None:
            return "no 10k ledger"
        return f"{m.big[key][0] / m.little[key][0]:.2f}x vs 10k"

    def rate(value: float) -> str:
        return f"{value:,.0f}/s"

    def big(m: Measured) -> dict[str, Figure]:
        assert m.big is not None
        return m.big

    def pages(m: Measured) -> dict[str, float]:
        assert m.pages is not None
        return m.pages

    measured = [m for m in results.values() if m is not None and m.big is not None]
    depth = int(measured[0].big["depth"][0]) if measured and measured[0].big else 0
    pool = os.environ.get("BILLING_PG_POOL") or "10"
    copy_cell = "not run"
    if server is not None:
        copy_cell = f"{server.copied_rows / server.copy_seconds:,.0f} rows/s"
    floor_note = (f"one thread, one transaction per batch of {THREADS} prepared debits: the statements a "
                  "group commit of that batch issues (lock the wallets; the journal's writes), nothing else")
    rows: list[tuple[str, ...]] = [
        ("wallet balance", *cells(lambda m: f"{ms(big(m)['balance'])}; {vs_small(m, 'balance')}", True),
         "<= 2 ms", ""),
        ("history first page (50 rows)",
         *cells(lambda m: f"{ms(big(m)['first'])}; {vs_small(m, 'first')}", True), "<= 15 ms", ""),
        (f"history page at depth {depth:,} vs first page",
         *cells(lambda m: f"{ms(big(m)['deep'])} = {big(m)['deep'][0] / big(m)['first'][0]:.2f}x; "
                          f"{vs_small(m, 'deep')}", True),
         "<= 1.5x", "keyset cursor"),
        ("same page by OFFSET vs by keyset",
         *cells(lambda m: f"{ms(big(m)['offset'])}; OFFSET {big(m)['offset'][0] / big(m)['deep'][0]:.1f}x "
                          "slower", True),
         "report", ""),
        ("daily spend by workspace, 90 days, rollups vs raw scan",
         *cells(lambda m: f"{ms(big(m)['rollups'])}; raw {big(m)['raw'][0]:.0f} ms = "
                          f"{big(m)['raw'][0] / big(m)['rollups'][0]:.1f}x; {vs_small(m, 'rollups')}", True),
         "<= 50 ms, >= 10x", "rollup rows per workspace and day (feature NULL) beside those per feature"),
        ("FLOOR: the journal's statements raw, debits/s", *cells(lambda m: rate(m.floor)), "report",
         floor_note),
        ("debits/s, 1 thread, one consume at a time",
         *cells(lambda m: f"{rate(m.single)} = {m.single / m.floor:.2f}x floor"), "report", ""),
        (f"debits/s, {THREADS} threads on {THREADS} wallets, group commit",
         *cells(lambda m: f"{rate(m.grouped)} = {m.grouped / m.floor:.2f}x floor"),
         ">= 3,000/s on DuckDB; >= 0.8x floor", ""),
        ("group commit vs one transaction per debit",
         *cells(lambda m: f"naive {rate(m.naive)} = {m.naive / m.floor:.2f}x floor; "
                          f"group {m.grouped / m.naive:.1f}x naive"), ">= 15x",
         f"{THREADS} threads; PostgreSQL: pool of {pool} connections (BILLING_PG_POOL)"),
        (f"debits/s, {THREADS} threads all on one wallet",
         *cells(lambda m: f"{rate(m.one_wallet)} = {m.one_wallet / m.floor:.2f}x floor"), ">= 2,000/s", ""),
        (f"debits/s, {THREADS} threads, balance alerts on vs off",
         *cells(lambda m: f"on {rate(m.alerts[0])}, off {rate(m.alerts[1])} = "
                          f"{m.alerts[0] / m.alerts[1]:.2f}x"),
         ">= 0.9x", "three levels per wallet, none crossed; best of 3 interleaved rounds each"),
        (f"FLOOR: the journal's statements raw over {args.ingest:,} prepared debits with keys, events/s",
         *cells(lambda m: "n/a" if m.ingest_floor is None else rate(m.ingest_floor)), "report",
         "one transaction: lock the wallets, then the journal's writes (entries, postings, balances, "
         "grant draws, rollups, keys, audit) over the batch, every row prepared beforehand"),
        (f"bulk ingest of {args.ingest:,} usage events with idempotency keys (consume_many)",
         *cells(lambda m: "not built" if m.ingest is None else f"{m.ingest:,.0f} events/s"
                + ("" if m.ingest_floor is None else f" = {m.ingest / m.ingest_floor:.2f}x floor")),
         ">= 500,000 events/s", "PostgreSQL: decided in a scratch DuckDB, written by the journal (COPY "
         "into a temporary table, then its statements)"),
        (f"priced ingest of {args.ingest:,} LiteLLM-format rows (--preset litellm: spend in USD "
         "priced by the rate card, remainder carried)",
         *cells(lambda m: "not built" if m.priced is None or m.ingest is None else
                f"{m.priced:,.0f} rows/s = {m.priced / m.ingest:.2f}x unpriced ingest"
                + ("" if m.ingest_floor is None else f" = {m.priced / m.ingest_floor:.2f}x floor")),
         ">= 500,000 rows/s", "same run as the unpriced row; an ASOF join on the rate card and the "
         "carry per workspace and model, set-based; teams matched by external id"),
        ("Workspace Billing page, full AppTest run",
         *cells(lambda m: f"{pages(m)['billing_p50']:.0f} / {pages(m)['billing_p95']:.0f} ms", True),
         "<= 400 ms", ""),
        ("Approvals page, full AppTest run",
         *cells(lambda m: f"{pages(m)['approvals_p50']:.0f} / {pages(m)['approvals_p95']:.0f} ms", True),
         "<= 600 ms", ""),
        ("app process RSS with the ledger open", *cells(lambda m: f"{pages(m)['rss_mb']:.0f} MB", True),
         "<= 600 MB",
         "PostgreSQL: the app process only; the server's memory is not counted"
         + (f" (shared_buffers {server.settings['shared_buffers']})" if server is not None else "")),
        ("verify() of the whole ledger, after the writes",
         *cells(lambda m: "(writes only)" if m.verify is None else f"{m.verify:.1f} s"), "report", ""),
        (f"high-water mark at the debit path: {THREADS} threads on {THREADS} wallets, group commit, "
         "with / without the mark",
         *cells(lambda m: _with_without(m, "grouped")), "within 10% (>= 0.90x)",
         "DuckDB: its WAL synced at every commit (its default) in both; the mark adds a 512-byte "
         "write + fdatasync per commit (batch); the ledger and a copy without the mark, 16 threads "
         "on each at once; median of 4 runs"),
        ("high-water mark at the debit path: 1 thread, one consume at a time, with / without",
         *cells(lambda m: _with_without(m, "single")), "within 10% (>= 0.90x)",
         "as above; every debit is its own commit; one debit on each ledger in turn"),
        ("fsync floor: 512-byte write + fdatasync of a small file on this disk",
         *cells(lambda m: "n/a" if m.fsync is None else ms(m.fsync)), "report",
         "the raw cost the mark builds on, measured in the same run"),
        ("billing backup of the whole ledger (snapshot, copy, verify(), compare)",
         *cells(lambda m: "n/a (pg_dump: README, Backups)" if m.backup is None else
                f"{m.backup[0]:.1f} s; {m.backup[1] / m.backup[0]:,.0f} rows/s"), "report",
         "while idle; the app takes one hourly by default"),
        ("copy of the built ledger into PostgreSQL (billing migrate)", "n/a (the source)", copy_cell,
         "(copied once)", "report",
         "" if server is None else
         f"{server.copied_rows:,} rows in {server.copy_seconds:.1f} s, one transaction: the source's "
         f"verify() and the COPY {server.copy_sent:.1f} s, then the commit, verify() of the copy and "
         f"the comparison; then VACUUM ANALYZE {server.vacuum_seconds:.1f} s"),
    ]
    if server is not None:
        relaxed = ", ".join(f"{k}={server.settings[k]}" for k in ("fsync", "synchronous_commit",
                                                                    "full_page_writes"))
        durable = ", ".join(f"{k}={v}" for k, v in server.durable.items()) or "not run"
        rows.append(("durability", "WAL synced at every commit", relaxed, durable, "",
                     ("throwaway server on loopback (tests/pg_server.py): its relaxed settings are a test "
                      "server's, the durable column a production server's"
                      if server.throwaway else "the server of --pg-url, as configured")))
    return rows


def _with_without(m: Measured, kind: str) -> str:
    if m.mark is None:
        return "n/a (no mark: the server's own WAL)"
    on, off = m.mark[kind], m.mark[kind + "_off"]
    return f"{on:,.0f}/s vs {off:,.0f}/s = {on / off:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--workspaces", type=int, default=1_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--debits-per-thread", type=int, default=300)
    parser.add_argument("--ingest", type=int, default=1_000_000)
    parser.add_argument("--page-repeat", type=int, default=10)
    parser.add_argument("--dir", default=os.environ.get("BENCH_DIR") or tempfile.gettempdir())
    parser.add_argument("--stores", default=",".join(STORES),
                        help="the stores to measure, comma-separated (default: duckdb,postgresql)")
    parser.add_argument("--pg-url", default=None,
                        help="an empty database on a PostgreSQL server to copy the ledger into (it is "
                             "left holding it) instead of a throwaway server; a second database, "
                             "<name>_bench_10k, is made and dropped if the role may create databases")
    args = parser.parse_args()
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if not stores or any(s not in STORES for s in stores):
        parser.error(f"--stores takes {', '.join(STORES)}")
    if args.pg_url is not None and not args.pg_url.startswith(("postgresql://", "postgres://")):
        parser.error("--pg-url takes a postgresql:// URL")

    begun = time.perf_counter()
    folder = Path(args.dir)
    large, small = folder / f"bench-{args.entries}.duckdb", folder / "bench-10000.duckdb"
    seconds = build(large, entries=args.entries, workspaces=args.workspaces, users=args.users)
    build(small, entries=10_000, workspaces=args.workspaces, users=args.users)
    print(f"built {args.entries:,} entries over {args.workspaces:,} workspaces and "
          f"{args.users:,} users in {seconds:.1f} s", flush=True)

    results: dict[str, Measured | None] = {c: None for c in COLUMNS}
    server = prepare_postgres(args.pg_url, large, small) if "postgresql" in stores else None
    try:
        if "duckdb" in stores:
            results["duckdb"] = measure(str(large), str(small), args, "DuckDB")
        if server is not None:
            results["postgresql"] = measure(server.large, server.small, args, "PostgreSQL")
            if server.throwaway:
                server.durable = set_durability(server.large, "on")
                results["postgresql-durable"] = measure(server.large, None, args, "PostgreSQL, durable",
                                                        writes_only=True)
    finally:
        if server is not None:
            server.close()

    engines = [f"DuckDB {__import__('duckdb').__version__}"]
    if server is not None:
        engines.append(f"PostgreSQL {server.version}")
    print(f"\nbilling_core on {' and '.join(engines)}, {args.entries:,} entries "
          f"(median / p95; whole run {time.perf_counter() - begun:.0f} s)\n")
    print("| figure | DuckDB | PostgreSQL (test server) | PostgreSQL (fsync, synchronous_commit on) "
          "| target | notes |")
    print("|---|---|---|---|---|---|")
    for row in rows_of(results, server, args):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
