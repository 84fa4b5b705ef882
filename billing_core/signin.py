"""Signing in: email and password against argon2 hashes, with a lockout.

One neutral message for a wrong password and an unknown email. After
`MAX_FAILURES` failures for one email within `WINDOW`, that email is locked
until the oldest of those failures ages out, whatever the password.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from .errors import AccountLocked, AuthenticationFailed
from .models import User
from .passwords import password_matches
from .schema import SYSTEM_USER_ID
from .store import Database, as_utc
from .text import is_encodable

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
_NEUTRAL = "That email and password do not match an account."
_LOCKS = tuple(threading.Lock() for _ in range(64))  # striped: bounded, whatever is typed


@contextmanager
def _email_lock(key: str) -> Iterator[None]:
    with _LOCKS[hash(key) % len(_LOCKS)]:
        yield


class SignInOps:
    db: Database

    def authenticate(self, email: str, password: str) -> User:
        # text no account can hold (a NUL, a lone surrogate) is an unknown email
        usable = isinstance(email, str) and is_encodable(email) and "\x00" not in email
        key = email.strip().lower()[:200] if usable else ""
        secret = password if isinstance(password, str) and is_encodable(password) else ""
        # Count, check and record one attempt per email at a time, so parallel guesses
        # get no more tries than the lockout allows.
        with _email_lock(key):
            return self._attempt(key, secret)

    def _attempt(self, key: str, secret: str) -> User:
        now = self.db.clock()
        if self.db.lock_rows:
            # Several processes may check one email at once: hold the account's row while
            # counting, checking and recording (an unknown email has no account to guess).
            with self.db.writing() as cur:
                cur.execute("SELECT id FROM users WHERE email = ?" + self.db.lock_rows, [key]).fetchall()
                user, refusal = self._judge(cur, key, secret, now)
                if not isinstance(refusal, AccountLocked):
                    self._record(cur, key, now, refusal is None)
        else:
            # One process: the email's lock above serialises; the hash is checked outside
            # the write lock, which every debit waits on.
            with self.db.reading() as cur:
                user, refusal = self._judge(cur, key, secret, now)
            if not isinstance(refusal, AccountLocked):
                with self.db.writing() as cur:
                    self._record(cur, key, now, refusal is None)
        if refusal is not None:
            raise refusal
        assert user is not None
        return user

    @staticmethod
    def _record(cur: Any, key: str, at: datetime, ok: bool) -> None:
        cur.execute(
            "INSERT INTO sign_in_attempts (email, attempted_at, succeeded) VALUES (?, ?, ?)",
            [key, at, ok],
        )

    @staticmethod
    def _judge(
        cur: Any, key: str, secret: str, now: datetime
    ) -> tuple[User | None, AuthenticationFailed | None]:
        """(the user, None) when the password matches; else (None, why not)."""
        failures = cur.execute(
            """
            SELECT count(*), min(attempted_at) FROM sign_in_attempts
            WHERE email = ? AND NOT succeeded AND attempted_at > ?
            """,
            [key, now - WINDOW],
        ).fetchone()
        row = cur.execute(
            """
            SELECT id, email, name, is_admin, created_at, password_hash
            FROM users WHERE email = ? AND id <> ?
            """,
            [key, SYSTEM_USER_ID],
        ).fetchone()
        count, oldest = failures or (0, None)
        if count >= MAX_FAILURES and isinstance(oldest, datetime):
            wait = max(1, math.ceil(((oldest + WINDOW) - now).total_seconds() / 60))
            return None, AccountLocked(
                f"Too many failed sign-ins for this email. Try again in {wait} minutes."
            )
        ok = bool(key) and password_matches(row[5] if row else None, secret)
        if not ok or row is None:
            return None, AuthenticationFailed(_NEUTRAL)
        return User(id=row[0], email=row[1], name=row[2], is_admin=row[3], created_at=as_utc(row[4])), None

    def user_for_sso(self, email: str) -> User:
        """The ledger user for an email vouched for by the identity provider."""
        if not isinstance(email, str) or not is_encodable(email) or "\x00" in email:
            raise AuthenticationFailed("The identity provider sent an email address that is not valid.")
        key = email.strip().lower()
        with self.db.reading() as cur:
            row = cur.execute(
                "SELECT id, email, name, is_admin, created_at FROM users WHERE email = ? AND id <> ?",
                [key, SYSTEM_USER_ID],
            ).fetchone()
        if row is None:
            raise AuthenticationFailed(
                f"{email} has no account in this billing console. Ask an administrator to add you."
            )
        return User(id=row[0], email=row[1], name=row[2], is_admin=row[3], created_at=as_utc(row[4]))
