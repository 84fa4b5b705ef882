"""Workspaces and their members, as administrators manage them: add, rename, archive;
add and remove members.

Archiving keeps everything that happened (history, requests, members) but lets nothing
new happen: the wallet becomes inactive (features are blocked, it cannot be
reactivated), its pending requests are cancelled by the administrator who archived it,
and it leaves every picker and wallet list. Each change is one audited transaction.
"""

from __future__ import annotations

from . import audit
from .access import Access
from .audit import AuditAction
from .directory import WORKSPACE_COLUMNS, directory_write, insert_membership, insert_workspace
from .directory import workspace_from_row as _workspace
from .errors import InvalidInput, NotFound
from .journal import lock_wallet
from .models import RequestStatus, User, WalletStatus, Workspace
from .requests import decide, pending_locked
from .store import Database
from .text import MAX_NAME, clean_id, clean_name

ARCHIVED_NOTE = "The workspace was archived."
_ONE = f"SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = ?"


class WorkspaceAdmin:
    def __init__(self, db: Database, access: Access) -> None:
        self.db = db
        self.access = access

    def add_workspace(self, actor: User, name: str) -> Workspace:
        """A new workspace with an empty, active wallet."""
        display = clean_name(name, what="workspace name", limit=MAX_NAME)
        with directory_write(self.db) as cur:
            by = self.access.admin(actor, "add workspaces")
            return insert_workspace(self.db, cur, by=by.id, name=display)

    def rename_workspace(self, actor: User, workspace_id: int, name: str) -> Workspace:
        display = clean_name(name, what="workspace name", limit=MAX_NAME)
        with directory_write(self.db) as cur:
            by = self.access.admin(actor, "rename workspaces")
            _, old = self.access.workspace(by, workspace_id)
            clash = cur.execute(
                "SELECT id FROM workspaces WHERE name_key = ? AND id <> ?", [display.lower(), workspace_id]
            ).fetchone()
            if clash:
                raise InvalidInput(f"A workspace named {display} already exists.")
            if old != display:
                cur.execute(
                    "UPDATE workspaces SET name = ?, name_key = ? WHERE id = ?",
                    [display, display.lower(), workspace_id],
                )
                audit.record(
                    self.db, cur, at=self.db.clock(), actor_id=by.id, action=AuditAction.WORKSPACE_RENAME,
                    subject=f"workspace:{workspace_id}", workspace_id=workspace_id,
                    before={"name": old}, after={"name": display},
                )
            row = cur.execute(_ONE, [workspace_id]).fetchone()
        return _workspace(row)

    def archive_workspace(self, actor: User, workspace_id: int) -> Workspace:
        with directory_write(self.db) as cur:
            by = self.access.admin(actor, "archive workspaces")
            _, name = self.access.open_workspace(by, workspace_id)  # refuses one archived already
            cancelled = []
            for request in pending_locked(self.db, cur, workspace_id):
                decide(self.db, cur, decider=by.id, request=request, status=RequestStatus.CANCELLED,
                       note=ARCHIVED_NOTE)
                cancelled.append(request.id)
            wallet = lock_wallet(self.db, cur, workspace_id)
            at = self.db.clock()
            cur.execute("UPDATE workspaces SET archived_at = ? WHERE id = ?", [at, workspace_id])
            cur.execute(
                "UPDATE wallets SET status = ?, updated_at = ? WHERE workspace_id = ?",
                [WalletStatus.INACTIVE.value, at, workspace_id],
            )
            audit.record(
                self.db, cur, at=at, actor_id=by.id, action=AuditAction.WORKSPACE_ARCHIVE,
                subject=f"workspace:{workspace_id}", workspace_id=workspace_id,
                before={"name": name, "archived": False, "wallet_status": wallet.status.value},
                after={"archived": True, "wallet_status": WalletStatus.INACTIVE.value,
                       "balance": str(wallet.balance), "requests_cancelled": cancelled},
            )
            row = cur.execute(_ONE, [workspace_id]).fetchone()
        return _workspace(row)

    def add_workspace_member(self, actor: User, workspace_id: int, user_id: int) -> bool:
        """Make a person a member; False when they already were."""
        clean_id(user_id, what="user")
        with directory_write(self.db) as cur:
            by = self.access.admin(actor, "add members to workspaces")
            self.access.open_workspace(by, workspace_id)
            person = self.access.directory().users.get(user_id)
            if person is not None and not person.active:
                raise InvalidInput(f"{person.name} is deactivated: reactivate them first.")
            return insert_membership(self.db, cur, by=by.id, workspace_id=workspace_id, user_id=user_id)

    def remove_workspace_member(self, actor: User, workspace_id: int, user_id: int) -> None:
        """They no longer see or use the workspace; what they did there stays."""
        clean_id(user_id, what="user")
        with directory_write(self.db) as cur:
            by = self.access.admin(actor, "remove members from workspaces")
            _, name = self.access.workspace(by, workspace_id)
            person = self.access.directory().users.get(user_id)
            if person is None:
                raise NotFound(f"There is no user with id {user_id}.")
            held = self.db.select_for_update(
                cur, "SELECT user_id FROM memberships WHERE workspace_id = ? AND user_id = ?",
                [workspace_id, user_id],
            )
            if not held:
                raise InvalidInput(f"{person.name} is not a member of {name}.")
            cur.execute(
                "DELETE FROM memberships WHERE workspace_id = ? AND user_id = ?", [workspace_id, user_id]
            )
            audit.record(
                self.db, cur, at=self.db.clock(), actor_id=by.id, action=AuditAction.MEMBERSHIP_REMOVE,
                subject=f"user:{user_id}", workspace_id=workspace_id,
                before={"workspace_id": workspace_id, "user_id": user_id}, after=None,
            )
