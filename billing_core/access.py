"""Who may see or do what. Every Ledger operation calls one of these first.

The acting user is always re-read from the ledger, so a forged or stale `User`
object (say, one that claims `is_admin=True`) carries no rights of its own.
"""

from __future__ import annotations

from typing import Any

from .errors import NotFound, PermissionDenied
from .models import User


def resolve_actor(cur: Any, actor: object) -> User:
    if actor is None:
        raise PermissionDenied("Sign in to do this.")
    if not isinstance(actor, User):
        raise PermissionDenied("Only a signed-in user can do this.")
    row = cur.execute(
        "SELECT id, email, name, is_admin, created_at FROM users WHERE id = ? AND email = ?",
        [actor.id, actor.email.lower()],
    ).fetchone()
    if row is None:
        raise PermissionDenied("Your account is not known to this ledger; sign in again.")
    return User(id=row[0], email=row[1], name=row[2], is_admin=row[3], created_at=row[4])


def require_admin(cur: Any, actor: object, doing: str) -> User:
    user = resolve_actor(cur, actor)
    if not user.is_admin:
        raise PermissionDenied(f"Only an administrator can {doing}.")
    return user


def workspace_name(cur: Any, workspace_id: object) -> str:
    if isinstance(workspace_id, bool) or not isinstance(workspace_id, int):
        raise NotFound(f"There is no workspace {workspace_id!r}.")
    row = cur.execute("SELECT name FROM workspaces WHERE id = ?", [workspace_id]).fetchone()
    if row is None:
        raise NotFound(f"There is no workspace with id {workspace_id}.")
    return str(row[0])


def require_workspace(cur: Any, actor: object, workspace_id: object) -> tuple[User, str]:
    """The actor may see and act on this workspace: an admin, or one of its members.

    One query answers who the actor is, whether the workspace exists and whether
    the actor belongs to it (this check runs before every read of a screen).
    """
    if actor is None or not isinstance(actor, User):
        resolve_actor(cur, actor)  # raises the right PermissionDenied
    assert isinstance(actor, User)
    if isinstance(workspace_id, bool) or not isinstance(workspace_id, int):
        raise NotFound(f"There is no workspace {workspace_id!r}.")
    row = cur.execute(
        """
        SELECT u.id, u.email, u.name, u.is_admin, u.created_at, w.name,
               EXISTS (SELECT 1 FROM memberships m WHERE m.workspace_id = w.id AND m.user_id = u.id)
        FROM users u LEFT JOIN workspaces w ON w.id = ?
        WHERE u.id = ? AND u.email = ?
        """,
        [workspace_id, actor.id, actor.email.lower()],
    ).fetchone()
    if row is None:
        raise PermissionDenied("Your account is not known to this ledger; sign in again.")
    user = User(id=row[0], email=row[1], name=row[2], is_admin=row[3], created_at=row[4])
    if row[5] is None:
        raise NotFound(f"There is no workspace with id {workspace_id}.")
    if not user.is_admin and not row[6]:
        raise PermissionDenied(f"You are not a member of the workspace {row[5]}.")
    return user, str(row[5])


def visible_workspace_ids(cur: Any, user: User) -> list[int] | None:
    """The workspaces a user may see; None means all of them (an admin)."""
    if user.is_admin:
        return None
    rows = cur.execute(
        "SELECT workspace_id FROM memberships WHERE user_id = ? ORDER BY workspace_id",
        [user.id],
    ).fetchall()
    return [int(r[0]) for r in rows]
