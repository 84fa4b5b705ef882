"""Other systems' exports: which of a file's columns are the ledger's event columns
(`billing ingest FILE --columns workspace=team_id,...`), and presets for known formats."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InvalidInput
from ..pricing import Unit, parse_unit
from .events import KEY_COLUMN, PRICED_COLUMNS, REQUIRED_COLUMNS

LEDGER_COLUMNS = (*REQUIRED_COLUMNS, "workspace_id", "quantity", KEY_COLUMN)


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """ledger column -> the file's column, and the unit its quantities are in (None: amounts
    in credits, as the ledger's own format)."""

    columns: tuple[tuple[str, str], ...]
    unit: Unit | None


# LiteLLM's spend logs: `spend` is what the call cost in USD (8 decimals); a team is a workspace.
LITELLM = ColumnMap(
    (
        ("workspace", "team_id"),
        ("occurred_at", "startTime"),
        ("feature", "model"),
        ("idempotency_key", "request_id"),
        ("quantity", "spend"),
    ),
    Unit.USD,
)
PRESETS: Mapping[str, ColumnMap] = {"litellm": LITELLM}


def parse_columns(text: str) -> tuple[tuple[str, str], ...]:
    """`workspace=team_id,occurred_at=startTime` as ((ledger, file), ...)."""
    pairs: list[tuple[str, str]] = []
    for part in text.split(","):
        ledger, sep, column = (p.strip() for p in part.partition("="))
        if not sep or not ledger or not column:
            raise InvalidInput(f"--columns takes LEDGER=FILE pairs separated by commas; {part!r} is not one.")
        if ledger not in LEDGER_COLUMNS:
            raise InvalidInput(f"{ledger} is not an event column; map any of {', '.join(LEDGER_COLUMNS)}.")
        if ledger in dict(pairs):
            raise InvalidInput(f"--columns maps {ledger} twice.")
        pairs.append((ledger, column))
    return tuple(pairs)


def mapping_for(columns: str | None, preset: str | None, unit: str | None) -> ColumnMap:
    """What `--columns`, `--preset` and `--unit` ask for (a preset, then columns over it)."""
    base = ColumnMap((), None)
    if preset is not None:
        if preset not in PRESETS:
            raise InvalidInput(f"There is no preset {preset}; presets: {', '.join(PRESETS)}.")
        base = PRESETS[preset]
    pairs = dict(base.columns) | dict(parse_columns(columns) if columns else ())
    kind = parse_unit(unit) if unit is not None else base.unit
    if "quantity" in pairs and kind is None:
        raise InvalidInput("A quantity column needs --unit (request, token, 1k_tokens, image, second, usd).")
    return ColumnMap(tuple(pairs.items()), kind)


def required_columns(unit: Unit | None) -> tuple[str, ...]:
    return PRICED_COLUMNS if unit is not None else REQUIRED_COLUMNS
