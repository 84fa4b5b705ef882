"""Notifications as the Ledger offers them: the inbox, email settings, webhooks and their
delivery log, balance-alert settings, and the dispatcher's passes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from .. import audit
from ..access import Access
from ..audit import AuditAction
from ..errors import InvalidInput, NotFound
from ..models import (
    BalanceAlerts,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationSettings,
    User,
    Webhook,
)
from ..store import Database, as_utc
from ..text import clean_id, clean_limit
from . import alerts, dispatch
from .channels import SmtpSettings, clean_secret, clean_url
from .events import Event

EVENT_NAMES = tuple(e.value for e in Event)


def clean_events(events: object) -> tuple[str, ...]:
    if isinstance(events, str) or not isinstance(events, Iterable):
        raise InvalidInput("Choose the events as a list, such as ['request.created', 'balance.low'].")
    chosen = tuple(sorted({str(e) for e in events}))
    unknown = [e for e in chosen if e not in EVENT_NAMES]
    if unknown:
        raise InvalidInput(f"Unknown event(s) {', '.join(unknown)}; the events are {', '.join(EVENT_NAMES)}.")
    return chosen


class Notifications:
    def __init__(self, db: Database, access: Access) -> None:
        self.db = db
        self.access = access
        self.email: SmtpSettings | None = SmtpSettings.from_env()

    # ------------------------------------------------------------------ inbox
    _INBOX = """
        SELECT i.id, o.event, o.created_at, i.read_at IS NOT NULL, o.payload, o.workspace_id, w.name,
               o.request_id
        FROM inbox i JOIN outbox o ON o.id = i.event_id
        LEFT JOIN workspaces w ON w.id = o.workspace_id
        WHERE i.user_id = ? AND (? OR i.read_at IS NULL)
          AND (o.workspace_id IS NULL OR ?
               OR o.workspace_id IN (SELECT workspace_id FROM memberships WHERE user_id = ?))
        ORDER BY i.id DESC LIMIT ?
    """

    def notifications(
        self, actor: User, *, unread_only: bool = False, limit: int = 100
    ) -> list[Notification]:
        """The actor's inbox, newest first: only about what they may see now."""
        clean_limit(limit, most=1_000)
        user = self.access.actor(actor)
        with self.db.reading() as cur:
            rows = cur.execute(
                self._INBOX, [user.id, not unread_only, user.is_admin, user.id, limit]
            ).fetchall()
        return [
            Notification(
                id=int(r[0]),
                event=str(r[1]),
                created_at=as_utc(r[2]),
                read=bool(r[3]),
                text=str(json.loads(r[4]).get("text", "")),
                workspace_id=r[5],
                workspace_name=r[6],
                request_id=r[7],
            )
            for r in rows
        ]

    def unread_count(self, actor: User) -> int:
        user = self.access.actor(actor)
        with self.db.reading() as cur:
            row = cur.execute(
                """
                SELECT count(*) FROM inbox i JOIN outbox o ON o.id = i.event_id
                WHERE i.user_id = ? AND i.read_at IS NULL
                  AND (o.workspace_id IS NULL OR ?
                       OR o.workspace_id IN (SELECT workspace_id FROM memberships WHERE user_id = ?))
                """,
                [user.id, user.is_admin, user.id],
            ).fetchone()
        return int(row[0]) if row else 0

    def mark_read(self, actor: User, ids: Sequence[int] | None = None) -> int:
        """Mark the actor's own notifications read (all of them when `ids` is None);
        returns how many changed. Someone else's ids change nothing."""
        user = self.access.actor(actor)
        chosen = None if ids is None else [clean_id(i, what="notification") for i in ids]
        with self.db.writing() as cur:
            row = cur.execute(
                """
                UPDATE inbox SET read_at = ? WHERE user_id = ? AND read_at IS NULL
                  AND (? OR id IN (SELECT unnest(?::BIGINT[])))
                RETURNING id
                """,
                [self.db.clock(), user.id, chosen is None, chosen or []],
            ).fetchall()
        return len(row)

    # ---------------------------------------------------------- email settings
    def notification_settings(self, actor: User) -> NotificationSettings:
        user = self.access.actor(actor)
        with self.db.reading() as cur:
            row = cur.execute(
                "SELECT email_enabled, email_events FROM notification_settings WHERE user_id = ?", [user.id]
            ).fetchone()
        if row is None:
            return NotificationSettings(user.id, True, EVENT_NAMES)
        return NotificationSettings(user.id, bool(row[0]), tuple(json.loads(row[1])))

    def set_notification_settings(
        self, actor: User, *, email_enabled: bool, email_events: Iterable[str] = EVENT_NAMES
    ) -> NotificationSettings:
        """Which events the actor is emailed about, or no email at all (the inbox always)."""
        user = self.access.actor(actor)
        events = clean_events(email_events)
        if not isinstance(email_enabled, bool):
            raise InvalidInput("Email is either on or off.")
        with self.db.writing() as cur:
            before = cur.execute(
                "SELECT email_enabled, email_events FROM notification_settings WHERE user_id = ?", [user.id]
            ).fetchone()
            cur.execute("DELETE FROM notification_settings WHERE user_id = ?", [user.id])
            cur.execute(
                "INSERT INTO notification_settings (user_id, email_enabled, email_events) VALUES (?, ?, ?)",
                [user.id, email_enabled, json.dumps(list(events))],
            )
            audit.record(
                self.db,
                cur,
                at=self.db.clock(),
                actor_id=user.id,
                action=AuditAction.NOTIFICATIONS_SET,
                subject=f"user:{user.id}",
                workspace_id=None,
                before=None
                if before is None
                else {"email": bool(before[0]), "events": json.loads(before[1])},
                after={"email": email_enabled, "events": list(events)},
            )
        return NotificationSettings(user.id, email_enabled, events)

    # --------------------------------------------------------------- webhooks
    def add_webhook(self, actor: User, url: str, *, secret: str, events: Iterable[str]) -> Webhook:
        """An endpoint for signed events (admins). `secret` is 'whsec_' + base64."""
        user = self.access.admin(actor, "add webhooks")
        endpoint = clean_url(url)
        key = clean_secret(secret)
        chosen = clean_events(events)
        if not chosen:
            raise InvalidInput("Choose at least one event for the webhook.")
        at = self.db.clock()
        with self.db.writing() as cur:
            hook_id = self.db.next_id("webhooks")
            cur.execute(
                "INSERT INTO webhooks (id, url, secret, events, active, created_by, created_at) "
                "VALUES (?, ?, ?, ?, TRUE, ?, ?)",
                [hook_id, endpoint, key, json.dumps(list(chosen)), user.id, at],
            )
            audit.record(
                self.db,
                cur,
                at=at,
                actor_id=user.id,
                action=AuditAction.WEBHOOK_ADD,
                subject=f"webhook:{hook_id}",
                workspace_id=None,
                before=None,
                after={"url": endpoint, "events": list(chosen)},
            )
        return Webhook(hook_id, endpoint, chosen, True, as_utc(at))

    def webhooks(self, actor: User) -> list[Webhook]:
        self.access.admin(actor, "see webhooks")
        with self.db.reading() as cur:
            rows = cur.execute(
                "SELECT id, url, events, active, created_at FROM webhooks ORDER BY id"
            ).fetchall()
        return [
            Webhook(int(r[0]), str(r[1]), tuple(json.loads(r[2])), bool(r[3]), as_utc(r[4])) for r in rows
        ]

    def remove_webhook(self, actor: User, webhook_id: int) -> None:
        """Stop sending to an endpoint (its deliveries are kept in the log)."""
        user = self.access.admin(actor, "remove webhooks")
        clean_id(webhook_id, what="webhook")
        with self.db.writing() as cur:
            row = cur.execute("SELECT url, active FROM webhooks WHERE id = ?", [webhook_id]).fetchone()
            if row is None or not row[1]:
                raise NotFound(f"There is no active webhook {webhook_id}.")
            cur.execute("UPDATE webhooks SET active = FALSE WHERE id = ?", [webhook_id])
            audit.record(
                self.db,
                cur,
                at=self.db.clock(),
                actor_id=user.id,
                action=AuditAction.WEBHOOK_REMOVE,
                subject=f"webhook:{webhook_id}",
                workspace_id=None,
                before={"url": row[0], "active": True},
                after={"active": False},
            )

    _DELIVERY = """
        SELECT d.id, d.event_id, o.event, d.channel, d.target, d.status, d.attempts, d.last_error,
               d.last_status, d.response_ms, d.next_attempt_at, d.delivered_at, d.created_at
        FROM deliveries d JOIN outbox o ON o.id = d.event_id
    """

    def deliveries(self, actor: User, *, webhook_id: int | None = None, limit: int = 200) -> list[Delivery]:
        """The delivery log, newest first (admins): status, tries, last error, response time."""
        self.access.admin(actor, "see the delivery log")
        clean_limit(limit, most=10_000)
        target = None if webhook_id is None else f"webhook:{clean_id(webhook_id, what='webhook')}"
        with self.db.reading() as cur:
            rows = cur.execute(
                self._DELIVERY + " WHERE (? IS NULL OR d.target = ?) ORDER BY d.id DESC LIMIT ?",
                [target, target, limit],
            ).fetchall()
        return [_delivery(r) for r in rows]

    def send_again(self, actor: User, delivery_id: int) -> Delivery:
        """Queue a delivery again now, with its tries counted from zero (admins)."""
        user = self.access.admin(actor, "send deliveries again")
        clean_id(delivery_id, what="delivery")
        at = self.db.clock()
        with self.db.writing() as cur:
            row = cur.execute("SELECT status FROM deliveries WHERE id = ?", [delivery_id]).fetchone()
            if row is None:
                raise NotFound(f"There is no delivery {delivery_id}.")
            cur.execute(
                "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
                "lease_until = NULL WHERE id = ?",
                [at, delivery_id],
            )
            audit.record(
                self.db,
                cur,
                at=at,
                actor_id=user.id,
                action=AuditAction.DELIVERY_RETRY,
                subject=f"delivery:{delivery_id}",
                workspace_id=None,
                before={"status": row[0]},
                after={"status": "pending"},
            )
            again = cur.execute(self._DELIVERY + " WHERE d.id = ?", [delivery_id]).fetchone()
        return _delivery(again)

    # --------------------------------------------------------- balance alerts
    def set_thresholds(
        self,
        actor: User,
        workspace_id: int,
        *,
        top_up_share: object = ...,
        runway_days: object = ...,
        amounts: object = ...,
        spike_factor: object = ...,
    ) -> BalanceAlerts:
        """Change a workspace's low-balance levels (admins): the share of its last top-up
        (None: off), days of runway (several allowed), fixed amounts, the spike factor."""
        user = self.access.admin(actor, "change balance alerts")
        self.access.workspace(user, workspace_id)
        at = self.db.clock()
        with self.db.writing() as cur:
            current = _settings(cur, workspace_id)
            changed = alerts.clean_settings(
                current,
                top_up_share=top_up_share,
                runway_days=runway_days,
                amounts=amounts,
                spike_factor=spike_factor,
            )
            alerts.refresh_levels(self.db, cur, [workspace_id], at, settings={workspace_id: changed})
            audit.record(
                self.db,
                cur,
                at=at,
                actor_id=user.id,
                action=AuditAction.THRESHOLDS_SET,
                subject=f"workspace:{workspace_id}",
                workspace_id=workspace_id,
                before=json.loads(current.to_json()),
                after=json.loads(changed.to_json()),
            )
        return self.thresholds(actor, workspace_id)

    def thresholds(self, actor: User, workspace_id: int) -> BalanceAlerts:
        self.access.workspace(actor, workspace_id)
        with self.db.reading() as cur:
            settings = _settings(cur, workspace_id)
            row = cur.execute(
                "SELECT levels FROM balance_thresholds WHERE workspace_id = ?", [workspace_id]
            ).fetchone()
            active = cur.execute(
                "SELECT label FROM active_alerts WHERE workspace_id = ? ORDER BY since", [workspace_id]
            ).fetchall()
        return BalanceAlerts(
            workspace_id=workspace_id,
            top_up_share=settings.top_up_share,
            runway_days=settings.runway_days,
            amounts=settings.amounts,
            spike_factor=settings.spike_factor,
            levels=alerts.levels_from_json(row[0] if row else None),
            active=tuple(str(a[0]) for a in active),
        )

    # ------------------------------------------------------- the dispatcher
    def deliver_due(self, now: datetime | None = None) -> int:
        return dispatch.deliver_due(self.db, self.email, now)

    def refresh_thresholds(self, now: datetime | None = None) -> int:
        """Work every workspace's levels out again (the burn rate moves); returns how many."""
        at = now or self.db.clock()
        with self.db.writing() as cur:
            ids = [int(r[0]) for r in cur.execute("SELECT id FROM workspaces ORDER BY id").fetchall()]
            alerts.refresh_levels(self.db, cur, ids, at)
        return len(ids)

    def detect_spikes(self, now: datetime | None = None) -> int:
        return alerts.detect_spikes(self.db, now or self.db.clock())


def _settings(cur: Any, workspace_id: int) -> alerts.ThresholdSettings:
    row = cur.execute(
        "SELECT settings FROM balance_thresholds WHERE workspace_id = ?", [workspace_id]
    ).fetchone()
    return alerts.ThresholdSettings.from_json(row[0] if row else None)


def _delivery(r: tuple[Any, ...]) -> Delivery:
    return Delivery(
        id=int(r[0]),
        event_id=int(r[1]),
        event=str(r[2]),
        channel=str(r[3]),
        target=str(r[4]),
        status=DeliveryStatus(str(r[5])),
        attempts=int(r[6]),
        last_error=r[7],
        last_status=r[8],
        response_ms=r[9],
        next_attempt_at=as_utc(r[10]),
        delivered_at=as_utc(r[11]),
        created_at=as_utc(r[12]),
    )
