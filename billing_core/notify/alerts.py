"""Balance alerts and spend spikes.

Each workspace has low-balance levels: by default 20% of its last top-up and 7 days
of runway at its 30-day burn rate; an administrator can change the share, the days
and add fixed amounts (several levels each). The levels' amounts are worked out now
and then (after a credit, when the settings change, and by the dispatcher's periodic
pass, as the burn rate moves) and kept in `balance_thresholds`, so a debit batch reads
them with the wallets it locks and compares each wallet's balance before and after:
crossing a level downwards fires `balance.low` once (the alert stays active), crossing
it upwards resolves it once; reaching zero fires `balance.zero`. No repeat while the
balance stays below: only a crossing fires.

`spend.spike`: a workspace's spend over the last hour or day more than N times (3 by
default) its trailing average, reported once per hour or day, naming the feature and
the member who drove it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ..errors import InvalidInput
from ..money import QUANTUM, format_credits, parse_amount, to_decimal
from ..store import Database
from .events import Event, emit

BURN_DAYS = 30
Level = tuple[str, Decimal]  # (what it is, e.g. "7 days of runway"; the amount)


@dataclass(frozen=True, slots=True)
class ThresholdSettings:
    """A workspace's low-balance levels: a share of its last top-up (None: off), days of
    runway at its burn rate, fixed amounts; and the spike factor."""

    top_up_share: Decimal | None = Decimal("0.2")
    runway_days: tuple[int, ...] = (7,)
    amounts: tuple[Decimal, ...] = ()
    spike_factor: Decimal = Decimal(3)

    def to_json(self) -> str:
        return json.dumps(
            {
                "top_up_share": None if self.top_up_share is None else str(self.top_up_share),
                "runway_days": list(self.runway_days),
                "amounts": [str(a) for a in self.amounts],
                "spike_factor": str(self.spike_factor),
            }
        )

    @classmethod
    def from_json(cls, text: str | None) -> ThresholdSettings:
        if not text:
            return cls()
        raw = json.loads(text)
        share = raw.get("top_up_share")
        return cls(
            top_up_share=None if share is None else Decimal(share),
            runway_days=tuple(int(d) for d in raw.get("runway_days", ())),
            amounts=tuple(Decimal(a) for a in raw.get("amounts", ())),
            spike_factor=Decimal(raw.get("spike_factor", "3")),
        )


def clean_settings(
    current: ThresholdSettings,
    *,
    top_up_share: object = ...,
    runway_days: object = ...,
    amounts: object = ...,
    spike_factor: object = ...,
) -> ThresholdSettings:
    """`current` with the given changes, each checked (InvalidInput, nothing changed)."""
    changed = current
    if top_up_share is not ...:
        if top_up_share is None:
            changed = replace(changed, top_up_share=None)
        else:
            share = _decimal(top_up_share, "The share of the last top-up")
            if not Decimal(0) < share < Decimal(1):
                raise InvalidInput("The share of the last top-up is a number between 0 and 1, such as 0.2.")
            changed = replace(changed, top_up_share=share)
    if runway_days is not ...:
        days = tuple(runway_days) if isinstance(runway_days, list | tuple) else (runway_days,)
        if not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 365 for d in days):
            raise InvalidInput("Days of runway are whole numbers from 1 to 365.")
        if len(days) > 5:
            raise InvalidInput("Give at most five runway levels.")
        changed = replace(changed, runway_days=tuple(sorted(set(days))))
    if amounts is not ...:
        values = tuple(amounts) if isinstance(amounts, list | tuple) else (amounts,)
        if len(values) > 5:
            raise InvalidInput("Give at most five fixed levels.")
        changed = replace(changed, amounts=tuple(sorted({parse_amount(a) for a in values})))
    if spike_factor is not ...:
        factor = _decimal(spike_factor, "The spike factor")
        if not Decimal("1.5") <= factor <= Decimal(100):
            raise InvalidInput(
                "The spike factor is a number from 1.5 to 100 (3 means three times the usual)."
            )
        changed = replace(changed, spike_factor=factor)
    return changed


def _decimal(value: object, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise InvalidInput(f"{what} must be a number, given as text or a Decimal.")
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise InvalidInput(f"{what} must be a number.") from None
    if not number.is_finite():
        raise InvalidInput(f"{what} must be a number.")
    return number


# ------------------------------------------------------------------------ levels
def compute_levels(cur: Any, workspace_id: int, settings: ThresholdSettings, today: date) -> list[Level]:
    """The amounts the settings mean for the workspace today."""
    levels: list[Level] = []
    if settings.top_up_share is not None:
        last = cur.execute(
            "SELECT amount FROM entries WHERE workspace_id = ? AND kind = 'credit' ORDER BY id DESC LIMIT 1",
            [workspace_id],
        ).fetchall()
        if last:
            share = f"{settings.top_up_share * 100:.0f}%"
            levels.append(
                (
                    f"{share} of the last top-up",
                    (to_decimal(last[0][0]) * settings.top_up_share).quantize(QUANTUM),
                )
            )
    if settings.runway_days:
        spent = cur.execute(
            """
            SELECT coalesce(sum(debits), 0) FROM daily_rollups
            WHERE workspace_id = ? AND feature IS NULL AND day > ? AND day <= ?
            """,
            [workspace_id, today - timedelta(days=BURN_DAYS), today],
        ).fetchall()
        per_day = to_decimal(spent[0][0] if spent else 0) / BURN_DAYS
        for days in settings.runway_days:
            if per_day > 0:
                levels.append((f"{days} days of runway", (per_day * days).quantize(QUANTUM)))
    levels += [(f"below {format_credits(a)}", a) for a in settings.amounts]
    return [(label, amount) for label, amount in levels if amount > 0]


def refresh_levels(
    db: Database,
    cur: Any,
    workspace_ids: Sequence[int],
    at: datetime,
    settings: Mapping[int, ThresholdSettings] | None = None,
) -> None:
    """Work the levels out again for these workspaces (inside a write transaction), from
    their stored settings or the new ones given in `settings` (stored with the levels)."""
    if not workspace_ids:
        return
    given = settings or {}
    stored = dict(
        cur.execute(
            "SELECT workspace_id, settings FROM balance_thresholds "
            "WHERE workspace_id IN (SELECT unnest(?::BIGINT[]))",
            [list(workspace_ids)],
        ).fetchall()
    )
    for workspace_id in workspace_ids:
        chosen = given.get(workspace_id)
        if chosen is None:
            chosen = ThresholdSettings.from_json(stored.get(workspace_id))
        levels = compute_levels(cur, workspace_id, chosen, at.date())
        # one statement, not a delete and an insert: two writers refreshing the same
        # workspace at once (the dispatcher and an approval, on a server) would both
        # insert after deleting nothing, and the second would break the primary key
        cur.execute(
            "INSERT INTO balance_thresholds (workspace_id, settings, levels, refreshed_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (workspace_id) DO UPDATE SET "
            "settings = excluded.settings, levels = excluded.levels, refreshed_at = excluded.refreshed_at",
            [workspace_id, chosen.to_json(), levels_to_json(levels), at],
        )


def levels_to_json(levels: Sequence[Level]) -> str:
    return json.dumps([[label, str(amount)] for label, amount in levels])


def levels_from_json(text: str | None) -> tuple[Level, ...]:
    return tuple((str(label), Decimal(amount)) for label, amount in json.loads(text)) if text else ()


# ---------------------------------------------------------------------- crossings
@dataclass(frozen=True, slots=True)
class BalanceChange:
    """A wallet's balance before and after a batch of movements, and its levels then."""

    workspace_id: int
    before: Decimal
    after: Decimal
    levels: tuple[Level, ...] = ()
    credited: bool = False
    names: Mapping[str, str] = field(default_factory=dict)


