"""Events: written to the outbox in the transaction of the change that causes them.

`emit` writes the event (one `outbox` row with a stable id), an inbox row for every
person it is for, and a pending delivery for every email address and webhook that
wants it — all in the caller's write transaction, so an event exists exactly when its
change committed, and never twice. Sending happens later (dispatch.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..schema import SYSTEM_USER_ID
from ..store import Database


class Event(StrEnum):
    REQUEST_CREATED = "request.created"
    REQUEST_APPROVED = "request.approved"
    REQUEST_REJECTED = "request.rejected"
    REQUEST_CANCELLED = "request.cancelled"
    WALLET_DEACTIVATED = "wallet.deactivated"
    WALLET_ACTIVATED = "wallet.activated"
    BALANCE_LOW = "balance.low"
    BALANCE_RESOLVED = "balance.resolved"
    BALANCE_ZERO = "balance.zero"
    SPEND_SPIKE = "spend.spike"


class Audience(StrEnum):
    """Who an event is for (besides the person `emit` names with `also`)."""

    ADMINS = "admins"  # a new request waits for them
    MEMBERS = "members"  # the workspace's members: decisions, the wallet's status
    EVERYONE = "everyone"  # the members and the administrators: money running out, spikes


AUDIENCES = {
    Event.REQUEST_CREATED: Audience.ADMINS,
    Event.REQUEST_APPROVED: Audience.MEMBERS,
    Event.REQUEST_REJECTED: Audience.MEMBERS,
    Event.REQUEST_CANCELLED: Audience.MEMBERS,
    Event.WALLET_DEACTIVATED: Audience.MEMBERS,
    Event.WALLET_ACTIVATED: Audience.MEMBERS,
    Event.BALANCE_LOW: Audience.EVERYONE,
    Event.BALANCE_RESOLVED: Audience.EVERYONE,
    Event.BALANCE_ZERO: Audience.EVERYONE,
    Event.SPEND_SPIKE: Audience.EVERYONE,
}

_RECIPIENTS = """
    SELECT u.id, u.email, coalesce(s.email_enabled, TRUE), s.email_events
    FROM users u LEFT JOIN notification_settings s ON s.user_id = u.id
    WHERE u.id <> ? AND u.deactivated_at IS NULL  -- a deactivated person is told nothing
      AND ((? AND u.is_admin) OR u.id = ?
           OR (? AND u.id IN (SELECT user_id FROM memberships WHERE workspace_id = ?)))
    ORDER BY u.id
"""


def emit(
    db: Database,
    cur: Any,
    event: Event,
    *,
    at: datetime,
    text: str,
    workspace_id: int | None,
    request_id: int | None = None,
    actor_id: int | None = None,
    details: Mapping[str, object] | None = None,
    also: int | None = None,
) -> int:
    """Write `event` and its inbox rows and deliveries; returns its id. `text` is the
    sentence people read; `details` go with it to webhooks; `also` is one more person it
    is for (the requester of a request)."""
    event_id = db.next_id("outbox")
    payload = {"text": text, **(details or {})}
    cur.execute(
        "INSERT INTO outbox (id, event, created_at, workspace_id, request_id, actor_id, payload) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            event_id,
            event.value,
            at,
            workspace_id,
            request_id,
            actor_id,
            json.dumps(payload, default=str, ensure_ascii=False),
        ],
    )
    audience = AUDIENCES[event]
    admins = audience in (Audience.ADMINS, Audience.EVERYONE)
    members = audience in (Audience.MEMBERS, Audience.EVERYONE) and workspace_id is not None
    people = cur.execute(_RECIPIENTS, [SYSTEM_USER_ID, admins, also, members, workspace_id]).fetchall()
    if people:
        ids = db.allocate_ids("inbox", len(people))
        cur.execute(
            "INSERT INTO inbox (id, user_id, event_id, read_at) "
            "SELECT unnest(?::BIGINT[]), unnest(?::BIGINT[]), ?, NULL",
            [[int(i) for i in ids], [int(p[0]) for p in people], event_id],
        )
    targets = [str(p[1]) for p in people if p[2] and _wants(p[3], event)]
    hooks = cur.execute("SELECT id, events FROM webhooks WHERE active ORDER BY id").fetchall()
    targets += [f"webhook:{h[0]}" for h in hooks if event.value in json.loads(h[1])]
    if targets:
        ids = db.allocate_ids("deliveries", len(targets))
        cur.execute(
            """
            INSERT INTO deliveries (id, event_id, channel, target, status, attempts, next_attempt_at,
                                    created_at)
            SELECT d.id, ?, CASE WHEN d.t LIKE 'webhook:%' THEN 'webhook' ELSE 'email' END,
                   d.t, 'pending', 0, ?, ?
            FROM (SELECT unnest(?::BIGINT[]) AS id, unnest(?::VARCHAR[]) AS t) d
            """,
            [event_id, at, at, [int(i) for i in ids], targets],
        )
    return event_id


def _wants(events: str | None, event: Event) -> bool:
    """A person's email choice for one kind of event; no choice made: every kind."""
    return events is None or event.value in json.loads(events)
