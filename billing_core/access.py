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


def is_member(cur: Any, user_id: int, workspace_id: int) -> bool:
    row = cur.execute(
        "SELECT 1 FROM memberships WHERE workspace_id = ? AND user_id = ?",
        [workspace_id, user_id],
    ).fetchone()
    return row is not None


def require_workspace(cur: Any, actor: object, workspace_id: object) -> tuple[User, str]:
    """The actor may see and act on this workspace: an admin, or one of its members."""
    user = resolve_actor(cur, actor)
    name = workspace_name(cur, workspace_id)
    assert isinstance(workspace_id, int)
    if not user.is_admin and not is_member(cur, user.id, workspace_id):
        raise PermissionDenied(f"You are not a member of the workspace {name}.")
    return user, name


def visible_workspace_ids(cur: Any, user: User) -> list[int] | None:
    """The workspaces a user may see; None means all of them (an admin)."""
    if user.is_admin:
        return None
    rows = cur.execute(
        "SELECT workspace_id FROM memberships WHERE user_id = ? ORDER BY workspace_id",
        [user.id],
    ).fetchall()
    return [int(r[0]) for r in rows]