def after_movements(db: Database, cur: Any, changes: Sequence[BalanceChange], at: datetime) -> None:
    """Fire and resolve the alerts these balance changes cross (inside their transaction).
    Every result is read in full (fetchall): another journal write may follow in the same
    transaction, and DuckDB cannot register its batch over a result left open."""
    credited = [c.workspace_id for c in changes if c.credited]
    for change in changes:
        low, high = sorted((change.before, change.after))
        zero = change.before > 0 >= change.after
        crossed = [(label, amount) for label, amount in change.levels if low < amount <= high]
        if not zero and not crossed:
            continue  # the common case: nothing to say, and nothing read
        name = _workspace_name(cur, change.workspace_id)
        if zero:
            emit(
                db,
                cur,
                Event.BALANCE_ZERO,
                at=at,
                workspace_id=change.workspace_id,
                text=f"{name} has run out of en-credits: features that use credits are blocked "
                "until the wallet is topped up.",
                details={"workspace": name, "balance": str(change.after)},
            )
        for label, amount in crossed:
            if change.after < change.before:  # fell through the level
                _fire(db, cur, change, name, label, amount, at)
            else:  # rose back above it
                _resolve(db, cur, change, name, label, amount, at)
    refresh_levels(db, cur, credited, at)  # the last top-up moved: so did its share


def _fire(
    db: Database, cur: Any, change: BalanceChange, name: str, label: str, amount: Decimal, at: datetime
) -> None:
    if cur.execute(
        "SELECT 1 FROM active_alerts WHERE workspace_id = ? AND label = ?", [change.workspace_id, label]
    ).fetchall():
        return  # already alerted (the level moved under a balance that had crossed it before)
    event_id = emit(
        db,
        cur,
        Event.BALANCE_LOW,
        at=at,
        workspace_id=change.workspace_id,
        text=f"{name} is low on en-credits: {format_credits(change.after)} left, below its level "
        f"of {format_credits(amount)} ({label}).",
        details={"workspace": name, "balance": str(change.after), "level": label, "amount": str(amount)},
    )
    cur.execute(
        "INSERT INTO active_alerts (workspace_id, label, since, event_id) VALUES (?, ?, ?, ?)",
        [change.workspace_id, label, at, event_id],
    )


