"""Credit requests: pending -> approved | rejected | cancelled, each change audited.

Approval is exactly-once: the status check and the credit entry happen in one
serialised transaction, so a second approval (another tab, another admin) sees
the request already decided and gets InvalidTransition; nothing is credited twice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from . import audit
from .access import Access
from .audit import AuditAction
from .errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from .journal import Movement, append, lock_wallet
from .models import CreditRequest, EntryKind, RequestStatus, User
from .money import format_credits, parse_amount, to_decimal
from .notify.events import Event, emit
from .store import Database, as_utc
from .text import MAX_NOTE, clean_id, clean_limit, clean_text

_SELECT = """
    SELECT r.id, r.workspace_id, w.name, r.amount, r.status, r.note,
           r.requested_by, ru.name, r.requested_at,
           r.decided_by, du.name, r.decided_at, r.decision_note, r.entry_id
    FROM credit_requests r
    JOIN workspaces w ON w.id = r.workspace_id
    JOIN users ru ON ru.id = r.requested_by
    LEFT JOIN users du ON du.id = r.decided_by
"""


def _request(row: tuple[Any, ...]) -> CreditRequest:
    return CreditRequest(
        id=int(row[0]),
        workspace_id=int(row[1]),
        workspace_name=row[2],
        amount=to_decimal(row[3]),
        status=RequestStatus(row[4]),
        note=row[5],
        requested_by=int(row[6]),
        requested_by_name=row[7],
        requested_at=as_utc(row[8]),
        decided_by=row[9],
        decided_by_name=row[10],
        decided_at=as_utc(row[11]),
        decision_note=row[12],
        entry_id=row[13],
    )


def _load(cur: Any, request_id: object) -> CreditRequest:
    clean_id(request_id, what="request")
    row = cur.execute(_SELECT + " WHERE r.id = ?", [request_id]).fetchone()
    if row is None:
        raise NotFound(f"There is no credit request {request_id}.")
    return _request(row)


def _load_locked(db: Database, cur: Any, request_id: object) -> CreditRequest:
    """The request, held until the transaction ends: a second decision on it waits, then
    sees the first one's outcome."""
    clean_id(request_id, what="request")
    db.select_for_update(cur, "SELECT id FROM credit_requests WHERE id = ?", [request_id])
    return _load(cur, request_id)


def _require_pending(request: CreditRequest, doing: str) -> None:
    if request.status is RequestStatus.PENDING:
        return
    by = f" by {request.decided_by_name}" if request.decided_by_name else ""
    raise InvalidTransition(
        f"Request #{request.id} was already {request.status.value}{by}; "
        f"only a pending request can be {doing}."
    )


_TOLD = {
    RequestStatus.APPROVED: (Event.REQUEST_APPROVED, "approved"),
    RequestStatus.REJECTED: (Event.REQUEST_REJECTED, "rejected"),
    RequestStatus.CANCELLED: (Event.REQUEST_CANCELLED, "cancelled"),
}


def _tell(db: Database, cur: Any, user: User, request: CreditRequest, status: RequestStatus,
          note: str | None, balance: Decimal, at: datetime) -> None:
    """The decision, to the requester and the workspace's members, with the note and the
    balance it left."""
    event, verb = _TOLD[status]
    added = f" {format_credits(request.amount)} were added to {request.workspace_name}." if (
        status is RequestStatus.APPROVED) else ""
    said = f" Note: {note}" if note else ""
    emit(
        db, cur, event, at=at, workspace_id=request.workspace_id, request_id=request.id, actor_id=user.id,
        also=request.requested_by,
        text=f"{user.name} {verb} request #{request.id} for {format_credits(request.amount)} "
             f"({request.workspace_name}).{added} Balance: {format_credits(balance)}.{said}",
        details={"workspace": request.workspace_name, "amount": str(request.amount), "note": note,
                 "decided_by": user.name, "balance": str(balance)},
    )


def _parse_status(status: object) -> RequestStatus:
    try:
        return RequestStatus(str(status))
    except ValueError:
        names = ", ".join(s.value for s in RequestStatus)
        raise InvalidInput(f"A request's status is one of: {names}.") from None


DECISION_ACTIONS = {
    RequestStatus.APPROVED: AuditAction.REQUEST_APPROVED,
    RequestStatus.REJECTED: AuditAction.REQUEST_REJECTED,
    RequestStatus.CANCELLED: AuditAction.REQUEST_CANCELLED,
}


