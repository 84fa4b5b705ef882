"""The audit trail: one append-only row per state change, naming who, what and when.

Every row is made by `row()` (directory and request changes, through `record`) or by
the journal's one set-based statement for movements (journal.py), in the same shape:
`before` and `after` are JSON objects of the values that changed, or NULL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from .models import AuditRecord
from .store import Database, as_utc


class AuditAction(StrEnum):
    """What an audit row records."""

    @classmethod
    def movements(cls) -> tuple[AuditAction, ...]:
        """The actions the journal writes, one per entry."""
        return MOVEMENT_ACTIONS

    # movements: one row per journal entry, written by journal.write_batch
    CONSUME = "wallet.consume"  # a debit for a feature's use
    GRANT = "wallet.grant"  # a credit an administrator added directly
    TOP_UP = "wallet.top_up"  # the credit of an approved credit request
    EXPIRE = "wallet.expire"  # the unused rest of a grant, at its expiry (by the system)
    CORRECT = "wallet.correct"  # a reversing entry that corrects an earlier one
    # other state changes, written by `record`
    WALLET_STATUS = "wallet.status"
    REQUEST_CREATE = "request.create"
    REQUEST_APPROVED = "request.approved"
    REQUEST_REJECTED = "request.rejected"
    REQUEST_CANCELLED = "request.cancelled"
    POLICY_CHANGE = "policy.change"  # a workspace's standing approval / automatic top-up
    USER_ADD = "user.add"  # set up by the operator, or invited by an administrator
    USER_DEACTIVATE = "user.deactivate"
    USER_REACTIVATE = "user.reactivate"
    USER_PROMOTE = "user.promote"  # made an administrator
    USER_DEMOTE = "user.demote"  # no longer an administrator
    PASSWORD_LINK = "user.password_link"  # an invitation or reset link was issued
    PASSWORD_SET = "user.password_set"  # set through a link
    PASSWORD_CHANGE = "user.password_change"  # changed by its owner
    SESSION_START = "session.start"
    SESSION_END = "session.end"
    WORKSPACE_CREATE = "workspace.create"
    WORKSPACE_RENAME = "workspace.rename"
    WORKSPACE_ARCHIVE = "workspace.archive"
    MEMBERSHIP_ADD = "membership.add"
    # the ledger as a whole (backup.py, recovery.py, analyst_export.py)
    LEDGER_RECOVER = "ledger.recover"  # accepted as it is after its high-water check failed
    LEDGER_RESTORE = "ledger.restore"  # made from a backup (the first row of its new life)
    LEDGER_EXPORT = "ledger.export"  # tables written out for analysts
    MEMBERSHIP_REMOVE = "membership.remove"
    NOTIFICATIONS_SET = "notifications.set"  # a person's email choices
    WEBHOOK_ADD = "webhook.add"
    WEBHOOK_REMOVE = "webhook.remove"
    DELIVERY_RETRY = "delivery.retry"
    THRESHOLDS_SET = "thresholds.set"
    PRICE_SET = "price.set"  # a row added to the rate card
    WORKSPACE_LINK = "workspace.link"  # a workspace's external id set


# The actions the journal writes, one per entry (verify() checks there is exactly one).
MOVEMENT_ACTIONS = (
    AuditAction.CONSUME, AuditAction.GRANT, AuditAction.TOP_UP, AuditAction.EXPIRE, AuditAction.CORRECT,
)


def as_json(value: Mapping[str, object] | None) -> str | None:
    """A before/after value as stored: compact JSON text, or NULL."""
    return None if value is None else json.dumps(dict(value), default=str, ensure_ascii=False)


def row(
    audit_id: int,
    *,
    at: datetime,
    actor_id: int,
    action: AuditAction,
    subject: str,
    workspace_id: int | None,
    before: Mapping[str, object] | None,
    after: Mapping[str, object] | None,
) -> tuple[Any, ...]:
    """One audit_log row, in the table's column order (`COLUMNS`)."""
    return (audit_id, at, actor_id, action.value, subject, workspace_id, as_json(before), as_json(after))


COLUMNS = "id, recorded_at, actor_id, action, subject, workspace_id, before, after"


def record(
    db: Database,
    cur: Any,
    *,
    at: datetime,
    actor_id: int,
    action: AuditAction,
    subject: str,
    workspace_id: int | None,
    before: Mapping[str, object] | None,
    after: Mapping[str, object] | None,
) -> None:
    """Append one audit row inside the caller's write transaction."""
    values = row(
        db.next_id("audit_log"),
        at=at,
        actor_id=actor_id,
        action=action,
        subject=subject,
        workspace_id=workspace_id,
        before=before,
        after=after,
    )
    cur.execute(f"INSERT INTO audit_log ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(values))


def rows_to_records(rows: list[tuple[Any, ...]]) -> list[AuditRecord]:
    return [
        AuditRecord(
            id=r[0],
            at=as_utc(r[1]),
            actor_id=r[2],
            action=r[3],
            subject=r[4],
            workspace_id=r[5],
            before=r[6],
            after=r[7],
        )
        for r in rows
    ]
