"""How many credits will expire unused if spend goes on at the recent burn rate: a pure
simulation of the draw-down order over the time ahead.

Spend is taken as continuous at `per_day`. Between two expiries it drains the live
grants in draw-down order (priority, soonest expiry, oldest); at a grant's expiry
whatever is left of it is lost. Grants that never expire lose nothing. The answer is
exact for that model: the same as simulating day by day with infinitely short days.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from .drawdown import LiveGrant, draw, in_order
from .models import ExpiringCredits, ExpiryForecast
from .money import QUANTUM, ZERO

_DAY = Decimal(86_400)


def _spend(per_day: Decimal, start: datetime, end: datetime) -> Decimal:
    seconds = Decimal((end - start) // timedelta(microseconds=1)) / Decimal(1_000_000)
    return (per_day * seconds / _DAY).quantize(QUANTUM)


def expiry_forecast(
    workspace_id: int, grants: Sequence[LiveGrant], per_day: Decimal, now: datetime
) -> ExpiryForecast:
    """What of `grants` (a wallet's live grants) will expire unused at `per_day` from `now`."""
    live = list(in_order(g for g in grants if g.remaining > 0))
    expiring = sorted((g for g in live if g.expires_at is not None), key=lambda g: (g.expires_at, g.id))
    lost: list[ExpiringCredits] = []
    at = now
    for ending in expiring:
        assert ending.expires_at is not None
        if ending.expires_at > at and per_day > 0:
            budget = _spend(per_day, at, ending.expires_at)
            available = sum((g.remaining for g in live), ZERO)
            live = list(draw(live, min(budget, available))[0])
            at = ending.expires_at
        left = next((g for g in live if g.id == ending.id), None)
        if left is not None:
            live.remove(left)
            lost.append(ExpiringCredits(ending.id, ending.kind, ending.expires_at, ending.remaining,
                                        left.remaining))
        if not live:
            break
    unused = sum((g.unused for g in lost), ZERO)
    first = next((g.expires_at for g in lost if g.unused > 0), None)
    return ExpiryForecast(workspace_id, per_day, unused, first, [g for g in lost if g.unused > 0])
