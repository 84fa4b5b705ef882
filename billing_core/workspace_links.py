"""External ids: the opaque id another system (a gateway's team id) knows a workspace by.
Bulk ingest matches a row's workspace by id, name or external id."""

from __future__ import annotations

from . import audit
from .access import Access
from .audit import AuditAction
from .errors import InvalidInput
from .models import User
from .store import Database
from .text import MAX_NAME, clean_text

_LINK = "UPDATE workspaces SET external_id = ? WHERE id = ?"


def link_workspace(db: Database, access: Access, actor: User, workspace_id: int, external_id: str) -> str:
    """Set (or replace) a workspace's external id (administrators); returns it. One
    workspace per external id: another workspace's id is refused."""
    text = clean_text(external_id, what="external id", limit=MAX_NAME, required=True)
    assert text is not None
    try:
        with db.writing() as cur:
            user = access.admin(actor, "link workspaces to external ids")
            access.workspace(user, workspace_id)  # NotFound for an unknown workspace
            row = cur.execute("SELECT id FROM workspaces WHERE external_id = ?", [text]).fetchone()
            if row is not None and int(row[0]) != workspace_id:
                raise InvalidInput(
                    f"The external id {text} already belongs to workspace "
                    f"{access.workspace_name(int(row[0]))}."
                )
            before = cur.execute("SELECT external_id FROM workspaces WHERE id = ?", [workspace_id]).fetchone()
            previous = before[0] if before else None
            if previous != text:
                cur.execute(_LINK, [text, workspace_id])
                audit.record(
                    db,
                    cur,
                    at=db.clock(),
                    actor_id=user.id,
                    action=AuditAction.WORKSPACE_LINK,
                    subject=f"workspace:{workspace_id}",
                    workspace_id=workspace_id,
                    before={"external_id": previous},
                    after={"external_id": text},
                )
                db.bump_directory(cur)
    finally:
        db.directory_changed()
    return text


def external_id(db: Database, access: Access, actor: User, workspace_id: int) -> str | None:
    """The workspace's external id, if it has one (whoever may see the workspace)."""
    with db.reading() as cur:
        access.workspace(actor, workspace_id)
        row = cur.execute("SELECT external_id FROM workspaces WHERE id = ?", [workspace_id]).fetchone()
    return None if row is None else row[0]
