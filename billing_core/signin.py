"""Signing in: email and password against argon2 hashes, slowed down, never locked out.

One neutral message for a wrong password and an unknown email. Failed attempts are
counted within `WINDOW`, after the email's last successful sign-in:

- per email and client (the browser's address): after `FREE_FAILURES` failures, each
  further try from that client must wait `BASE_DELAY`, doubling with each failure up to
  `MAX_DELAY`, since its last failure. Tries during the wait are refused unchecked and
  not counted, so hammering does not extend it; and an attacker elsewhere cannot lock
  the owner out, because their failures slow only their own client;
- per client, whatever the email: `CLIENT_MAX_FAILURES` failures stop that client
  until the oldest ages out (guessing across many emails);
- per email, from every client together: past `ACCOUNT_MAX_FAILURES` (a distributed
  attack), every client waits `MAX_DELAY` after the last failure.

Failed attempts older than the window are pruned as new ones are recorded, so guesses
at unknown emails do not pile up; successful sign-ins are kept.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .errors import AccountDeactivated, AccountLocked, AuthenticationFailed, ClientThrottled
from .models import User
from .passwords import password_matches
from .schema import SYSTEM_USER_ID
from .store import Database, as_utc
from .text import is_encodable

WINDOW = timedelta(minutes=15)
FREE_FAILURES = 5  # per email and client before the slowdown starts
MAX_FAILURES = FREE_FAILURES  # (the name older callers know)
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=5)
CLIENT_MAX_FAILURES = 20
ACCOUNT_MAX_FAILURES = 100
_NEUTRAL = "That email and password do not match an account."
DEACTIVATED = "This account has been deactivated. Ask an administrator to reactivate it."

# Clients' own stripes, always taken after the email's (the store's mutex): no deadlock.
_CLIENT_LOCKS = tuple(threading.Lock() for _ in range(64))


def _client(value: object) -> str:
    """The client's address as given (st.context.ip_address), or "" when unknown."""
    if not isinstance(value, str) or not is_encodable(value) or "\x00" in value:
        return ""
    return value.strip()[:100]


@dataclass(frozen=True, slots=True)
class _Failures:
    pair: int  # this email from this client
    pair_last: datetime | None
    account: int  # this email from every client
    account_last: datetime | None
    client: int  # this client, every email
    client_oldest: datetime | None


