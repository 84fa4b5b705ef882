"""`billing`: the ledger from the command line.

Every user mistake ends in one readable line on stderr and a non-zero exit,
never a traceback. Commands act as the built-in system operator unless
`--as EMAIL` (or $BILLING_ACTOR) names a ledger user.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

import pandas as pd

from . import cli_admin, cli_backup, cli_pricing
from .cli_grants import GRANT_COMMANDS, add_grant_commands, expire_command, grant_command
from .clock import parse_instant
from .errors import BillingError, InvalidInput
from .ingest import open_event_file, read_chunks
from .ledger import Ledger, open_ledger
from .models import User
from .money import format_credits
from .store import default_path

EXIT_USAGE = 2
EXIT_REFUSED = 1
CHUNK_ROWS = 200_000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="billing", description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db", default=None, help="ledger file (default: $BILLING_DB or data/billing.duckdb)"
    )
    common.add_argument(
        "--as",
        dest="actor",
        default=None,
        metavar="EMAIL",
        help="act as this ledger user (default: $BILLING_ACTOR, else the system operator)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("init", parents=[common], help="create the ledger (or migrate it) and exit")

    seed = sub.add_parser("seed", parents=[common], help="fill a new ledger with the demo data")
    seed.add_argument("--workspaces", type=int, default=6)
    seed.add_argument("--months", type=int, default=6)
    seed.add_argument("--seed", type=int, default=42, help="random seed (same seed, same demo)")
    seed.add_argument(
        "--until",
        type=date.fromisoformat,
        default=None,
        help="last day of the demo history, YYYY-MM-DD (default: today)",
    )
    seed.add_argument(
        "--now",
        type=_instant,
        default=None,
        metavar="TIME",
        help="the instant the demo ends at, ISO 8601 (default: the ledger's clock)",
    )
    seed.add_argument(
        "--if-missing", action="store_true", help="do nothing when the ledger file already exists"
    )

    consume = sub.add_parser("consume", parents=[common], help="debit credits for a feature's use")
    consume.add_argument("workspace", help="workspace id or name")
    consume.add_argument("amount", help="credits, e.g. 12.5")
    consume.add_argument("--feature", required=True)
    consume.add_argument("--description", required=True)
    consume.add_argument("--idempotency-key", default=None)

    balance = sub.add_parser("balance", parents=[common], help="show a wallet")
    balance.add_argument("workspace", help="workspace id or name")

    history = sub.add_parser("history", parents=[common], help="list recent transactions")
    history.add_argument("workspace", help="workspace id or name")
    history.add_argument("--limit", type=int, default=20)

    sub.add_parser("verify", parents=[common], help="check that the books balance")

    add_grant_commands(sub, common, _instant)

    ingest = sub.add_parser(
        "ingest",
        parents=[common],
        help="debit a file of usage events (CSV or Parquet) in bulk",
        description="Debit a file of usage events: columns workspace (id or name; or workspace_id), "
        "amount, feature, description, occurred_at (naive times are UTC) and optionally "
        "idempotency_key. What fits is posted, duplicates are skipped, the rest is written to "
        "the rejects file with a reason; rows are numbered from 1 after the header.",
    )
    ingest.add_argument("file", help="a .csv (with a header line) or .parquet file")
    ingest.add_argument(
        "--rejects",
        default=None,
        metavar="OUT.csv",
        help="where to write the rejected rows (default: FILE.rejects.csv, when there are any)",
    )
    ingest.add_argument(
        "--chunk-rows",
        type=int,
        default=CHUNK_ROWS,
        metavar="N",
        help=f"rows per transaction (default {CHUNK_ROWS:,})",
    )
    cli_pricing.add_ingest_options(ingest)
    admin = sub.add_parser("admin", help="administrators: create the first one, and more")
    admin_verbs = admin.add_subparsers(dest="verb", required=True)
    create = admin_verbs.add_parser(
        "create",
        parents=[common],
        help="add an administrator who signs in with a password",
        description="Add an administrator. The password is read from the terminal without echo "
        "(twice), or from the first line of standard input with --password-stdin.",
    )
    create.add_argument("email")
    create.add_argument("--name", required=True)
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    notify = sub.add_parser("notify", help="send notifications (email, webhooks)")
    notify_verbs = notify.add_subparsers(dest="verb", required=True)
    run = notify_verbs.add_parser(
        "run",
        parents=[common],
        help="send what is due, and keep sending (a worker beside the app processes)",
        description="The notification dispatcher: sends due email and webhook deliveries every few "
        "seconds, looks for spend spikes and refreshes balance levels; with --once, one round and exit.",
    )
    run.add_argument("--once", action="store_true", help="one round of every pass, then exit")
    cli_admin.admin_parsers(admin_verbs, common)
    cli_admin.add_parsers(sub, common)
    cli_pricing.register(sub, common)  # after cli_admin: `workspace link` joins its verbs
    migrate = sub.add_parser(
        "migrate",
        help="copy a DuckDB ledger into a new PostgreSQL (or DuckDB) ledger, checking everything",
        description="Copy every row of a DuckDB ledger file into an empty ledger (a postgresql:// "
        "URL, usually) in one transaction, then run verify() on both and compare row counts and "
        "balances. Stop the app that holds the file first.",
    )
    migrate.add_argument("--from", dest="source", required=True, metavar="FILE", help="DuckDB ledger file")
    migrate.add_argument(
        "--to", dest="target", required=True, metavar="URL", help="postgresql://user@host:port/db (or a file)"
    )
    cli_backup.add_commands(sub, common)
    return parser


def _instant(text: str) -> datetime:
    try:
        return parse_instant(text)
    except InvalidInput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _migrate(args: argparse.Namespace) -> int:
    from .migrate import copy_ledger
    from .store import is_server_url

    if is_server_url(args.source):
        raise InvalidInput("Migrate from a DuckDB ledger file (--from data/billing.duckdb).")
    if not os.path.exists(args.source):
        raise InvalidInput(f"There is no ledger file {args.source}.")
    with open_ledger(args.source) as source, open_ledger(args.target, create=True) as target:
        report = copy_ledger(source, target, _copy_progress if sys.stderr.isatty() else None)
        print(
            f"Copied {args.source} to {target.path}: {report.wallets} wallets, "
            f"{report.entries:,} entries, {sum(report.rows.values()):,} rows in all; "
            f"verify() passed on both, every table's row count and every balance match "
            f"(total {format_credits(report.total_balance)})."
        )
    return 0


def _copy_progress(table: str, rows: int) -> None:
    print(f"\rcopying {table}: {rows:,} rows\033[K", end="", file=sys.stderr, flush=True)


def _actor(ledger: Ledger, email: str | None) -> User:
    """The user `--as` (else $BILLING_ACTOR) names; the system operator only when neither
    is given at all. An empty or blank one is a mistake (an unset variable in a script,
    say), never a way to become the operator."""
    if email is None:
        email = os.environ.get("BILLING_ACTOR")
    if email is None:
        return ledger.system_user()
    if not email.strip():
        raise InvalidInput(
            "--as (or $BILLING_ACTOR) is empty: give the email of the ledger user to act as, "
            "or leave both out to act as the system operator."
        )
    user = ledger.user_by_email(email)
    if user is None:
        raise InvalidInput(f"There is no user {email} in this ledger.")
    return user


def _run(args: argparse.Namespace) -> int:
    if args.command == "migrate":
        return _migrate(args)
    if args.command in cli_backup.COMMANDS:
        return cli_backup.run(args, _actor)
    path = args.db or default_path()
    if args.command == "seed" and args.if_missing and path != ":memory:" and os.path.exists(path):
        print(f"{path} exists; not seeding.")
        return 0
    with open_ledger(path, create=args.command in ("init", "seed")) as ledger:
        path = ledger.path  # a server's URL without its password
        if args.command == "seed" and args.if_missing and ledger.has_data():
            print(f"{path} already holds a ledger; not seeding.")
            return 0
        if args.command == "init":
            print(f"Ledger ready at {path}.")
            return 0
        if args.command == "seed":
            from .demo import DEMO_PASSWORD, seed_demo

            counts = seed_demo(
                ledger,
                workspaces=args.workspaces,
                months=args.months,
                seed=args.seed,
                until=args.until,
                now=args.now,
            )
            ledger.verify()
            print(
                f"Seeded {path}: {counts['workspaces']} workspaces, {counts['users']} users, "
                f"{counts['entries']:,} transactions, {counts['requests']} credit requests. "
                f"Demo password: {DEMO_PASSWORD}"
            )
            return 0
        if args.command == "verify":
            report = ledger.verify()
            print(
                f"The books balance: {report.wallets} wallets, {report.entries:,} entries, "
                f"{report.postings:,} postings, {report.rollup_rows:,} rollup rows checked."
            )
            return 0
        if args.command == "admin" and args.verb == "create":
            return _admin(ledger, args)
        if args.command == "expire":
            return expire_command(ledger, args)
        if args.command == "notify":
            return _notify(ledger, args)
        actor = _actor(ledger, args.actor)
        runner: cli_admin.Runner | None = getattr(args, "run", None)
        if runner is not None:
            return runner(ledger, actor, args)
        if args.command == "ingest":
            return _ingest(ledger, actor, args)
        if cli_pricing.handles(args):
            return cli_pricing.run(ledger, actor, args)
        workspace = ledger.find_workspace(actor, args.workspace)
        if args.command in GRANT_COMMANDS:
            return grant_command(ledger, actor, workspace, args)
        if args.command == "consume":
            entry = ledger.consume(
                actor,
                workspace.id,
                args.amount,
                feature=args.feature,
                description=args.description,
                idempotency_key=args.idempotency_key,
            )
            wallet = ledger.wallet(actor, workspace.id)
            print(
                f"Debited {format_credits(entry.amount)} from {workspace.name} "
                f"(transaction {entry.id}); balance {format_credits(wallet.balance)}."
            )
            return 0
        if args.command == "balance":
            wallet = ledger.wallet(actor, workspace.id)
            print(f"{workspace.name}: {format_credits(wallet.balance)} ({wallet.status.value})")
            return 0
        if args.command == "history":
            page = ledger.history(actor, workspace.id, limit=args.limit)
            if not page.items:
                print(f"{workspace.name} has no transactions yet.")
            for t in page.items:
                sign = "+" if t.kind == "credit" else "-"
                print(
                    f"{t.created_at:%Y-%m-%d %H:%M} UTC  {t.kind.value:6}  "
                    f"{sign}{format_credits(t.amount, unit=False):>14}  "
                    f"{t.feature or '':16}  {t.description}"
                )
            return 0
    raise AssertionError(args.command)  # pragma: no cover - argparse restricts commands


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidInput("No terminal to ask for the password: pass it with --password-stdin.")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise InvalidInput("The two passwords differ; nothing was changed.")
    return first


def _admin(ledger: Ledger, args: argparse.Namespace) -> int:
    """`billing admin create`: an administrator with a password, by the operator at the
    server (the first one, or any other; `admin promote` makes an existing person one)."""
    password = _read_password(args.password_stdin)
    user = ledger.add_user(args.email, args.name, admin=True, password=password)
    print(f"Administrator {user.email} ({user.name}) created; they can sign in now.")
    return 0


def _notify(ledger: Ledger, args: argparse.Namespace) -> int:
    """`billing notify run [--once]`."""
    dispatcher = ledger.dispatcher()
    if args.once:
        tried = dispatcher.run_once()
        print(f"Tried {tried} deliveries.")
        return 0
    print("Sending notifications; stop with Ctrl+C.", file=sys.stderr)
    dispatcher.run_forever()
    return 0


def _ingest(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    """Post a file chunk by chunk (one transaction each), with a progress bar on stderr."""
    if args.chunk_rows < 1:
        raise InvalidInput("--chunk-rows must be at least 1.")
    mapping = cli_pricing.ingest_mapping(args)
    unit = None if mapping.unit is None else mapping.unit.value
    source = open_event_file(args.file, mapping.columns, priced=unit is not None)
    if args.rejects and os.path.realpath(args.rejects) == os.path.realpath(args.file):
        raise InvalidInput("The rejects file cannot be the file being ingested.")
    bar = _Progress(source.rows or 0, show=(source.rows or 0) > args.chunk_rows)
    rejects = _Rejects(
        args.rejects or f"{args.file}.rejects.csv",
        always=args.rejects is not None,
        given="quantity" if unit else "amount",
    )
    read = posted = skipped = rejected = 0
    total = Decimal(0)
    try:
        for chunk in read_chunks(source, args.chunk_rows):
            result = ledger.consume_many(actor, chunk, unit=unit)
            rejects.write(result.rejected, offset=read)
            read += result.received
            posted += result.posted
            skipped += result.skipped_duplicates
            rejected += result.rejected_count
            total += result.total_posted
            bar.update(read, posted, skipped, rejected)
    except BillingError as error:
        bar.done(complete=False)
        rejects.close()
        if read:
            raise BillingError(
                f"{str(error).rstrip('.')}; stopped there: the first {read:,} rows were ingested "
                f"({posted:,} posted); rows with idempotency keys are safe to ingest again."
            ) from None
        raise
    bar.done(complete=True)
    rejects.close()
    where = f" (see {rejects.path})" if rejected else ""
    print(
        f"Ingested {args.file}: {read:,} rows, {posted:,} posted ({format_credits(total)}), "
        f"{skipped:,} skipped as duplicates, {rejected:,} rejected{where}."
    )
    return 0


class _Progress:
    """A one-line text bar on stderr, redrawn in place on a terminal."""

    WIDTH = 30

    def __init__(self, total: int, *, show: bool) -> None:
        self.total = total
        self.show = show
        self.tty = sys.stderr.isatty()
        self.drawn = False
        self.last = (0, 0, 0, 0)

    def update(self, read: int, posted: int, skipped: int, rejected: int) -> None:
        self.last = (read, posted, skipped, rejected)
        if not self.show:
            return
        total = max(read, self.total)
        share = read / total if total else 1.0
        filled = round(share * self.WIDTH)
        line = (
            f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {share:4.0%} {read:,}/{total:,} rows; "
            f"{posted:,} posted, {skipped:,} skipped, {rejected:,} rejected"
        )
        print("\r" + line if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)
        self.drawn = True

    def done(self, *, complete: bool) -> None:
        """End the bar: at 100% when the whole file was read (the CSV total is an estimate)."""
        if complete and self.drawn and self.total != self.last[0]:
            self.total = self.last[0]
            self.update(*self.last)
        if self.drawn and self.tty:
            print(file=sys.stderr)
        self.drawn = False


class _Rejects:
    """The rejected rows as CSV (row numbers from 1 after the header), opened on first use."""

    def __init__(self, path: str, *, always: bool, given: str = "amount") -> None:
        self.path = path
        self.given = given  # the column the rows gave: amount, or quantity for priced usage
        self._handle: TextIO | None = None
        self._writer: Any = None
        if always:
            self._open()

    def _open(self) -> None:
        try:
            self._handle = open(self.path, "w", newline="", encoding="utf-8")
        except OSError as error:
            raise InvalidInput(f"Cannot write the rejects file {self.path}: {error.strerror}.") from None
        self._writer = csv.writer(self._handle)
        self._writer.writerow(["row", "workspace", self.given, "reason"])

    def write(self, rows: pd.DataFrame, *, offset: int) -> None:
        if rows.empty:
            return
        if self._handle is None:
            self._open()
        numbers = rows["row"] + offset + 1
        self._writer.writerows(zip(numbers, rows["workspace"], rows["amount"], rows["reason"], strict=True))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except BillingError as error:
        print(f"billing: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print("billing: interrupted; nothing more was written.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
