"""Sending what the outbox holds: at least once, with the same event id on every try.

One pass (`deliver_due`): claim the deliveries that are due (a lease written in a
short transaction; on a server `FOR UPDATE SKIP LOCKED`, so several dispatchers never
take the same delivery at once), send each outside any transaction, and record the
outcome. A failure is tried again after a growing delay (30 s, 2, 10 and 30 minutes,
then hourly up to 4 hours: 13 tries over about 26 hours) and then marked failed; an
administrator can send it again. A dispatcher killed mid-send leaves its lease to run
out (2 minutes), after which the delivery is claimed and sent again: nothing is lost
(a receiver may see an event twice, with the same `webhook-id`). A slow or dead
endpoint holds only the dispatcher, never a debit or an approval.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..store import Database
from .channels import PostResult, SmtpSettings, post_webhook, send_email

LEASE = timedelta(minutes=2)
BATCH = 50
RETRIES = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=3),
    timedelta(hours=4),
    timedelta(hours=4),
    timedelta(hours=4),
    timedelta(hours=4),
    timedelta(hours=4),
)  # the waits after each failed try; after the last, the delivery is failed (about 26 h in all)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    event_id: int
    channel: str
    target: str
    attempts: int
    event: str
    created_at: datetime
    workspace_id: int | None
    request_id: int | None
    payload: str


_CLAIM = """
    SELECT d.id FROM deliveries d
    WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until < ?)
    ORDER BY d.next_attempt_at, d.id LIMIT ?
"""
_LOAD = """
    SELECT d.id, d.event_id, d.channel, d.target, d.attempts, o.event, o.created_at, o.workspace_id,
           o.request_id, o.payload
    FROM deliveries d JOIN outbox o ON o.id = d.event_id
    WHERE d.id IN (SELECT unnest(?::BIGINT[])) ORDER BY d.id
"""


def claim(db: Database, now: datetime, limit: int = BATCH) -> list[Claimed]:
    """Take up to `limit` due deliveries for this dispatcher until `now + LEASE`."""
    with db.writing() as cur:
        ids = [int(r[0]) for r in db.claim_rows(cur, _CLAIM, [now, now, limit])]
        if not ids:
            return []
        cur.execute(
            "UPDATE deliveries SET lease_until = ? WHERE id IN (SELECT unnest(?::BIGINT[]))",
            [now + LEASE, ids],
        )
        return [Claimed(*r) for r in cur.execute(_LOAD, [ids]).fetchall()]


def deliver_due(db: Database, email: SmtpSettings | None, now: datetime | None = None) -> int:
    """One pass of the dispatcher: send what is due; returns how many deliveries it tried."""
    moment = now or db.clock()
    claimed = claim(db, moment)
    for delivery in claimed:
        outcome = _send(db, delivery, email, moment)
        _record(db, delivery, outcome, moment)
    return len(claimed)


def _send(db: Database, delivery: Claimed, email: SmtpSettings | None, now: datetime) -> PostResult:
    payload = json.loads(delivery.payload)
    if delivery.channel == "email":
        if email is None:
            return PostResult(None, "email is not configured (no SMTP host)", 0)
        try:
            send_email(
                email, delivery.target, _subject(delivery.event, payload), str(payload.get("text", ""))
            )
        except Exception as error:  # noqa: BLE001 - any failure to send is recorded and retried
            return PostResult(None, f"{type(error).__name__}: {error}"[:300], 0)
        return PostResult(250, None, 0)
    hook = _webhook(db, delivery.target)
    if hook is None:
        return PostResult(None, "the webhook was removed", 0)
    url, secret = hook
    body = json.dumps(
        {
            "type": delivery.event,
            "timestamp": delivery.created_at.isoformat() + "Z",
            "data": {
                "event_id": delivery.event_id,
                "workspace_id": delivery.workspace_id,
                "request_id": delivery.request_id,
                **payload,
            },
        },
        ensure_ascii=False,
        default=str,
    ).encode("utf-8")
    return post_webhook(url, secret, f"evt_{delivery.event_id}", body, now=now.timestamp())


def _webhook(db: Database, target: str) -> tuple[str, str] | None:
    with db.reading() as cur:
        row = cur.execute(
            "SELECT url, secret FROM webhooks WHERE id = ? AND active", [int(target.removeprefix("webhook:"))]
        ).fetchone()
    return (str(row[0]), str(row[1])) if row else None


def _subject(event: str, payload: dict[str, Any]) -> str:
    workspace = payload.get("workspace")
    where = f" — {workspace}" if workspace else ""
    return {
        "request.created": "New credit request",
        "request.approved": "Credit request approved",
        "request.rejected": "Credit request rejected",
        "request.cancelled": "Credit request cancelled",
        "wallet.deactivated": "Wallet deactivated",
        "wallet.activated": "Wallet activated",
        "balance.low": "Low en-credits balance",
        "balance.resolved": "Balance back above its level",
        "balance.zero": "No en-credits left",
        "spend.spike": "Unusual en-credits spend",
    }.get(event, event) + where


def _record(db: Database, delivery: Claimed, outcome: PostResult, now: datetime) -> None:
    attempts = delivery.attempts + 1
    with db.writing() as cur:
        if outcome.error is None:
            cur.execute(
                """
                UPDATE deliveries SET status = 'delivered', attempts = ?, lease_until = NULL,
                       last_error = NULL, last_status = ?, response_ms = ?, delivered_at = ?
                WHERE id = ?
                """,
                [attempts, outcome.status, outcome.milliseconds, now, delivery.id],
            )
            return
        done = attempts > len(RETRIES)
        cur.execute(
            """
            UPDATE deliveries SET status = ?, attempts = ?, lease_until = NULL, last_error = ?,
                   last_status = ?, response_ms = ?, next_attempt_at = ?
            WHERE id = ?
            """,
            [
                "failed" if done else "pending",
                attempts,
                outcome.error,
                outcome.status,
                outcome.milliseconds,
                now if done else now + RETRIES[attempts - 1],
                delivery.id,
            ],
        )
