"""`make bench` / `make bench-small`: build a large ledger, measure, print one table.

Figures with a naive counterpart are measured side by side in the same run and
shown as a ratio, so the table holds on a noisy machine. Reads are also measured
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import billing_core  # noqa: E402
from bench.build import build  # noqa: E402
from billing_core.journal import EntryKind, lock_wallet, post  # noqa: E402

BUSY = 1  # the busy workspace of bench.build
Figure = tuple[float, float]  # median, p95 in ms


def timed(fn: Callable[[], object], repeat: int) -> Figure:
    samples = []
    fn()
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def reads(path: Path, repeat: int) -> dict[str, Figure]:
    """The read figures of one ledger."""
    ledger = billing_core.open_ledger(str(path))
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
        with ledger.db.reading() as cur:
            cur.sql(
                "SELECT e.created_at::DATE AS period, e.workspace_id, w.name AS workspace, "
                "sum(e.amount) AS spent FROM entries e JOIN workspaces w ON w.id = e.workspace_id "
                "WHERE e.kind = 'debit' AND e.created_at >= ? AND e.created_at < ? "
                "GROUP BY ALL ORDER BY period, workspace",
                params=[start, end + timedelta(days=1)],
            ).to_arrow_table()

    figures = {
        "balance": timed(lambda: ledger.wallet(admin, BUSY), repeat),
        "first": timed(lambda: ledger.history(admin, BUSY, limit=50), repeat),
        "deep": timed(lambda: ledger.history(admin, BUSY, limit=50, cursor=cursor), repeat),
        "offset": timed(offset_page, max(5, repeat // 5)),
        "rollups": timed(lambda: ledger.spend_by_workspace(admin, start, end), max(5, repeat // 5)),
        "raw": timed(raw_scan, max(3, repeat // 20)),
        "depth": (float(depth), 0.0),
    }
    ledger.close()
    return figures


def _last_day(ledger: billing_core.Ledger) -> date:
    with ledger.db.reading() as cur:
        return cur.execute("SELECT max(day) FROM daily_rollups").fetchone()[0]  # type: ignore[no-any-return]


def debits_per_second(path: Path, wallets: list[int], per_thread: int, naive: bool) -> float:
    """16 threads debiting at once: through `consume` (group commit) or one transaction each."""
    ledger = billing_core.open_ledger(str(path))
    member = ledger.user_by_email("user1@bench.example")
    assert member is not None
    barrier = threading.Barrier(16)
    one_credit = billing_core.parse_amount("0.01")

    def one_transaction(workspace_id: int) -> None:
        with ledger.db.writing() as cur:
            wallet = lock_wallet(cur, workspace_id)
            post(ledger.db, cur, wallet, kind=EntryKind.DEBIT, amount=one_credit,
                 description="bench", feature="AI chat", actor_id=member.id, at=ledger.db.clock())

    def work(i: int) -> None:
        barrier.wait()
        for _ in range(per_thread):
            if naive:
                one_transaction(wallets[i % len(wallets)])
            else:
                ledger.consume(member, wallets[i % len(wallets)], one_credit, feature="AI chat",
                               description="bench")

    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(work, range(16)))
    rate = 16 * per_thread / (time.perf_counter() - started)
    ledger.verify()
    ledger.close()
    return rate


def page_figures(path: Path, repeat: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "page_timings.py"), str(path), str(repeat)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def ingest_rate(path: Path, events: int) -> float | None:
    """Events/s of `Ledger.consume_many` on `events` usage events, if it exists."""
    import pyarrow as pa

    ledger = billing_core.open_ledger(str(path))
    if not hasattr(ledger, "consume_many"):
        ledger.close()
        return None
    admin = ledger.user_by_email("user1@bench.example")
    workspaces = ledger.db.last_id("workspaces")
    now = ledger.db.clock()
    table = pa.table({
        "workspace": pa.array([1 + i % workspaces for i in range(events)], pa.int64()),
        "amount": pa.array(["0.05"] * events, pa.string()),
        "feature": pa.array(["AI chat"] * events, pa.string()),
        "description": pa.array(["bulk"] * events, pa.string()),
        "occurred_at": pa.array([now] * events, pa.timestamp("us")),
        "idempotency_key": pa.array([f"bench-{i}" for i in range(events)], pa.string()),
    })
    started = time.perf_counter()
    ledger.consume_many(admin, table)
    rate = events / (time.perf_counter() - started)
    ledger.close()
    return rate


def ms(figure: Figure) -> str:
    return f"{figure[0]:.2f} / {figure[1]:.2f} ms"


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
    args = parser.parse_args()
    folder = Path(args.dir)
    large, small = folder / f"bench-{args.entries}.duckdb", folder / "bench-10000.duckdb"
    seconds = build(large, entries=args.entries, workspaces=args.workspaces, users=args.users)
    build(small, entries=10_000, workspaces=args.workspaces, users=args.users)
    print(f"built {args.entries:,} entries over {args.workspaces:,} workspaces and "
          f"{args.users:,} users in {seconds:.1f} s", flush=True)
    big, little = reads(large, args.repeat), reads(small, args.repeat)
    pages = page_figures(large, args.page_repeat)
    grouped = debits_per_second(large, list(range(2, 18)), args.debits_per_thread, naive=False)
    naive = debits_per_second(large, list(range(2, 18)), args.debits_per_thread, naive=True)
    one_wallet = debits_per_second(large, [BUSY], args.debits_per_thread, naive=False)
    ingest = ingest_rate(large, args.ingest)

    def vs_small(key: str) -> str:
        return f"{big[key][0] / little[key][0]:.2f}x vs 10k"

    rows = [
        ("wallet balance, p50", ms(big["balance"]), "<= 2 ms", vs_small("balance")),
        ("history first page (50 rows)", ms(big["first"]), "<= 15 ms", vs_small("first")),
        (f"history page at depth {int(big['depth'][0]):,} vs first page", ms(big["deep"]),
         "<= 1.5x", f"{big['deep'][0] / big['first'][0]:.2f}x; {vs_small('deep')}"),
        ("same page by OFFSET vs by keyset", ms(big["offset"]), "report",
         f"OFFSET {big['offset'][0] / big['deep'][0]:.1f}x slower"),
        ("daily spend by workspace, 90 days, rollups vs raw scan", ms(big["rollups"]),
         "<= 50 ms, >= 10x",
         f"{big['raw'][0] / big['rollups'][0]:.1f}x (raw {big['raw'][0]:.0f} ms); "
         f"{vs_small('rollups')}"),
        ("debits/s, 16 threads on 16 wallets, group commit", f"{grouped:,.0f}/s", ">= 5,000/s", ""),
        ("group commit vs one transaction per debit", f"naive {naive:,.0f}/s", ">= 15x",
         f"{grouped / naive:.1f}x"),
        ("debits/s, 16 threads all on one wallet", f"{one_wallet:,.0f}/s", ">= 2,000/s", ""),
        (f"bulk ingest of {args.ingest:,} usage events", "not built" if ingest is None
         else f"{ingest:,.0f} events/s", ">= 500,000 events/s", ""),
        ("Workspace Billing page, full AppTest run",
         f"{pages['billing_p50']:.0f} / {pages['billing_p95']:.0f} ms", "<= 400 ms", ""),
        ("Approvals page, full AppTest run",
         f"{pages['approvals_p50']:.0f} / {pages['approvals_p95']:.0f} ms", "<= 600 ms", ""),
        ("app process RSS with the ledger open", f"{pages['rss_mb']:.0f} MB", "<= 600 MB", ""),
    ]
    print(f"\nbilling_core on DuckDB {__import__('duckdb').__version__}, "
          f"{args.entries:,} entries (median / p95)\n")
    print("| figure | measured | target | side by side |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
