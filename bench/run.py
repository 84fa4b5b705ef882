"""`make bench` / `make bench-small`: build a large ledger, measure, print one table.

Figures with a naive counterpart are measured side by side in the same run and
shown as a ratio, so the table holds on a noisy machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import billing_core  # noqa: E402
from billing_core.journal import EntryKind, lock_wallet, post  # noqa: E402
from bench.build import build  # noqa: E402

Row = tuple[str, str, str, str]


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, p95) in milliseconds."""
    samples = []
    fn()
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def ms(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.2f} / {pair[1]:.2f} ms"


def debits_per_second(ledger: billing_core.Ledger, member: billing_core.User, wallets: list[int],
                      per_thread: int, naive: bool) -> float:
    barrier = threading.Barrier(16)

    def one_transaction_each(workspace_id: int) -> None:
        with ledger.db.writing() as cur:
            wallet = lock_wallet(cur, workspace_id)
            post(ledger.db, cur, wallet, kind=EntryKind.DEBIT, amount=billing_core.parse_amount("0.01"),
                 description="bench", feature="AI chat", actor_id=member.id, at=ledger.db.clock())

    def work(i: int) -> None:
        barrier.wait()
        for _ in range(per_thread):
            if naive:
                one_transaction_each(wallets[i % len(wallets)])
            else:
                ledger.consume(member, wallets[i % len(wallets)], "0.01", feature="AI chat",
                               description="bench")

    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(work, range(16)))
    return 16 * per_thread / (time.perf_counter() - started)


def measure(path: Path, entries: int, repeat: int, per_thread: int) -> list[Row]:
    ledger = billing_core.open_ledger(str(path))
    admin = ledger.user_by_email("user1@bench.example")
    assert admin is not None
    busiest = 1
    rows: list[Row] = []
    rows.append(("wallet balance", ms(timed(lambda: ledger.wallet(admin, busiest), repeat)), "p50 <= 2 ms", ""))
    first = timed(lambda: ledger.history(admin, busiest, limit=50), repeat)
    rows.append(("history first page (50 rows)", ms(first), "p50 <= 15 ms", ""))
    with ledger.db.reading() as cur:
        ids = [r[0] for r in cur.execute(
            "SELECT id FROM entries WHERE workspace_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
            [busiest, min(100_000, entries // 1000 * 5)]).fetchall()]
    depth = min(100_000, entries // 1000 * 5)
    cursor = f"before:{ids[0]}" if ids else None
    deep = timed(lambda: ledger.history(admin, busiest, limit=50, cursor=cursor), repeat)
    rows.append((f"history page at depth {depth:,} vs first", ms(deep), "<= 1.5x",
                 f"{deep[0] / first[0]:.2f}x"))

    def offset_page() -> None:
        with ledger.db.reading() as cur:
            cur.execute("SELECT id, amount FROM entries WHERE workspace_id = ? ORDER BY id DESC "
                        "LIMIT 50 OFFSET ?", [busiest, depth]).fetchall()

    offset = timed(offset_page, max(5, repeat // 4))
    rows.append(("same page by OFFSET vs keyset", ms(offset), "report", f"{offset[0] / deep[0]:.1f}x"))

    start, end = date(2025, 10, 1), date(2025, 12, 31)
    rollup = timed(lambda: ledger.spend_by_workspace(admin, start, end), max(5, repeat // 4))

    def raw_scan() -> None:
        with ledger.db.reading() as cur:
            cur.execute("SELECT created_at::DATE, workspace_id, sum(amount) FROM entries "
                        "WHERE kind = 'debit' AND created_at >= ? AND created_at < ? GROUP BY ALL",
                        [start, end + timedelta(days=1)]).fetchall()

    raw = timed(raw_scan, max(3, repeat // 10))
    rows.append(("daily spend by workspace, 90 days: rollups vs raw scan", ms(rollup),
                 "<= 50 ms, >= 10x", f"{raw[0] / rollup[0]:.1f}x (raw {raw[0]:.0f} ms)"))

    wallets = list(range(1, 17))
    naive = debits_per_second(ledger, admin, wallets, per_thread, naive=True)
    grouped = debits_per_second(ledger, admin, wallets, per_thread, naive=False)
    rows.append(("debits/s, 16 threads on 16 wallets, group commit", f"{grouped:,.0f}/s", ">= 5,000/s", ""))
    rows.append(("group commit vs one transaction per debit", f"{naive:,.0f}/s naive", ">= 15x",
                 f"{grouped / naive:.1f}x"))
    one = debits_per_second(ledger, admin, [busiest], per_thread, naive=False)
    rows.append(("debits/s, 16 threads on one wallet", f"{one:,.0f}/s", ">= 2,000/s", ""))
    ledger.verify()
    ledger.close()
    return rows


def print_table(title: str, rows: list[Row]) -> None:
    print(f"\n{title}\n")
    print("| figure | median / p95 | target | ratio |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--workspaces", type=int, default=1_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--debits-per-thread", type=int, default=200)
    parser.add_argument("--dir", default=os.environ.get("BENCH_DIR") or tempfile.gettempdir())
    args = parser.parse_args()
    path = Path(args.dir) / f"bench-{args.entries}.duckdb"
    seconds = build(path, entries=args.entries, workspaces=args.workspaces, users=args.users)
    print(f"built {args.entries:,} entries over {args.workspaces:,} workspaces and "
          f"{args.users:,} users in {seconds:.1f} s ({path})")
    rows = measure(path, args.entries, args.repeat, args.debits_per_thread)
    print_table(f"billing_core on DuckDB, {args.entries:,} entries", rows)


if __name__ == "__main__":
    main()
