"""`billing expire`, `billing grants` and `billing policy`: grants and credit policies
from the command line (see cli.py for the common options). `billing grant` (with
--kind, --priority and --expires) is cli_admin's: above the grant limit it becomes a
request for a second administrator."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from .ledger import Ledger
from .models import CreditPolicy, GrantKind, User, Workspace
from .money import format_credits

GRANT_COMMANDS = ("grants", "policy")


def add_grant_commands(sub: Any, common: argparse.ArgumentParser, instant: Callable[[str], datetime]) -> None:
    """The commands' parsers; `instant` parses an ISO 8601 time."""
    _instant = instant
    expire = sub.add_parser(
        "expire", parents=[common], help="expire the grants whose expiry has come",
        description="Expire every grant whose expiry has come: what is left of it leaves its wallet "
        "as an expiry entry dated at the expiry. Safe to run at any time, late, twice, or in several "
        "processes at once: each grant expires exactly once.",
    )
    expire.add_argument("--now", type=_instant, default=None, metavar="TIME",
                        help="expire what is due by this instant, ISO 8601 (default: the ledger's clock)")

    grants = sub.add_parser("grants", parents=[common], help="list a wallet's grants in draw-down order")
    grants.add_argument("workspace", help="workspace id or name")
    grants.add_argument("--all", action="store_true", help="also the used-up and expired ones")

    policy = sub.add_parser(
        "policy", parents=[common], help="show or set a workspace's standing approval and automatic top-up",
        description="Without options, show the policy. With any option, replace it (administrators): "
        "options left out are cleared. A standing approval approves each request up to "
        "--approve-up-to, while this month's approvals by it stay within --approve-per-month. An "
        "automatic top-up files a request for --top-up-amount when a debit leaves the balance below "
        "--top-up-below, at most --top-ups-per-month times a month.",
    )
    policy.add_argument("workspace", help="workspace id or name")
    for name in ("approve-up-to", "approve-per-month", "top-up-below", "top-up-amount"):
        policy.add_argument(f"--{name}", default=None, metavar="CREDITS")
    policy.add_argument("--top-ups-per-month", default=None, metavar="N")
    policy.add_argument("--grant-kind", choices=[k.value for k in GrantKind], default=None,
                        help="what approvals grant (default: purchased)")
    policy.add_argument("--grant-days", default=None, metavar="DAYS",
                        help="approved credits expire this many days later (default: never)")


def expire_command(ledger: Ledger, args: argparse.Namespace) -> int:
    expired = ledger.expire_due(args.now)
    total = sum((t.amount for t in expired), Decimal(0))
    print(f"Expired {len(expired)} grant{'s' if len(expired) != 1 else ''}"
          + (f": {format_credits(total)} left their wallets." if expired else "; none was due."))
    return 0


def grant_command(ledger: Ledger, actor: User, workspace: Workspace, args: argparse.Namespace) -> int:
    """`billing grants` and `billing policy`."""
    if args.command == "grants":
        held = ledger.grants(actor, workspace.id, include_spent=args.all)
        if not held:
            print(f"{workspace.name} holds no grants.")
        for g in held:
            ends = f"{g.expires_at:%Y-%m-%d %H:%M} UTC" if g.expires_at else "never"
            state = " (expired)" if g.expired else ""
            left, of = (format_credits(v, unit=False) for v in (g.remaining, g.amount))
            print(f"#{g.id:<6} {g.kind.value:11}  priority {g.priority:>4}  {left:>14} of {of:>14}"
                  f"  expires {ends}{state}  {g.source}")
        return 0
    settings = {
        "approve_up_to": args.approve_up_to, "approve_per_month": args.approve_per_month,
        "top_up_below": args.top_up_below, "top_up_amount": args.top_up_amount,
        "top_ups_per_month": args.top_ups_per_month, "grant_days": args.grant_days,
    }
    if any(v is not None for v in settings.values()) or args.grant_kind is not None:
        rules = ledger.set_credit_policy(actor, workspace.id, **settings,
                                         grant_kind=args.grant_kind or GrantKind.PURCHASED.value)
    else:
        rules = ledger.credit_policy(actor, workspace.id)
    print(describe_policy(workspace.name, rules))
    return 0


def describe_policy(name: str, policy: CreditPolicy) -> str:
    lines = [f"{name}:"]
    if policy.approve_up_to is not None and policy.approve_per_month is not None:
        lines.append(f"  standing approval: requests up to {format_credits(policy.approve_up_to)} each, "
                     f"{format_credits(policy.approve_per_month)} a month")
    else:
        lines.append("  standing approval: none (every request waits for an administrator)")
    if policy.top_up_below is not None and policy.top_up_amount is not None:
        lines.append(f"  automatic top-up: below {format_credits(policy.top_up_below)}, ask for "
                     f"{format_credits(policy.top_up_amount)}, at most {policy.top_ups_per_month} a month")
    else:
        lines.append("  automatic top-up: none")
    ends = f"expiring after {policy.grant_days} days" if policy.grant_days else "never expiring"
    lines.append(f"  approvals grant {policy.grant_kind.value} credits, {ends}")
    return "\n".join(lines)
