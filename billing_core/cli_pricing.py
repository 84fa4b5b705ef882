"""`billing prices set|list`, `billing workspace link`, and the options of `billing ingest`
for other systems' exports (`--columns`, `--preset`, `--unit`). Registered from cli.py."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from .errors import InvalidInput
from .ingest.mapping import PRESETS, ColumnMap, mapping_for
from .ledger import Ledger
from .models import User
from .pricing import ANY_FEATURE, Unit

UNITS = ", ".join(u.value for u in Unit)


def add_ingest_options(ingest: argparse.ArgumentParser) -> None:
    ingest.add_argument(
        "--columns",
        default=None,
        metavar="LEDGER=FILE,...",
        help="the file's own column for each event column, e.g. "
        "workspace=team_id,occurred_at=startTime,feature=model,idempotency_key=request_id,quantity=spend",
    )
    ingest.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="a known export's columns and unit: litellm (a LiteLLM spend log, spend in USD)",
    )
    ingest.add_argument(
        "--unit",
        default=None,
        help=f"the quantity column's unit ({UNITS}): each row is priced by the rate card "
        "at its occurred_at instead of carrying an amount in credits",
    )


def ingest_mapping(args: argparse.Namespace) -> ColumnMap:
    return mapping_for(args.columns, args.preset, args.unit)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `prices` and `workspace link` to the top-level subcommands `sub`."""
    prices = sub.add_parser("prices", help="the rate card: prices per feature and unit")
    verbs = prices.add_subparsers(dest="verb", required=True)
    set_price = verbs.add_parser(
        "set",
        parents=[common],
        help="add a price (administrators); earlier prices are kept",
        description="From --from on (default now), FEATURE costs CREDITS_PER_UNIT per UNIT. FEATURE "
        f"{ANY_FEATURE} prices every feature without its own price. Units: {UNITS}.",
    )
    set_price.add_argument("feature")
    set_price.add_argument("unit")
    set_price.add_argument("credits_per_unit")
    set_price.add_argument(
        "--from", dest="effective_from", type=date.fromisoformat, default=None, metavar="DATE",
        help="first day (UTC) the price applies, YYYY-MM-DD (default: now)",
    )
    verbs.add_parser("list", parents=[common], help="the rate card with its history")
    _workspace_verbs(sub).add_parser(
        "link",
        parents=[common],
        help="give a workspace the id another system knows it by (ingest matches it)",
    ).add_argument("workspace", help="workspace id or name")
    link = _workspace_verbs(sub).choices["link"]
    link.add_argument("--external-id", required=True, metavar="ID", help="e.g. a LiteLLM team_id")


def _workspace_verbs(sub: Any) -> Any:
    """The verbs of `billing workspace`, made here unless another module made them."""
    parser = sub.choices.get("workspace")
    if parser is None:
        parser = sub.add_parser("workspace", help="workspaces")
        return parser.add_subparsers(dest="verb", required=True)
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def handles(args: argparse.Namespace) -> bool:
    return bool(args.command == "prices" or (args.command == "workspace" and args.verb == "link"))


def run(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    if args.command == "workspace":
        workspace = ledger.find_workspace(actor, args.workspace)
        linked = ledger.link_workspace(actor, workspace.id, args.external_id)
        print(f"{workspace.name} is now external id {linked}: ingest matches it by that id too.")
        return 0
    if args.verb == "set":
        price = ledger.set_price(
            actor, args.feature, args.unit, args.credits_per_unit, effective_from=args.effective_from
        )
        print(
            f"{price.feature}: {price.credits_per_unit.normalize():f} credits per {price.unit.value} "
            f"from {price.effective_from:%Y-%m-%d %H:%M} UTC (price {price.id})."
        )
        return 0
    if args.verb == "list":
        card = ledger.prices(actor)
        if not card:
            print(f"The rate card is empty: add a price with billing prices set. Units: {UNITS}.")
        now = ledger.now()
        current = {p.id for p in ledger.prices(actor, at=now)}
        for p in card:
            state = "in effect" if p.id in current else ("scheduled" if p.effective_from > now else "")
            print(
                f"{p.feature:24} {p.unit.value:10} {p.credits_per_unit.normalize():>16f}  "
                f"from {p.effective_from:%Y-%m-%d %H:%M} UTC  {state}".rstrip()
            )
        return 0
    raise InvalidInput(f"Unknown prices command {args.verb}.")  # pragma: no cover - argparse
