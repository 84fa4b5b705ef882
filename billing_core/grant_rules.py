"""The rules of a grant's terms: when it may expire, what priority it may have, and the
calendar month a monthly limit counts in."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from .errors import InvalidInput

MAX_PRIORITY = 1_000


def check_expiry(expires_at: object, now: datetime) -> datetime | None:
    """`expires_at` as naive UTC (an aware time is converted; a naive one is UTC), or None
    for a grant that never expires; it must be after `now` (the ledger's clock)."""
    if expires_at is None:
        return None
    if isinstance(expires_at, date) and not isinstance(expires_at, datetime):
        raise InvalidInput("Give the expiry as a date and time (a datetime), not a day.")
    if not isinstance(expires_at, datetime):
        raise InvalidInput("The expiry must be a date and time.")
    moment = expires_at.astimezone(UTC).replace(tzinfo=None) if expires_at.tzinfo else expires_at
    if moment <= now:
        raise InvalidInput("The expiry must be in the future: credits cannot be granted already expired.")
    return moment


def check_priority(priority: object) -> int | None:
    """A grant's priority (lower is drawn first): a whole number from 0 to 1,000, or None
    for the kind's default."""
    if priority is None:
        return None
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
        raise InvalidInput(
            f"A grant's priority is a whole number from 0 to {MAX_PRIORITY:,} (lower is used first)."
        )
    return priority


def month_of(moment: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) `moment` falls in: its first instant and the next month's."""
    first = datetime.combine(moment.date().replace(day=1), time())
    following = first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(
        month=first.month + 1
    )
    return first, following