def _wait_text(wait: timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def slowdown(failures: int) -> timedelta:
    """How long a client waits after its last failure, once it has had `failures`."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    doubled: timedelta = BASE_DELAY * 2 ** min(failures - FREE_FAILURES, 16)
    return min(MAX_DELAY, doubled)


class SignIn:
    """Email and password sign-in, and the identity provider's emails."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def authenticate(self, email: str, password: str, *, client: str | None = None) -> User:
        """The user these credentials belong to; `client` is the browser's address (the
        app passes st.context.ip_address), which the slowdown is counted against."""
        # text no account can hold (a NUL, a lone surrogate) is an unknown email
        usable = isinstance(email, str) and is_encodable(email) and "\x00" not in email
        key = email.strip().lower()[:200] if usable else ""
        secret = password if isinstance(password, str) and is_encodable(password) else ""
        origin = _client(client)
        # Count, check and record one attempt per email (in every process) and per client
        # (in this one) at a time, so parallel guesses get no more tries than the slowdown
        # allows. The hash is checked outside any write transaction, which debits wait on.
        with self.db.mutex("sign-in:" + key), _CLIENT_LOCKS[hash(origin) % len(_CLIENT_LOCKS)]:
            now = self.db.clock()
            with self.db.reading() as cur:
                user, refusal = self._judge(cur, key, secret, origin, now)
            if refusal is None or type(refusal) is AuthenticationFailed:
                with self.db.writing() as cur:
                    self._record(cur, key, origin, now, refusal is None)
        if refusal is not None:
            raise refusal
        assert user is not None
        return user

    @staticmethod
    def _record(cur: Any, key: str, origin: str, at: datetime, ok: bool) -> None:
        cur.execute(
            "INSERT INTO sign_in_attempts (email, client, attempted_at, succeeded) VALUES (?, ?, ?, ?)",
            [key, origin, at, ok],
        )
        cur.execute(
            "DELETE FROM sign_in_attempts WHERE NOT succeeded AND attempted_at <= ?", [at - WINDOW]
        )

    @staticmethod
    def _failures(cur: Any, key: str, origin: str, now: datetime) -> _Failures:
        last_ok = cur.execute(
            "SELECT max(attempted_at) FROM sign_in_attempts WHERE email = ? AND succeeded", [key]
        ).fetchone()
        since = max(now - WINDOW, last_ok[0]) if last_ok and last_ok[0] else now - WINDOW
        row = cur.execute(
            """
            SELECT count(*) FILTER (WHERE email = ? AND client = ? AND attempted_at > ?),
                   max(attempted_at) FILTER (WHERE email = ? AND client = ? AND attempted_at > ?),
                   count(*) FILTER (WHERE email = ? AND attempted_at > ?),
                   max(attempted_at) FILTER (WHERE email = ? AND attempted_at > ?),
                   count(*) FILTER (WHERE client = ? AND ? <> ''),
                   min(attempted_at) FILTER (WHERE client = ? AND ? <> '')
            FROM sign_in_attempts
            WHERE NOT succeeded AND attempted_at > ? AND (email = ? OR client = ?)
            """,
            [key, origin, since, key, origin, since, key, since, key, since,
             origin, origin, origin, origin, now - WINDOW, key, origin],
        ).fetchone()
        pair, pair_last, account, account_last, client, client_oldest = row or (0, None, 0, None, 0, None)
        return _Failures(int(pair), pair_last, int(account), account_last, int(client), client_oldest)

    @classmethod
    def _judge(
        cls, cur: Any, key: str, secret: str, origin: str, now: datetime
    ) -> tuple[User | None, AuthenticationFailed | None]:
        """(the user, None) when the password matches; else (None, why not)."""
        failures = cls._failures(cur, key, origin, now)
        if failures.client >= CLIENT_MAX_FAILURES and failures.client_oldest is not None:
            wait = failures.client_oldest + WINDOW - now
            return None, ClientThrottled(
                f"Too many failed sign-ins from your network. Try again in {_wait_text(wait)}."
            )
        waits = [timedelta(0)]
        if failures.pair_last is not None:
            waits.append(slowdown(failures.pair) - (now - failures.pair_last))
        if failures.account >= ACCOUNT_MAX_FAILURES and failures.account_last is not None:
            waits.append(MAX_DELAY - (now - failures.account_last))
        wait = max(waits)
        if wait > timedelta(0):
            return None, AccountLocked(
                f"Too many failed sign-ins for this email. Wait {_wait_text(wait)} and try again."
            )
        row = cur.execute(
            """
            SELECT id, email, name, is_admin, created_at, password_hash, deactivated_at IS NULL
            FROM users WHERE email = ? AND id <> ?
            """,
            [key, SYSTEM_USER_ID],
        ).fetchone()
        ok = bool(key) and password_matches(row[5] if row else None, secret)
        if not ok or row is None:
            return None, AuthenticationFailed(_NEUTRAL)
        if not row[6]:  # the right password: saying so tells its owner nothing new
            return None, AccountDeactivated(DEACTIVATED)
        return User(id=row[0], email=row[1], name=row[2], is_admin=row[3], created_at=as_utc(row[4])), None

    def user_for_sso(self, email: str) -> User:
        """The ledger user for an email vouched for by the identity provider."""
        if not isinstance(email, str) or not is_encodable(email) or "\x00" in email:
            raise AuthenticationFailed("The identity provider sent an email address that is not valid.")
        key = email.strip().lower()
        with self.db.reading() as cur:
            row = cur.execute(
                "SELECT id, email, name, is_admin, created_at, deactivated_at IS NULL "
                "FROM users WHERE email = ? AND id <> ?",
                [key, SYSTEM_USER_ID],
            ).fetchone()
        if row is None:
            raise AuthenticationFailed(
                f"{email} has no account in this billing console. Ask an administrator to add you."
            )
        if not row[5]:
            raise AccountDeactivated(DEACTIVATED)
        return User(id=row[0], email=row[1], name=row[2], is_admin=row[3], created_at=as_utc(row[4]))
