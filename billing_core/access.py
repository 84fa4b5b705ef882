"""Who may see or do what. Every Ledger operation asks `Access` first.

The acting user is always looked up in the ledger's directory, so a forged or
stale `User` object (say, one that claims `is_admin=True`) carries no rights of
its own. The directory (people, workspaces, memberships: small, and changed only
through the directory operations) is cached in memory as an immutable snapshot
with the store's stamp of when it was loaded. On DuckDB only this process writes,
so the stamp is its own count of changes and checking access costs no query; on a
PostgreSQL server other processes write too, so the stamp is a counter row that
every directory change bumps in its transaction (one indexed read per check).

A deactivated person is still in the directory (their history names them) but can do
nothing: every check refuses them. An archived workspace can still be read (its
history stays); `open_workspace` is the check for anything new happening in it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .errors import NotFound, PermissionDenied, WorkspaceArchived
from .models import User
from .store import Database, as_utc


@dataclass(frozen=True, slots=True)
class DirectorySnapshot:
    users: dict[int, User]
    workspaces: dict[int, str]
    memberships: frozenset[tuple[int, int]]  # (workspace_id, user_id)
    archived: frozenset[int] = frozenset()  # archived workspaces' ids


class Access:
    """The access rules over one ledger, with its cached directory."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._cached: tuple[DirectorySnapshot, object] | None = None  # (snapshot, stamp)

    def directory(self) -> DirectorySnapshot:
        """The current snapshot, loaded on first use after a change."""
        stamp = self.db.directory_stamp()
        held = self._cached
        if held is not None and held[1] == stamp:
            return held[0]
        with self._lock:
            held = self._cached
            if held is not None and held[1] == stamp:
                return held[0]
            stamp = self.db.directory_stamp()  # read before the tables: the snapshot is at least this new
            with self.db.reading() as cur:
                users = cur.execute(
                    "SELECT id, email, name, is_admin, created_at, deactivated_at IS NULL FROM users"
                ).fetchall()
                spaces = cur.execute("SELECT id, name, archived_at IS NOT NULL FROM workspaces").fetchall()
                members = cur.execute("SELECT workspace_id, user_id FROM memberships").fetchall()
            snapshot = DirectorySnapshot(
                users={
                    int(r[0]): User(r[0], r[1], r[2], bool(r[3]), as_utc(r[4]), bool(r[5])) for r in users
                },
                workspaces={int(r[0]): str(r[1]) for r in spaces},
                memberships=frozenset((int(w), int(u)) for w, u in members),
                archived=frozenset(int(r[0]) for r in spaces if r[2]),
            )
            self._cached = (snapshot, stamp)
            return snapshot

    def actor(self, actor: object) -> User:
        """The signed-in user as the ledger knows them now."""
        return _known_actor(self.directory(), actor)

    def admin(self, actor: object, doing: str) -> User:
        user = self.actor(actor)
        if not user.is_admin:
            raise PermissionDenied(f"Only an administrator can {doing}.")
        return user

    def workspace_name(self, workspace_id: object) -> str:
        return _name_of(self.directory(), workspace_id)

    def workspace(self, actor: object, workspace_id: object) -> tuple[User, str]:
        """The actor may see and act on this workspace: an admin, or one of its members."""
        snapshot = self.directory()  # one snapshot for the whole check (on a server, one stamp read)
        user = _known_actor(snapshot, actor)
        name = _name_of(snapshot, workspace_id)
        if not user.is_admin and (workspace_id, user.id) not in snapshot.memberships:
            # not naming the workspace: its name is not the outsider's to learn
            raise PermissionDenied("You are not a member of this workspace.")
        return user, name

    def open_workspace(self, actor: object, workspace_id: object) -> tuple[User, str]:
        """As `workspace`, for something new in it (a request, a grant, a member): an
        archived workspace refuses."""
        user, name = self.workspace(actor, workspace_id)
        if workspace_id in self.directory().archived:
            raise WorkspaceArchived(
                f"{name} is archived: its history stays, but nothing new can happen in it."
            )
        return user, name


def _known_actor(snapshot: DirectorySnapshot, actor: object) -> User:
    if actor is None:
        raise PermissionDenied("Sign in to do this.")
    if not isinstance(actor, User):
        raise PermissionDenied("Only a signed-in user can do this.")
    known = snapshot.users.get(actor.id) if isinstance(actor.id, int) else None
    if known is None or known.email != str(actor.email).lower():
        raise PermissionDenied("Your account is not known to this ledger; sign in again.")
    if not known.active:
        raise PermissionDenied("Your account has been deactivated. Ask an administrator.")
    return known


def _name_of(snapshot: DirectorySnapshot, workspace_id: object) -> str:
    if isinstance(workspace_id, bool) or not isinstance(workspace_id, int):
        raise NotFound(f"There is no workspace {workspace_id!r}.")
    name = snapshot.workspaces.get(workspace_id)
    if name is None:
        raise NotFound(f"There is no workspace with id {workspace_id}.")
    return name
