"""People, as administrators manage them: invite, deactivate and reactivate, make or
revoke administrator, reset a password; and everyone's own password.

Every change is one transaction with one audit row (before and after) naming the
administrator who made it. Rules: only administrators manage people; nobody
deactivates themselves; the last active administrator can be neither demoted nor
deactivated (the active administrators' rows are locked while this is decided, so two
administrators demoting each other at once cannot both succeed). Deactivating a person,
resetting their password or their setting a new one ends their sessions at once.
"""

from __future__ import annotations

from typing import Any

from . import audit
from .access import Access
from .audit import AuditAction
from .directory import USER_COLUMNS, WORKSPACE_COLUMNS, directory_write, insert_user, user_from_row
from .directory import workspace_from_row as _workspace
from .errors import AuthenticationFailed, InvalidInput, NotFound
from .links import issue_link, link_url, open_link
from .mail import send_link
from .models import Invitation, LinkInfo, LinkPurpose, PasswordLink, Person, User, Workspace
from .passwords import hash_password, password_matches
from .schema import SYSTEM_USER_ID
from .sessions import end_user_sessions
from .settings import Settings
from .store import Database, as_utc
from .text import MAX_NAME, clean_email, clean_id, clean_name


class People:
    def __init__(self, db: Database, access: Access, settings: Settings) -> None:
        self.db = db
        self.access = access
        self.settings = settings

    # ------------------------------------------------------------------ reads
    def people(self, actor: User) -> list[Person]:
        """Everyone (not the system account), by name, with how they sign in and their
        workspaces; administrators only."""
        with self.db.reading() as cur:
            self.access.admin(actor, "list people")
            rows = cur.execute(
                f"""
                SELECT {USER_COLUMNS}, sso_only, password_hash IS NOT NULL,
                       (SELECT max(l.expires_at) FROM password_links l
                        WHERE l.user_id = users.id AND l.purpose = 'invite' AND l.used_at IS NULL
                          AND l.expires_at > ?)
                FROM users WHERE id <> ? ORDER BY lower(name), id
                """,
                [self.db.clock(), SYSTEM_USER_ID],
            ).fetchall()
            members = cur.execute(
                "SELECT user_id, workspace_id FROM memberships ORDER BY workspace_id"
            ).fetchall()
        spaces: dict[int, list[int]] = {}
        for user_id, workspace_id in members:
            spaces.setdefault(int(user_id), []).append(int(workspace_id))
        return [
            Person(
                user=user_from_row(r), sso_only=bool(r[6]), has_password=bool(r[7]),
                invited_until=as_utc(r[8]), workspace_ids=tuple(spaces.get(int(r[0]), ())),
            )
            for r in rows
        ]

    def person_workspaces(self, actor: User, user_id: int) -> list[Workspace]:
        """The workspaces a person belongs to (archived ones too); administrators, or the
        person themselves."""
        clean_id(user_id, what="user")
        user = self.access.actor(actor)
        if user.id != user_id:
            self.access.admin(user, "see another person's workspaces")
        with self.db.reading() as cur:
            rows = cur.execute(
                f"""
                SELECT {WORKSPACE_COLUMNS} FROM workspaces
                WHERE id IN (SELECT workspace_id FROM memberships WHERE user_id = ?)
                ORDER BY name_key
                """,
                [user_id],
            ).fetchall()
        return [_workspace(r) for r in rows]

    # ---------------------------------------------------------------- helpers
    def _target(self, cur: Any, user_id: object) -> tuple[User, bool]:
        """The person `user_id` (locked until the transaction ends) and whether they sign
        in through single sign-on only."""
        clean_id(user_id, what="user")
        if user_id == SYSTEM_USER_ID:
            raise NotFound(f"There is no user with id {user_id}.")
        rows = self.db.select_for_update(
            cur, f"SELECT {USER_COLUMNS}, sso_only FROM users WHERE id = ?", [user_id]
        )
        if not rows:
            raise NotFound(f"There is no user with id {user_id}.")
        return user_from_row(rows[0]), bool(rows[0][6])

    def _keep_an_admin(self, cur: Any, leaving: User, doing: str) -> None:
        """Refuse when `leaving` is the last active administrator (rows locked: decided once)."""
        admins = self.db.select_for_update(
            cur,
            "SELECT id FROM users WHERE is_admin AND deactivated_at IS NULL AND id <> ? ORDER BY id",
            [SYSTEM_USER_ID],
        )
        if [int(r[0]) for r in admins] == [leaving.id]:
            raise InvalidInput(
                f"{leaving.name} is the last active administrator, so they cannot be {doing}: "
                "make someone else an administrator first."
            )

    def _record(self, cur: Any, by: User, action: AuditAction, user: User, before: Any, after: Any) -> None:
        audit.record(
            self.db, cur, at=self.db.clock(), actor_id=by.id, action=action, subject=f"user:{user.id}",
            workspace_id=None, before=before, after=after,
        )

    def _link(
        self, user: User, purpose: LinkPurpose, token: str, expires: Any, base_url: str | None
    ) -> PasswordLink:
        """The link as handed back, emailed first when a mail server is configured."""
        url = link_url(base_url or self.settings.app_url, token)
        emailed = False
        if url is not None and self.settings.mail is not None:
            emailed = send_link(
                self.settings.mail, to=user.email, name=user.name, url=url, purpose=purpose,
                expires_at=expires,
            )
        return PasswordLink(user=user, purpose=purpose, token=token, expires_at=as_utc(expires), url=url,
                            emailed=emailed)

    # ---------------------------------------------------------------- changes
    def invite_user(
        self,
        actor: User,
        email: str,
        name: str,
        *,
        admin: bool = False,
        sso_only: bool = False,
        base_url: str | None = None,
    ) -> Invitation:
        """Add a person who sets their own password through a one-time link (returned to
        pass on, and emailed when mail is configured); an `sso_only` person signs in
        through the identity provider and gets no link."""
        clean = clean_email(email)
        display = clean_name(name, what="name", limit=MAX_NAME)
        with directory_write(self.db) as cur:
            by = self.access.admin(actor, "invite people")
            user = insert_user(
                self.db, cur, by=by.id, email=clean, name=display, admin=admin, password_hash=None,
                sso_only=sso_only,
            )
            issued = None
            if not sso_only:
                link_id, token, expires = issue_link(
                    self.db, cur, user_id=user.id, purpose=LinkPurpose.INVITE, by=by.id,
                    settings=self.settings,
                )
                self._record(cur, by, AuditAction.PASSWORD_LINK, user, None,
                             {"link": link_id, "purpose": "invite", "expires_at": expires.isoformat()})
                issued = (token, expires)
        link = None if issued is None else self._link(user, LinkPurpose.INVITE, *issued, base_url)
        return Invitation(user=user, link=link)

    def deactivate_user(self, actor: User, user_id: int) -> User:
        """They can no longer sign in or act; their sessions end at once. Their history,
        memberships and requests stay."""
        with directory_write(self.db) as cur:
            by = self.access.admin(actor, "deactivate people")
            user, _ = self._target(cur, user_id)
            if user.id == by.id:
                raise InvalidInput("You cannot deactivate yourself; another administrator can.")
            if not user.active:
                raise InvalidInput(f"{user.name} is already deactivated.")
            if user.is_admin:
                self._keep_an_admin(cur, user, "deactivated")
            at = self.db.clock()
            cur.execute("UPDATE users SET deactivated_at = ? WHERE id = ?", [at, user.id])
            ended = end_user_sessions(self.db, cur, user.id, at=at, reason="deactivated")
            self._record(cur, by, AuditAction.USER_DEACTIVATE, user, {"active": True},
                         {"active": False, "sessions_ended": len(ended)})
        return User(user.id, user.email, user.name, user.is_admin, user.created_at, active=False)

    def reactivate_user(self, actor: User, user_id: int) -> User:
        with directory_write(self.db) as cur:
            by = self.access.admin(actor, "reactivate people")
            user, _ = self._target(cur, user_id)
            if user.active:
                raise InvalidInput(f"{user.name} is already active.")
            cur.execute("UPDATE users SET deactivated_at = NULL WHERE id = ?", [user.id])
            self._record(cur, by, AuditAction.USER_REACTIVATE, user, {"active": False}, {"active": True})
        return User(user.id, user.email, user.name, user.is_admin, user.created_at, active=True)

    def promote_admin(self, actor: User, user_id: int) -> User:
        return self._set_admin(actor, user_id, True)

    def demote_admin(self, actor: User, user_id: int) -> User:
        return self._set_admin(actor, user_id, False)

    def _set_admin(self, actor: User, user_id: int, admin: bool) -> User:
        with directory_write(self.db) as cur:
            by = self.access.admin(actor, "make or revoke administrators")
            user, _ = self._target(cur, user_id)
            if user.is_admin == admin:
                state = "already an administrator" if admin else "not an administrator"
                raise InvalidInput(f"{user.name} is {state}.")
            if not admin and user.active:
                self._keep_an_admin(cur, user, "removed as an administrator")
            cur.execute("UPDATE users SET is_admin = ? WHERE id = ?", [admin, user.id])
            action = AuditAction.USER_PROMOTE if admin else AuditAction.USER_DEMOTE
            self._record(cur, by, action, user, {"admin": not admin}, {"admin": admin})
        return User(user.id, user.email, user.name, admin, user.created_at, active=user.active)

    def reset_link(self, actor: User, user_id: int, *, base_url: str | None = None) -> PasswordLink:
        """Reset a person's password: the old one stops working, their sessions end, and a
        one-time link (returned to pass on, emailed when mail is configured) sets a new one."""
        with self.db.writing() as cur:
            by = self.access.admin(actor, "reset passwords")
            user, sso_only = self._target(cur, user_id)
            if sso_only:
                raise InvalidInput(f"{user.name} signs in through single sign-on only and has no password.")
            if not user.active:
                raise InvalidInput(f"{user.name} is deactivated: reactivate them first.")
            at = self.db.clock()
            cur.execute("UPDATE users SET password_hash = NULL WHERE id = ?", [user.id])
            ended = end_user_sessions(self.db, cur, user.id, at=at, reason="password reset")
            link_id, token, expires = issue_link(
                self.db, cur, user_id=user.id, purpose=LinkPurpose.RESET, by=by.id, settings=self.settings
            )
            self._record(cur, by, AuditAction.PASSWORD_LINK, user, None,
                         {"link": link_id, "purpose": "reset", "expires_at": expires.isoformat(),
                          "sessions_ended": len(ended)})
        return self._link(user, LinkPurpose.RESET, token, expires, base_url)

    def password_link_info(self, token: object) -> LinkInfo:
        """Whose link this is and what for (the set-password page's heading)."""
        with self.db.reading() as cur:
            _, user_id, purpose, expires = open_link(self.db, cur, token, lock=False)
            row = cur.execute("SELECT name, email FROM users WHERE id = ?", [user_id]).fetchone()
        assert row is not None
        return LinkInfo(user_name=row[0], email=row[1], purpose=purpose, expires_at=as_utc(expires))

    def set_password_with_link(self, token: object, password: str) -> User:
        """Use a one-time link: set the password (it ends any session the person had)."""
        hashed = hash_password(password)  # outside the transaction: argon2 takes a while
        with self.db.writing() as cur:
            link_id, user_id, purpose, _ = open_link(self.db, cur, token, lock=True)
            user, _ = self._target(cur, user_id)
            if not user.active:
                raise AuthenticationFailed("This account has been deactivated. Ask an administrator.")
            at = self.db.clock()
            cur.execute("UPDATE password_links SET used_at = ? WHERE id = ?", [at, link_id])
            cur.execute(
                "UPDATE users SET password_hash = ?, sso_only = FALSE WHERE id = ?", [hashed, user.id]
            )
            ended = end_user_sessions(self.db, cur, user.id, at=at, reason="password set")
            self._record(cur, user, AuditAction.PASSWORD_SET, user, None,
                         {"link": link_id, "purpose": purpose.value, "sessions_ended": len(ended)})
        return user

    def change_password(
        self, actor: User, current: str, new: str, *, keep_session: int | None = None
    ) -> int:
        """Change one's own password (the current one is asked for); every other session
        of theirs ends (`keep_session`, the one in use, stays). How many ended."""
        hashed = hash_password(new)
        user = self.access.actor(actor)
        with self.db.reading() as cur:
            row = cur.execute("SELECT password_hash FROM users WHERE id = ?", [user.id]).fetchone()
        if not password_matches(row[0] if row else None, current if isinstance(current, str) else ""):
            raise AuthenticationFailed("Your current password is not the one you typed. Nothing was changed.")
        with self.db.writing() as cur:
            self._target(cur, user.id)
            at = self.db.clock()
            cur.execute("UPDATE users SET password_hash = ? WHERE id = ?", [hashed, user.id])
            ended = end_user_sessions(
                self.db, cur, user.id, at=at, reason="password changed", keep=keep_session
            )
            self._record(cur, user, AuditAction.PASSWORD_CHANGE, user, None, {"sessions_ended": len(ended)})
        return len(ended)
