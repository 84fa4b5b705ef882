"""`billing`: the ledger from the command line.

Every user mistake ends in one readable line on stderr and a non-zero exit,
never a traceback. Commands act as the built-in system operator unless
`--as EMAIL` (or $BILLING_ACTOR) names a ledger user.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date

from .errors import BillingError, InvalidInput
from .ledger import Ledger, open_ledger
from .models import User
from .money import format_credits
from .store import default_path

EXIT_USAGE = 2
EXIT_REFUSED = 1


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
    return parser


def _actor(ledger: Ledger, email: str | None) -> User:
    email = email or os.environ.get("BILLING_ACTOR")
    if not email:
        return ledger.system_user()
    user = ledger.user_by_email(email)
    if user is None:
        raise InvalidInput(f"There is no user {email} in this ledger.")
    return user


def _run(args: argparse.Namespace) -> int:
    path = args.db or default_path()
    if args.command == "seed" and args.if_missing and path != ":memory:" and os.path.exists(path):
        print(f"{path} exists; not seeding.")
        return 0
    with open_ledger(path) as ledger:
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
        actor = _actor(ledger, args.actor)
        workspace = ledger.find_workspace(actor, args.workspace)
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
                sign = "-" if t.kind == "debit" else "+"
                print(
                    f"{t.created_at:%Y-%m-%d %H:%M} UTC  {t.kind.value:6}  "
                    f"{sign}{format_credits(t.amount, unit=False):>14}  "
                    f"{t.feature or '':16}  {t.description}"
                )
            return 0
    raise AssertionError(args.command)  # pragma: no cover - argparse restricts commands


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
