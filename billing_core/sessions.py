"""Signed-in sessions: what keeps a browser signed in across reloads and tabs.

Signing in starts a session: a row in `sessions` and a token (tokens.py) that the
browser keeps in a cookie; the ledger stores only the token's hash. Every page run
hands the token back to `session_user`, which refuses it unless the row exists, the
secret matches (constant time), it was not ended, it is younger than the lifetime and
was used within the idle limit, and its person is still active. Signing out ends the
row, so every tab that holds the same cookie is signed out on its next run.

The last use is written at most once a minute (settings.TOUCH_EVERY). A session that
is found expired is ended there and then (audited as ended by the system); rows are
never deleted, so "where you were signed in" stays answerable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import audit, tokens
from .access import Access
from .audit import AuditAction
from .errors import InvalidInput, NotFound, PermissionDenied, SessionEnded
from .models import NewSession, SessionInfo, User
from .schema import SYSTEM_USER_ID
from .settings import TOUCH_EVERY, Settings
from .store import Database, as_utc
from .text import clean_id

ENDED = "Your session has ended, sign in again."
_NO_DIGEST = tokens.digest("x" * 43)  # compared against when no row matches, to take as long
_ACTIVE = "ended_at IS NULL AND expires_at > ? AND last_seen_at > ?"


def _text(value: object, limit: int) -> str | None:
    """A client address or user agent as recorded: text, at most `limit` characters."""
    if not isinstance(value, str) or "\x00" in value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value.strip()[:limit] or None


def end_user_sessions(
    db: Database, cur: Any, user_id: int, *, at: datetime, reason: str, keep: int | None = None
) -> list[int]:
    """End every open session of `user_id` (but `keep`) inside the caller's transaction;
    the ids ended. The caller audits the change it is part of."""
    rows = cur.execute(
        "SELECT id FROM sessions WHERE user_id = ? AND ended_at IS NULL AND id <> ? ORDER BY id",
        [user_id, -1 if keep is None else keep],
    ).fetchall()
    ended = [int(r[0]) for r in rows]
    if ended:
        cur.execute(
            "UPDATE sessions SET ended_at = ?, end_reason = ? "
            "WHERE id IN (SELECT unnest(?::BIGINT[])) AND ended_at IS NULL",
            [at, reason, ended],
        )
    return ended


class Sessions:
    """Starting, checking, listing and ending signed-in sessions."""

    def __init__(self, db: Database, access: Access, settings: Settings) -> None:
        self.db = db
        self.access = access
        self.settings = settings

    def start_session(
        self, user: User, *, client: str | None = None, user_agent: str | None = None
    ) -> NewSession:
        """A new session for `user`, who has just proved who they are (`authenticate`,
        `user_for_sso`). The token is in the result only."""
        with self.db.writing() as cur:
            known = self.access.actor(user)
            if known.id == SYSTEM_USER_ID:
                raise InvalidInput("The system account does not sign in to the console.")
            session_id = self.db.next_id("sessions")
            token, hashed = tokens.new_token(session_id)
            at = self.db.clock()
            expires = at + self.settings.session_lifetime
            origin, agent = _text(client, 100), _text(user_agent, 400)
            cur.execute(
                """
                INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, expires_at,
                                      client, user_agent)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [session_id, known.id, hashed, at, at, expires, origin, agent],
            )
            audit.record(
                self.db, cur, at=at, actor_id=known.id, action=AuditAction.SESSION_START,
                subject=f"session:{session_id}", workspace_id=None, before=None,
                after={"user_id": known.id, "client": origin, "expires_at": expires.isoformat()},
            )
        return NewSession(id=session_id, user=known, token=token, expires_at=as_utc(expires))

    def _why_over(self, row: tuple[Any, ...], now: datetime) -> str | None:
        """Why the session (user_id, hash, last_seen_at, expires_at, ended_at) is over, if it is."""
        if row[4] is not None:
            return "ended"
        if now >= row[3]:
            return "expired"
        if now - row[2] >= self.settings.session_idle:
            return "idle"
        user = self.access.directory().users.get(int(row[0]))
        if user is None or not user.active:
            return "deactivated"
        return None

    def session_user(self, token: object, *, client: str | None = None) -> User:
        """The person a session token belongs to, as the ledger knows them now; anything
        else (a forged, ended, expired or idle token) is SessionEnded."""
        parsed = tokens.parse(token)
        session_id, secret = parsed if parsed is not None else (0, "")
        now = self.db.clock()
        with self.db.reading() as cur:
            row = cur.execute(
                "SELECT user_id, token_hash, last_seen_at, expires_at, ended_at FROM sessions WHERE id = ?",
                [session_id],
            ).fetchone()
        genuine = tokens.matches(row[1] if row else _NO_DIGEST, secret)
        if row is None or parsed is None or not genuine:
            raise SessionEnded(ENDED)
        why = self._why_over(row, now)
        if why is not None:
            if why != "ended":
                self._end(session_id, why, by=SYSTEM_USER_ID)
            raise SessionEnded(ENDED)
        if now - row[2] >= TOUCH_EVERY:
            with self.db.writing() as cur:
                cur.execute(
                    "UPDATE sessions SET last_seen_at = ? "
                    "WHERE id = ? AND ended_at IS NULL AND last_seen_at < ?",
                    [now, session_id, now],
                )
        return self.access.directory().users[int(row[0])]

    def end_session(self, token: object) -> None:
        """Sign out: end the session this token belongs to (nothing, for any other token)."""
        parsed = tokens.parse(token)
        if parsed is None:
            return
        with self.db.reading() as cur:
            row = cur.execute(
                "SELECT user_id, token_hash FROM sessions WHERE id = ? AND ended_at IS NULL", [parsed[0]]
            ).fetchone()
        if row is not None and tokens.matches(row[1], parsed[1]):
            self._end(parsed[0], "signed out", by=int(row[0]))

    def _end(self, session_id: int, reason: str, *, by: int) -> bool:
        """End one session (if still open), audited as done by `by`."""
        with self.db.writing() as cur:
            rows = self.db.select_for_update(
                cur, "SELECT user_id FROM sessions WHERE id = ? AND ended_at IS NULL", [session_id]
            )
            if not rows:
                return False
            at = self.db.clock()
            cur.execute(
                "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ?", [at, reason, session_id]
            )
            audit.record(
                self.db, cur, at=at, actor_id=by, action=AuditAction.SESSION_END,
                subject=f"session:{session_id}", workspace_id=None, before={"open": True},
                after={"open": False, "reason": reason, "user_id": int(rows[0][0])},
            )
        return True

    def _whose(self, actor: User, user_id: int | None, doing: str) -> tuple[User, int]:
        """(the actor, whose sessions): their own, or, for an administrator, anyone's."""
        user = self.access.actor(actor)
        if user_id is None or user_id == user.id:
            return user, user.id
        clean_id(user_id, what="user")
        if not user.is_admin:
            raise PermissionDenied(f"Only an administrator can {doing} of another person.")
        if user_id not in self.access.directory().users or user_id == SYSTEM_USER_ID:
            raise NotFound(f"There is no user with id {user_id}.")
        return user, user_id

    def sessions(self, actor: User, *, user_id: int | None = None) -> list[SessionInfo]:
        """The open sessions of the actor (or, for an administrator, of `user_id`), the
        most recently used first: "where you are signed in"."""
        _, whose = self._whose(actor, user_id, "see the sessions")
        now = self.db.clock()
        with self.db.reading() as cur:
            rows = cur.execute(
                f"""
                SELECT s.id, s.user_id, u.name, s.created_at, s.last_seen_at, s.expires_at,
                       s.client, s.user_agent
                FROM sessions s JOIN users u ON u.id = s.user_id
                WHERE s.user_id = ? AND {_ACTIVE}
                ORDER BY s.last_seen_at DESC, s.id DESC
                """,
                [whose, now, now - self.settings.session_idle],
            ).fetchall()
        return [
            SessionInfo(
                id=int(r[0]), user_id=int(r[1]), user_name=r[2], created_at=as_utc(r[3]),
                last_seen_at=as_utc(r[4]), expires_at=as_utc(r[5]), client=r[6], user_agent=r[7],
            )
            for r in rows
        ]

    def end_session_by_id(self, actor: User, session_id: int) -> None:
        """End one session by its id: one of the actor's own, or anyone's for an administrator."""
        clean_id(session_id, what="session")
        user = self.access.actor(actor)
        with self.db.reading() as cur:
            row = cur.execute("SELECT user_id, ended_at FROM sessions WHERE id = ?", [session_id]).fetchone()
        if row is None or (int(row[0]) != user.id and not user.is_admin):
            if row is not None:
                raise PermissionDenied("Only an administrator can end another person's session.")
            raise NotFound(f"There is no session {session_id}.")
        reason = "ended by its owner" if int(row[0]) == user.id else "ended by an administrator"
        if row[1] is not None or not self._end(session_id, reason, by=user.id):
            raise NotFound(f"Session {session_id} has already ended.")

    def end_all_sessions(self, actor: User, *, user_id: int | None = None) -> int:
        """Sign out everywhere: end every open session of the actor (or, for an
        administrator, of `user_id`); how many were ended."""
        user, whose = self._whose(actor, user_id, "end the sessions")
        with self.db.writing() as cur:
            at = self.db.clock()
            ended = end_user_sessions(self.db, cur, whose, at=at, reason="signed out everywhere")
            if ended:
                audit.record(
                    self.db, cur, at=at, actor_id=user.id, action=AuditAction.SESSION_END,
                    subject=f"user:{whose}", workspace_id=None, before={"open_sessions": ended},
                    after={"open_sessions": [], "reason": "signed out everywhere"},
                )
        return len(ended)
