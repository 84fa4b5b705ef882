"""The draw-down order, as pure functions over a wallet's live grants.

A debit draws from a wallet's grants in one fixed, documented order: the lowest priority
first (promotional credits default to 10, purchased to 20), then the soonest expiry
(grants that never expire last), then the oldest (grants are numbered as they are made).
One debit may draw from several grants; each piece is recorded, so every debit can be
traced to the credits that paid for it. The journal decides the pieces here, the
expiry forecast simulates spend with the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from .models import GrantKind


@dataclass(frozen=True, slots=True)
class LiveGrant:
    """What a write needs of a grant with credits left in it."""

    id: int
    kind: GrantKind
    priority: int
    remaining: Decimal
    expires_at: datetime | None

    @property
    def order(self) -> tuple[int, bool, datetime, int]:
        """The draw-down order: priority, soonest expiry (never last), oldest."""
        return (self.priority, self.expires_at is None, self.expires_at or datetime.min, self.id)


Piece = tuple[int, Decimal]  # (grant id, amount drawn from it)


def in_order(grants: Iterable[LiveGrant]) -> tuple[LiveGrant, ...]:
    return tuple(sorted(grants, key=lambda g: g.order))


def draw(
    grants: Sequence[LiveGrant], amount: Decimal, *, first: int | None = None
) -> tuple[tuple[LiveGrant, ...], list[Piece]]:
    """Draw `amount` from `grants` (in draw order): (the grants still live after it, the
    pieces in draw order). `first`: a grant drawn from before the order (a correction
    taking back a credit starts with the grant that credit made), if it is still live.
    The caller has checked that the grants hold enough."""
    pieces: list[Piece] = []
    left = amount
    kept: list[LiveGrant] = []
    ahead = [g for g in grants if g.id == first]
    for grant in [*ahead, *(g for g in grants if g.id != first)]:
        if left <= 0:
            kept.append(grant)
            continue
        take = min(left, grant.remaining)
        pieces.append((grant.id, take))
        left -= take
        if grant.remaining > take:
            kept.append(replace(grant, remaining=grant.remaining - take))
    if left > 0:
        raise AssertionError(f"the grants hold {amount - left} of a debit of {amount}")
    return in_order(kept) if ahead else tuple(kept), pieces


def add(grants: Sequence[LiveGrant], grant: LiveGrant) -> tuple[LiveGrant, ...]:
    """`grants` with a new one in its place in the draw order."""
    return in_order([*grants, grant])


def due(grants: Iterable[LiveGrant], now: datetime) -> list[LiveGrant]:
    """The grants whose expiry has come (at or before `now`), in time order."""
    return sorted(
        (g for g in grants if g.expires_at is not None and g.expires_at <= now),
        key=lambda g: (g.expires_at, g.id),
    )
