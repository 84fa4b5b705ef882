"""The ledger's clock: what "now" is for every timestamp it writes and every relative
time the app shows.

Time is naive UTC inside the ledger. The clock is injected (`open_ledger(clock=...)`) so
tests, the demo and a served app under test can pin "now" to a fixed instant and never
depend on the wall clock or the time of day. `$BILLING_CLOCK` (an ISO 8601 instant, such
as `2026-11-27T18:00:00Z`) pins the clock of every ledger opened without an explicit one:
the test suite uses it for the app it serves; never set it in production.
`$BILLING_CLOCK_FILE` (tests only, ahead of `$BILLING_CLOCK`) names a file holding such an
instant, read again at every call, so a browser test moves a served app's clock by
rewriting it (to let a session go idle, or a grant expire).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

from .errors import InvalidInput

Clock = Callable[[], datetime]
CLOCK_VARIABLE = "BILLING_CLOCK"
CLOCK_FILE_VARIABLE = "BILLING_CLOCK_FILE"


def utc_now() -> datetime:
    """The current time as a naive UTC datetime (how the ledger stores time)."""
    return datetime.now(UTC).replace(tzinfo=None)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant as naive UTC; a time without a zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO 8601 time such as 2026-11-27T18:00:00Z.") from None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class FixedClock:
    """A clock that says what it is told: `clock.now` is the instant, settable."""

    def __init__(self, now: datetime) -> None:
        self.now = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now

    def __call__(self) -> datetime:
        return self.now


class FileClock:
    """A clock that says what a file says, read at every call (tests move it by rewriting
    the file). Only for tests: `$BILLING_CLOCK_FILE`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self()  # a missing or unreadable file fails at once, not at the first write

    def __call__(self) -> datetime:
        with open(self.path, encoding="utf-8") as handle:
            return parse_instant(handle.read())


def clock_from_env() -> Clock:
    """A FileClock at `$BILLING_CLOCK_FILE` when it is set, else a FixedClock at
    `$BILLING_CLOCK` when that is, else the system's UTC clock."""
    moving = os.environ.get(CLOCK_FILE_VARIABLE)
    if moving:
        return FileClock(moving)
    pinned = os.environ.get(CLOCK_VARIABLE)
    return FixedClock(parse_instant(pinned)) if pinned else utc_now