def _resolve(
    db: Database, cur: Any, change: BalanceChange, name: str, label: str, amount: Decimal, at: datetime
) -> None:
    if not cur.execute(
        "SELECT 1 FROM active_alerts WHERE workspace_id = ? AND label = ?", [change.workspace_id, label]
    ).fetchall():
        return
    cur.execute(
        "DELETE FROM active_alerts WHERE workspace_id = ? AND label = ?", [change.workspace_id, label]
    )
    emit(
        db,
        cur,
        Event.BALANCE_RESOLVED,
        at=at,
        workspace_id=change.workspace_id,
        text=f"{name} is back above its level of {format_credits(amount)} ({label}): "
        f"{format_credits(change.after)} available.",
        details={"workspace": name, "balance": str(change.after), "level": label, "amount": str(amount)},
    )


def _workspace_name(cur: Any, workspace_id: int) -> str:
    rows = cur.execute("SELECT name FROM workspaces WHERE id = ?", [workspace_id]).fetchall()
    return str(rows[0][0]) if rows else f"Workspace {workspace_id}"


# ------------------------------------------------------------------------- spikes
_SPIKE_WINDOWS = {
    "hour": (timedelta(hours=1), timedelta(days=7)),
    "day": (timedelta(days=1), timedelta(days=30)),
}
_MIN_SPIKE = Decimal(1)  # a spike under one credit is noise, whatever the ratio


def detect_spikes(db: Database, now: datetime) -> int:
    """Report each workspace whose spend over the last hour (or day) is more than its spike
    factor times its trailing average per hour (over 7 days) or per day (over 30 days).
    Each window is reported once. Returns how many spikes were reported."""
    reported = 0
    with db.writing() as cur:
        settings = dict(cur.execute("SELECT workspace_id, settings FROM balance_thresholds").fetchall())
        for span, (width, trailing) in _SPIKE_WINDOWS.items():
            start = _window_start(now, span)
            rows = cur.execute(
                """
                WITH recent AS (
                    SELECT workspace_id, sum(amount) AS spent FROM entries
                    WHERE kind = 'debit' AND created_at >= ? AND created_at < ? GROUP BY workspace_id
                ),
                usual AS (
                    SELECT workspace_id, sum(amount) AS spent FROM entries
                    WHERE kind = 'debit' AND created_at >= ? AND created_at < ? GROUP BY workspace_id
                )
                SELECT r.workspace_id, r.spent, coalesce(u.spent, 0) FROM recent r
                LEFT JOIN usual u ON u.workspace_id = r.workspace_id
                WHERE NOT EXISTS (SELECT 1 FROM reported_spikes s WHERE s.workspace_id = r.workspace_id
                                  AND s.span = ? AND s.window_start = ?)
                ORDER BY r.workspace_id
                """,
                [now - width, now, now - width - trailing, now - width, span, start],
            ).fetchall()
            periods = Decimal(trailing // width)
            for workspace_id, spent, usual in rows:
                spent, average = to_decimal(spent), to_decimal(usual) / periods
                factor = ThresholdSettings.from_json(settings.get(workspace_id)).spike_factor
                if spent < _MIN_SPIKE or spent <= factor * average:
                    continue
                _report_spike(db, cur, int(workspace_id), span, start, now - width, now, spent, average)
                reported += 1
    return reported


def _window_start(now: datetime, span: str) -> datetime:
    return (
        now.replace(minute=0, second=0, microsecond=0)
        if span == "hour"
        else datetime.combine(now.date(), datetime.min.time())
    )


def _report_spike(
    db: Database,
    cur: Any,
    workspace_id: int,
    span: str,
    start: datetime,
    since: datetime,
    now: datetime,
    spent: Decimal,
    average: Decimal,
) -> None:
    feature, person = cur.execute(
        """
        SELECT (SELECT feature FROM entries WHERE workspace_id = ? AND kind = 'debit' AND created_at >= ?
                GROUP BY feature ORDER BY sum(amount) DESC, feature LIMIT 1),
               (SELECT u.name FROM entries e JOIN users u ON u.id = e.actor_id
                WHERE e.workspace_id = ? AND e.kind = 'debit' AND e.created_at >= ?
                GROUP BY u.id, u.name ORDER BY sum(e.amount) DESC, u.name LIMIT 1)
        """,
        [workspace_id, since, workspace_id, since],
    ).fetchone()
    name = _workspace_name(cur, workspace_id)
    usual = "nothing" if average <= 0 else f"{format_credits(average.quantize(QUANTUM))} per {span}"
    event_id = emit(
        db,
        cur,
        Event.SPEND_SPIKE,
        at=now,
        workspace_id=workspace_id,
        text=f"{name} spent {format_credits(spent)} in the last {span} against a usual {usual}, mostly "
        f"on {feature or 'unknown features'} by {person or 'unknown people'}.",
        details={
            "workspace": name,
            "span": span,
            "spent": str(spent),
            "usual": str(average.quantize(QUANTUM)),
            "feature": feature,
            "member": person,
        },
    )
    cur.execute(
        "INSERT INTO reported_spikes (workspace_id, window_start, span, event_id) VALUES (?, ?, ?, ?)",
        [workspace_id, start, span, event_id],
    )
