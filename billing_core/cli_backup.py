"""The `billing` verbs that keep the books safe: backup, restore, recover, export.

    billing backup --to DIR                    (asks the running app when it holds the file)
    billing restore --from BACKUP --to PATH    (a new file only)
    billing recover                            (accept a ledger its high-water check refused)
    billing export --to DIR [--since DATE] [--csv]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import date
from typing import Any

from .errors import InvalidInput, LedgerInUse
from .ledger import Ledger, open_ledger
from .models import User
from .store import default_path

COMMANDS = ("backup", "restore", "recover", "export")
ActorOf = Callable[[Ledger, str | None], User]


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    backup = sub.add_parser(
        "backup",
        parents=[common],
        help="back the ledger up into a new folder in DIR, verified (also while the app runs)",
        description="Copy a consistent snapshot of the ledger into a new folder in DIR "
        "(billing-<time>-e<last entry id>/ledger.duckdb and manifest.json), verify() it and "
        "compare it with the ledger. When the billing app holds the ledger file, it is asked "
        "to take the backup (through the ledger's folder) and this waits for its answer.",
    )
    backup.add_argument("--to", required=True, metavar="DIR", help="the folder to put the backup in")
    restore = sub.add_parser(
        "restore",
        parents=[common],
        help="restore a backup into a new ledger file, verified",
        description="Check the backup against its manifest, copy it into the new file PATH, "
        "verify() it and say what it holds, and, when the high-water mark of the ledger it "
        "came from is still there, exactly which acknowledged transactions it lacks. An "
        "existing file is never written over.",
    )
    restore.add_argument("--from", dest="source", required=True, metavar="BACKUP",
                         help="the backup's folder (or its manifest.json)")
    restore.add_argument("--to", dest="target", required=True, metavar="PATH", help="a new ledger file")
    sub.add_parser(
        "recover",
        parents=[common],
        help="accept a ledger that its high-water check refused, as it is (audited)",
        description="When opening refused the ledger because acknowledged transactions are "
        "missing or its high-water mark is missing or damaged, and no backup is to be restored: "
        "accept the ledger as it is. Ids are never reused; the acceptance is in the audit log.",
    )
    export = sub.add_parser(
        "export",
        parents=[common],
        help="write the journal, wallets, requests and audit log as Parquet (and CSV) for analysts",
        description="Write journal, wallets, requests and audit_log from one snapshot into DIR as "
        "Parquet files (with --csv, CSV files too) and export.json; see README, Backups.",
    )
    export.add_argument("--to", required=True, metavar="DIR")
    export.add_argument("--since", type=_day, default=None, metavar="DATE",
                        help="only entries, audit records and requests from this day on (YYYY-MM-DD)")
    export.add_argument("--csv", action="store_true", help="also write each table as CSV")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day such as 2026-11-01") from None


def run(args: argparse.Namespace, actor_of: ActorOf) -> int:
    path = args.db or default_path()
    if args.command == "restore":
        from .recovery import restore

        for line in restore(args.source, args.target, actor_email=_email(args)).lines():
            print(line)
        return 0
    if args.command == "recover":
        from .recovery import recover

        for line in recover(path, actor_email=_email(args)).lines():
            print(line)
        return 0
    if args.command == "backup":
        return _backup(path, args, actor_of)
    with open_ledger(path) as ledger:
        from .analyst_export import export_tables

        exported = export_tables(
            ledger, actor_of(ledger, args.actor), args.to, since=args.since,
            formats=("parquet", "csv") if args.csv else ("parquet",),
        )
        print(exported.summary())
    return 0


def _backup(path: str, args: argparse.Namespace, actor_of: ActorOf) -> int:
    from .backup import take_backup
    from .backup_schedule import ask_app

    try:
        ledger = open_ledger(path)
    except LedgerInUse as refusal:
        print(ask_app(path, args.to, email=_email(args), refusal=refusal))
        return 0
    with ledger:
        manifest = take_backup(ledger, actor_of(ledger, args.actor), args.to)
        print(f"Backed up into {manifest.folder}: {manifest.summary()}.")
    return 0


def _email(args: argparse.Namespace) -> str | None:
    """The --as email ($BILLING_ACTOR), checked by the ledger that acts on it."""
    email: str | None = args.actor if args.actor is not None else os.environ.get("BILLING_ACTOR")
    if email is not None and not email.strip():
        raise InvalidInput(
            "--as (or $BILLING_ACTOR) is empty: give the email of the ledger user to act as, "
            "or leave both out to act as the system operator."
        )
    return email
