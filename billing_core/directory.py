"""People and workspaces: users, workspaces, memberships (set-up and reads).

The set-up calls here (`add_user`, `create_workspace`, `add_member`) act as the system
operator: set-up scripts, the demo and tests. What an administrator does in the console
or the CLI goes through people.py and workspace_admin.py, with access checked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from . import audit
from .access import Access
from .audit import AuditAction
from .errors import InvalidInput, NotFound
from .models import User, WalletStatus, Workspace
from .passwords import hash_password
from .schema import SYSTEM_USER_ID
from .store import Database, as_utc
from .text import MAX_NAME, clean_email, clean_id, clean_name, is_encodable

USER_COLUMNS = "id, email, name, is_admin, created_at, deactivated_at IS NULL"
WORKSPACE_COLUMNS = "id, name, created_at, archived_at"


def user_from_row(row: Sequence[Any]) -> User:
    return User(
        id=row[0], email=row[1], name=row[2], is_admin=row[3], created_at=as_utc(row[4]),
        active=bool(row[5]),
    )


def workspace_from_row(row: Sequence[Any]) -> Workspace:
    return Workspace(id=row[0], name=row[1], created_at=as_utc(row[2]), archived_at=as_utc(row[3]))


_user = user_from_row
_workspace = workspace_from_row


@contextmanager
def directory_write(db: Database) -> Iterator[Any]:
    """A write transaction that changes the directory (people, workspaces, memberships):
    the stamp is bumped inside it and this process's snapshot dropped once it has
    committed (or failed)."""
    try:
        with db.writing() as cur:
            yield cur
            db.bump_directory(cur)
    finally:
        db.directory_changed()


class Directory:
    """Setting up who is who. These are operator calls (set-up scripts, the CLI, the demo)."""

    def __init__(self, db: Database, access: Access) -> None:
        self.db = db
        self.access = access

    def _directory_write(self) -> AbstractContextManager[Any]:
        return directory_write(self.db)

    def add_user(
        self,
        email: str,
        name: str,
        *,
        admin: bool = False,
        password: str | None = None,
        password_hash: str | None = None,
    ) -> User:
        """A person; `password_hash` (an argon2 hash made by `passwords.hash_password`) lets
        a set-up script give many people one password without hashing it each time."""
        if password is not None:
            password_hash = hash_password(password)
        clean = clean_email(email)
        display = clean_name(name, what="name", limit=MAX_NAME)
        with self._directory_write() as cur:
            return insert_user(
                self.db, cur, by=SYSTEM_USER_ID, email=clean, name=display, admin=admin,
                password_hash=password_hash,
            )

    def create_workspace(self, name: str) -> Workspace:
        display = clean_name(name, what="workspace name", limit=MAX_NAME)
        with self._directory_write() as cur:
            return insert_workspace(self.db, cur, by=SYSTEM_USER_ID, name=display)

    def add_member(self, workspace_id: int, user_id: int) -> None:
        clean_id(user_id, what="user")
        with self._directory_write() as cur:
            self.access.workspace_name(workspace_id)
            insert_membership(self.db, cur, by=SYSTEM_USER_ID, workspace_id=workspace_id, user_id=user_id)

    def user_by_email(self, email: str) -> User | None:
        with self.db.reading() as cur:
            row = cur.execute(
                f"SELECT {USER_COLUMNS} FROM users WHERE email = ? AND id <> ?",
                [clean_email(email), SYSTEM_USER_ID],
            ).fetchone()
        return _user(row) if row else None

    def user_by_id(self, user_id: int) -> User | None:
        """A person by id (for restoring a signed-in session); None if unknown."""
        if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id == SYSTEM_USER_ID:
            return None
        with self.db.reading() as cur:
            row = cur.execute(
                f"SELECT {USER_COLUMNS} FROM users WHERE id = ?",
                [user_id],
            ).fetchone()
        return _user(row) if row else None

    def system_user(self) -> User:
        """The operator account the command line acts as."""
        with self.db.reading() as cur:
            row = cur.execute(
                f"SELECT {USER_COLUMNS} FROM users WHERE id = ?",
                [SYSTEM_USER_ID],
            ).fetchone()
        assert row is not None, "the system account is created by the first migration"
        return _user(row)

    def users(self, actor: User) -> list[User]:
        """Every person (not the system account); admins only."""
        with self.db.reading() as cur:
            self.access.admin(actor, "list users")
            rows = cur.execute(
                f"SELECT {USER_COLUMNS} FROM users WHERE id <> ? ORDER BY name",
                [SYSTEM_USER_ID],
            ).fetchall()
        return [_user(r) for r in rows]

    def workspaces(self, actor: User, *, include_archived: bool = False) -> list[Workspace]:
        """The workspaces the actor may see: their own, or all of them for an admin.
        Archived ones leave the list (and so every picker) unless asked for."""
        with self.db.reading() as cur:
            user = self.access.actor(actor)
            rows = cur.execute(
                f"""
                SELECT {WORKSPACE_COLUMNS} FROM workspaces
                WHERE (? OR id IN (SELECT workspace_id FROM memberships WHERE user_id = ?))
                  AND (? OR archived_at IS NULL)
                ORDER BY name_key
                """,
                [user.is_admin, user.id, bool(include_archived)],
            ).fetchall()
        return [_workspace(r) for r in rows]

    def workspace(self, actor: User, workspace_id: int) -> Workspace:
        with self.db.reading() as cur:
            self.access.workspace(actor, workspace_id)
            row = cur.execute(
                f"SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = ?", [workspace_id]
            ).fetchone()
        assert row is not None  # the access check found it
        return _workspace(row)

    def find_workspace(self, actor: User, ref: str) -> Workspace:
        """A workspace by id or by name (case-insensitive), as typed on the command line."""
        if not isinstance(ref, str) or "\x00" in ref or not is_encodable(ref):
            raise NotFound(f"There is no workspace {ref!r}.")  # no name holds such text
        text = ref.strip()
        with self.db.reading() as cur:
            if text.isascii() and text.isdigit() and len(text) < 19:
                row = cur.execute("SELECT id FROM workspaces WHERE id = ?", [int(text)]).fetchone()
            else:
                row = cur.execute("SELECT id FROM workspaces WHERE name_key = ?", [text.lower()]).fetchone()
        if row is None:
            raise NotFound(f"There is no workspace {ref!r}.")
        return self.workspace(actor, int(row[0]))

    def members(self, actor: User, workspace_id: int) -> list[User]:
        with self.db.reading() as cur:
            self.access.workspace(actor, workspace_id)
            rows = cur.execute(
                f"""
                SELECT {USER_COLUMNS} FROM users
                WHERE id IN (SELECT user_id FROM memberships WHERE workspace_id = ?)
                ORDER BY name
                """,
                [workspace_id],
            ).fetchall()
        return [_user(r) for r in rows]


def insert_user(
    db: Database,
    cur: Any,
    *,
    by: int,
    email: str,
    name: str,
    admin: bool,
    password_hash: str | None,
    sso_only: bool = False,
) -> User:
    """Add a person (email and name already cleaned), audited as done by `by`; inside a
    `directory_write`."""
    if cur.execute("SELECT 1 FROM users WHERE email = ?", [email]).fetchone():
        raise InvalidInput(f"A user with the email {email} already exists.")
    user_id = db.next_id("users")
    at = db.clock()
    cur.execute(
        "INSERT INTO users (id, email, name, is_admin, created_at, password_hash, sso_only) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [user_id, email, name, bool(admin), at, password_hash, bool(sso_only)],
    )
    after: dict[str, object] = {"email": email, "name": name, "admin": bool(admin)}
    if sso_only:
        after["sso_only"] = True
    audit.record(
        db, cur, at=at, actor_id=by, action=AuditAction.USER_ADD, subject=f"user:{user_id}",
        workspace_id=None, before=None, after=after,
    )
    return User(id=user_id, email=email, name=name, is_admin=bool(admin), created_at=as_utc(at))


def insert_workspace(db: Database, cur: Any, *, by: int, name: str) -> Workspace:
    """Add a workspace (name already cleaned) with its wallet; inside a `directory_write`."""
    if cur.execute("SELECT 1 FROM workspaces WHERE name_key = ?", [name.lower()]).fetchone():
        raise InvalidInput(f"A workspace named {name} already exists.")
    workspace_id = db.next_id("workspaces")
    account_id = db.next_id("accounts")
    at = db.clock()
    cur.execute(
        "INSERT INTO workspaces (id, name, name_key, created_at) VALUES (?, ?, ?, ?)",
        [workspace_id, name, name.lower(), at],
    )
    cur.execute(
        "INSERT INTO accounts (id, code, workspace_id) VALUES (?, ?, ?)",
        [account_id, f"wallet:{workspace_id}", workspace_id],
    )
    cur.execute(
        """
        INSERT INTO wallets (workspace_id, account_id, status, balance, updated_at)
        VALUES (?, ?, ?, 0, ?)
        """,
        [workspace_id, account_id, WalletStatus.ACTIVE.value, at],
    )
    audit.record(
        db, cur, at=at, actor_id=by, action=AuditAction.WORKSPACE_CREATE,
        subject=f"workspace:{workspace_id}", workspace_id=workspace_id, before=None,
        after={"name": name, "status": "active", "balance": "0"},
    )
    return Workspace(id=workspace_id, name=name, created_at=as_utc(at))


def insert_membership(db: Database, cur: Any, *, by: int, workspace_id: int, user_id: int) -> bool:
    """Make `user_id` a member of `workspace_id` (known to exist); False when they already
    were. Inside a `directory_write`."""
    if user_id == SYSTEM_USER_ID:
        raise InvalidInput("The system account cannot be a member of a workspace.")
    if not cur.execute("SELECT 1 FROM users WHERE id = ?", [user_id]).fetchone():
        raise NotFound(f"There is no user with id {user_id}.")
    if cur.execute(
        "SELECT 1 FROM memberships WHERE workspace_id = ? AND user_id = ?", [workspace_id, user_id]
    ).fetchone():
        return False
    at = db.clock()
    cur.execute(
        "INSERT INTO memberships (workspace_id, user_id, created_at) VALUES (?, ?, ?)",
        [workspace_id, user_id, at],
    )
    audit.record(
        db, cur, at=at, actor_id=by, action=AuditAction.MEMBERSHIP_ADD, subject=f"user:{user_id}",
        workspace_id=workspace_id, before=None,
        after={"workspace_id": workspace_id, "user_id": user_id},
    )
    return True