class Requests:
    """Credit requests and their decisions."""

    def __init__(self, db: Database, access: Access) -> None:
        self.db = db
        self.access = access

    def request_credits(
        self, actor: User, workspace_id: int, amount: object, note: str | None = None
    ) -> CreditRequest:
        value = parse_amount(amount)
        text = clean_text(note, what="note", limit=MAX_NOTE, required=False)
        with self.db.writing() as cur:
            user, name = self.access.open_workspace(actor, workspace_id)
            request_id = self.db.next_id("credit_requests")
            at = self.db.clock()
            cur.execute(
                """
                INSERT INTO credit_requests
                    (id, workspace_id, amount, note, status, requested_by, requested_at)
                VALUES (?, ?, ?, ?, 'pending', ?, ?)
                """,
                [request_id, workspace_id, value, text, user.id, at],
            )
            note_text = f" Note: {text}" if text else ""
            emit(
                self.db, cur, Event.REQUEST_CREATED, at=at, workspace_id=workspace_id,
                request_id=request_id, actor_id=user.id,
                text=f"{user.name} asked for {format_credits(value)} for {name} "
                     f"(request #{request_id}).{note_text}",
                details={"workspace": name, "amount": str(value), "note": text, "requested_by": user.name},
            )
            audit.record(
                self.db,
                cur,
                at=at,
                actor_id=user.id,
                action=AuditAction.REQUEST_CREATE,
                subject=f"request:{request_id}",
                workspace_id=workspace_id,
                before=None,
                after={"status": "pending", "amount": str(value)},
            )
            return _load(cur, request_id)

    def cancel_request(self, actor: User, request_id: int, reason: str | None = None) -> CreditRequest:
        text = clean_text(reason, what="reason", limit=MAX_NOTE, required=False)
        with self.db.writing() as cur:
            user = self.access.actor(actor)
            request = _load_locked(self.db, cur, request_id)
            self.access.workspace(user, request.workspace_id)
            if not user.is_admin and request.requested_by != user.id:
                raise PermissionDenied(
                    "Only the member who asked for these credits, or an administrator, "
                    "can cancel this request."
                )
            _require_pending(request, "cancelled")
            return self._decide(cur, user, request, RequestStatus.CANCELLED, text)

    def approve_request(self, actor: User, request_id: int, note: str | None = None) -> CreditRequest:
        text = clean_text(note, what="note", limit=MAX_NOTE, required=False)
        with self.db.writing() as cur:
            user = self.access.admin(actor, "approve credit requests")
            request = _load_locked(self.db, cur, request_id)
            if request.requested_by == user.id:
                raise PermissionDenied("You cannot approve your own request; another administrator must.")
            _require_pending(request, "approved")
            return self._decide(cur, user, request, RequestStatus.APPROVED, text)

    def reject_request(self, actor: User, request_id: int, note: str) -> CreditRequest:
        text = clean_text(note, what="reason for the rejection", limit=MAX_NOTE, required=True)
        with self.db.writing() as cur:
            user = self.access.admin(actor, "reject credit requests")
            request = _load_locked(self.db, cur, request_id)
            _require_pending(request, "rejected")
            return self._decide(cur, user, request, RequestStatus.REJECTED, text)

    def _decide(
        self,
        cur: Any,
        user: User,
        request: CreditRequest,
        status: RequestStatus,
        note: str | None,
    ) -> CreditRequest:
        return decide(self.db, cur, user, request, status, note)

    def credit_request(self, actor: User, request_id: int) -> CreditRequest:
        with self.db.reading() as cur:
            request = _load(cur, request_id)
            self.access.workspace(actor, request.workspace_id)
        return request

    def requests(
        self,
        actor: User,
        *,
        workspace_id: int | None = None,
        status: RequestStatus | str | None = None,
        limit: int = 500,
    ) -> list[CreditRequest]:
        """Requests the actor may see, newest first (pending ones oldest first)."""
        clean_limit(limit, most=10_000)
        wanted = _parse_status(status) if status is not None else None
        with self.db.reading() as cur:
            user = self.access.actor(actor)
            if workspace_id is not None:
                self.access.workspace(user, workspace_id)
            rows = cur.execute(
                _SELECT
                + """
                WHERE (? OR r.workspace_id IN (SELECT workspace_id FROM memberships WHERE user_id = ?))
                  AND (? IS NULL OR r.workspace_id = ?)
                  AND (? IS NULL OR r.status = ?)
                ORDER BY CASE WHEN r.status = 'pending' THEN r.requested_at END ASC,
                         CASE WHEN r.status = 'pending' THEN r.id END ASC,
                         r.requested_at DESC, r.id DESC
                LIMIT ?
                """,
                [
                    user.is_admin,
                    user.id,
                    workspace_id,
                    workspace_id,
                    wanted and wanted.value,
                    wanted and wanted.value,
                    limit,
                ],
            ).fetchall()
        return [_request(r) for r in rows]


def pending_locked(db: Database, cur: Any, workspace_id: int) -> list[CreditRequest]:
    """A workspace's pending requests, held until the transaction ends (oldest first)."""
    rows = db.select_for_update(
        cur,
        "SELECT id FROM credit_requests WHERE workspace_id = ? AND status = 'pending' ORDER BY id",
        [workspace_id],
    )
    return [_load(cur, int(r[0])) for r in rows]


def decide(
    db: Database,
    cur: Any,
    user: User,
    request: CreditRequest,
    status: RequestStatus,
    note: str | None,
) -> CreditRequest:
    """Record a decision on a pending request held by this transaction: approving also
    credits the wallet through the journal. One audit row for the decision."""
    at: datetime = db.clock()
    entry_id = None
    if status is RequestStatus.APPROVED:
        wallet = lock_wallet(db, cur, request.workspace_id)
        movement = Movement(
            workspace_id=request.workspace_id,
            kind=EntryKind.CREDIT,
            amount=request.amount,
            description=f"Credit request #{request.id} approved",
            feature=None,
            actor_id=user.id,
            action=AuditAction.TOP_UP,
            request_id=request.id,
        )
        (entry,) = append(db, cur, {request.workspace_id: wallet}, [movement], at=at)
        entry_id = entry.id
    cur.execute(
        """
        UPDATE credit_requests
        SET status = ?, decided_by = ?, decided_at = ?, decision_note = ?, entry_id = ?
        WHERE id = ? AND status = 'pending'
        """,
        [status.value, user.id, at, note, entry_id, request.id],
    )
    balance = lock_wallet(db, cur, request.workspace_id).balance
    _tell(db, cur, user, request, status, note, balance, at)
    audit.record(
        db,
        cur,
        at=at,
        actor_id=user.id,
        action=DECISION_ACTIONS[status],
        subject=f"request:{request.id}",
        workspace_id=request.workspace_id,
        before={"status": "pending"},
        after={
            "status": status.value,
            "note": note,
            "entry_id": entry_id,
            "amount": str(request.amount),
        },
    )
    return _load(cur, request.id)
