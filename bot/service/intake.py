"""Alertmanager intake: one delivery -> at most one incident change, committed before we answer.

The hot path uses Core statements in one synchronous unit of work (`apply_delivery`): on
SQLite many concurrent deliveries share one thread hop and one commit (group commit); on
PostgreSQL each runs in its own transaction with the open incident's row locked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, partial
from typing import Any

from sqlalchemy import Connection, Executable, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.adapters.db.clock import from_db
from bot.adapters.db.database import Database
from bot.adapters.db.group_commit import GroupCommitter
from bot.adapters.db.tables import ALERTS, EVENTS, INCIDENTS, OUTBOX
from bot.clock import Clock
from bot.config import Config
from bot.core.actors import ALERTMANAGER
from bot.core.escalation import policy_to_snapshot
from bot.core.grouping import (
    AlertIn,
    AlertKey,
    IntakePlan,
    KnownAlert,
    Notification,
    incident_title,
    plan_delivery,
)
from bot.core.routing import pick_route
from bot.incident_events import event_values
from bot.metrics import Metrics

log = logging.getLogger(__name__)

RunbookFinder = Callable[[Mapping[str, str]], str | None]
# how many of a group's past incidents a late redelivery is checked against
RECENT_INCIDENTS = 20


@dataclass
class IntakeResult:
    incident_ids: list[int] = field(default_factory=list)
    changed: bool = False
    opened: bool = False
    resolved: bool = False
    alert_changes: list[str] = field(default_factory=list)  # new status of each alert changed


@dataclass(frozen=True)
class IntakeContext:
    config: Config
    runbook_for: RunbookFinder
    lock_rows: bool  # SELECT … FOR UPDATE (PostgreSQL)


class IntakeService:
    def __init__(
        self,
        db: Database,
        config: Config,
        clock: Clock,
        metrics: Metrics,
        *,
        runbook_for: RunbookFinder = lambda _labels: None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.clock = clock
        self.metrics = metrics
        self.on_change = on_change
        self.context = IntakeContext(config, runbook_for, lock_rows=db.is_postgres)
        self.committer = GroupCommitter(db)

    async def ingest(self, notification: Notification) -> IntakeResult:
        """Apply a delivery; safe to call again with the same body."""
        work = partial(apply_delivery, notification=notification, context=self.context)
        try:
            result = await self.committer.submit(partial(work, now=self.clock.now()))
        except IntegrityError:
            # Another replica opened the same group's incident between our read and insert:
            # run again, now finding it open.
            result = await self.committer.submit(partial(work, now=self.clock.now()))
        self._count(result)
        if result.changed:
            self.on_change()
        return result

    def _count(self, result: IntakeResult) -> None:
        self.metrics.webhook_deliveries.inc()
        if not result.changed:
            self.metrics.webhook_duplicates.inc()
            return
        for status in result.alert_changes:
            self.metrics.alerts.labels(status=status).inc()
        if result.opened:
            self.metrics.incidents_opened.inc()
        if result.resolved:
            self.metrics.incidents_resolved.labels(by="alertmanager").inc()


@cache
def _statements(lock_rows: bool) -> dict[str, Executable]:
    """Built once and reused: constructing Core statements per request dominated the cost."""
    group_incidents = (
        select(
            INCIDENTS.c.id,
            INCIDENTS.c.truncated_alerts,
            INCIDENTS.c.version,
            INCIDENTS.c.open_key,
            INCIDENTS.c.channel,
        )
        .where(
            INCIDENTS.c.receiver == bindparam("receiver"),
            INCIDENTS.c.group_key == bindparam("group_key"),
        )
        .order_by(INCIDENTS.c.id.desc())
        .limit(RECENT_INCIDENTS)
    )
    return {
        "group_incidents": group_incidents.with_for_update() if lock_rows else group_incidents,
        "alerts_of": select(
            ALERTS.c.id, ALERTS.c.fingerprint, ALERTS.c.starts_at, ALERTS.c.status
        ).where(ALERTS.c.incident_id == bindparam("incident_id")),
        "resolved_keys": select(ALERTS.c.fingerprint, ALERTS.c.starts_at).where(
            ALERTS.c.incident_id.in_(bindparam("incident_ids", expanding=True)),
            ALERTS.c.fingerprint.in_(bindparam("fingerprints", expanding=True)),
        ),
        "insert_incident": insert(INCIDENTS),
        "insert_alerts": insert(ALERTS),
        "insert_events": insert(EVENTS),
        "insert_outbox": insert(OUTBOX),
        "update_alert": update(ALERTS).where(ALERTS.c.id == bindparam("b_alert")),
        "resolve_alerts": update(ALERTS)
        .where(ALERTS.c.incident_id == bindparam("b_incident"), ALERTS.c.status != "resolved")
        .values(status="resolved", ends_at=bindparam("now")),
        "update_incident": update(INCIDENTS).where(INCIDENTS.c.id == bindparam("b_incident")),
    }


def apply_delivery(
    conn: Connection, *, notification: Notification, context: IntakeContext, now: datetime
) -> IntakeResult:
    sql = _statements(context.lock_rows)
    group = conn.execute(
        sql["group_incidents"],
        {"receiver": notification.receiver, "group_key": notification.group_key},
    ).all()
    incident = next((row for row in group if row.open_key is not None), None)
    if incident is None:
        resolved = _resolved_alert_keys(conn, sql, notification, [row.id for row in group])
        plan = plan_delivery(notification, None, resolved_elsewhere=resolved)
    else:
        known = [
            KnownAlert(r.fingerprint, from_db(r.starts_at), r.status)
            for r in _alerts_of(conn, sql, incident.id)
        ]
        plan = plan_delivery(notification, known, open_truncated=incident.truncated_alerts)
    if not plan.changes_anything:
        return IntakeResult([incident.id] if incident is not None else [])
    writer = _IncidentWriter(conn, sql, notification, now)
    if incident is None:
        incident_id = writer.open(context, plan)
    else:
        incident_id = incident.id
        writer.incident_id, writer.version = incident.id, incident.version
        writer.channel = incident.channel
    writer.apply(plan)
    return IntakeResult(
        [incident_id],
        changed=True,
        opened=plan.open_incident,
        resolved=plan.resolve_incident,
        alert_changes=[a.status for a in (*plan.new_alerts, *plan.changed_alerts)],
    )


Statements = dict[str, Executable]


def _alerts_of(conn: Connection, sql: Statements, incident_id: int) -> list[Any]:
    return list(conn.execute(sql["alerts_of"], {"incident_id": incident_id}).all())


def _resolved_alert_keys(
    conn: Connection, sql: Statements, notification: Notification, incident_ids: list[int]
) -> set[AlertKey]:
    fingerprints = [a.fingerprint for a in notification.alerts if a.status == "firing"]
    if not fingerprints or not incident_ids:
        return set()
    params = {"incident_ids": incident_ids, "fingerprints": fingerprints}
    return {(fp, from_db(starts)) for fp, starts in conn.execute(sql["resolved_keys"], params)}


class _IncidentWriter:
    """Collects one delivery's rows and writes them with as few statements as possible."""

    def __init__(
        self, conn: Connection, sql: Statements, notification: Notification, now: datetime
    ) -> None:
        self.conn = conn
        self.sql = sql
        self.notification = notification
        self.now = now
        self.incident_id = 0
        self.version = 0
        self.channel: str | None = None
        self.events: list[dict[str, Any]] = []
        self.outbox_rows: list[dict[str, Any]] = []
        self.changes: dict[str, Any] = {}
        self.opened = False

    def open(self, context: IntakeContext, plan: IntakePlan) -> int:
        n = self.notification
        labels = n.labels
        route = pick_route(context.config.routes, labels)
        policy = context.config.policies.get(route.policy) if route and route.policy else None
        channel = (route.channel if route else None) or context.config.slack_channel
        self.channel = channel
        inserted = self.conn.execute(
            self.sql["insert_incident"],
            {
                "receiver": n.receiver,
                "group_key": n.group_key,
                "open_key": n.open_key,
                "title": incident_title(n),
                "status": "triggered",
                "severity": labels.get("severity"),
                "labels": labels,
                "annotations": dict(n.common_annotations),
                "external_url": n.external_url,
                "truncated_alerts": 0,
                "channel": channel,
                "runbook_id": context.runbook_for(labels),
                "policy_name": policy.name if policy else None,
                "policy_snapshot": policy_to_snapshot(policy) if policy else {},
                "esc_step": 0,
                "esc_loop": 0,
                # step 1 fires when the incident opens: the engine picks it up at once
                "next_due_at": self.now if policy else None,
                "opened_at": self.now,
                # the events this delivery writes (opened + one per alert), so no UPDATE follows
                "version": 1 + len(plan.new_alerts),
            },
        )
        self.opened = True
        key = inserted.inserted_primary_key
        assert key is not None
        self.incident_id = int(key[0])
        detail = f"opened from Alertmanager group {n.group_key}"
        if policy is None:
            detail += " (no route or policy matched: nobody will be paged)"
        self.event("opened", detail)
        self.outbox("incident_post", f"post:{self.incident_id}", channel)
        return self.incident_id

    def apply(self, plan: IntakePlan) -> None:
        if plan.new_alerts:
            rows = [self._alert_row(a) for a in plan.new_alerts]
            self.conn.execute(self.sql["insert_alerts"], rows)
            for alert in plan.new_alerts:
                self._alert_event(alert)
        if plan.changed_alerts:
            self._update_alerts(plan.changed_alerts)
        if plan.truncated_alerts is not None:
            self.changes["truncated_alerts"] = plan.truncated_alerts
        if plan.resolve_incident:
            self._resolve()
        self._flush()

    def _update_alerts(self, changed: list[AlertIn]) -> None:
        rows = {
            (r.fingerprint, from_db(r.starts_at)): r
            for r in _alerts_of(self.conn, self.sql, self.incident_id)
        }
        for alert in changed:
            row = rows[alert.key]
            self.conn.execute(
                self.sql["update_alert"],
                {"b_alert": row.id, "status": alert.status, "ends_at": alert.ends_at},
            )
            reopened = row.status == "resolved" and alert.status == "firing"
            self._alert_event(alert, reopened=reopened)

    def _resolve(self) -> None:
        self.conn.execute(
            self.sql["resolve_alerts"], {"b_incident": self.incident_id, "now": self.now}
        )
        self.changes.update(
            status="resolved", resolved_at=self.now, open_key=None, next_due_at=None
        )
        self.event("resolved", "all alerts resolved in Alertmanager", thread={})

    def _alert_row(self, alert: AlertIn) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "fingerprint": alert.fingerprint,
            "status": alert.status,
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "starts_at": alert.starts_at,
            "ends_at": alert.ends_at,
            "generator_url": alert.generator_url,
        }

    def _alert_event(self, alert: AlertIn, *, reopened: bool = False) -> None:
        name = alert.labels.get("instance") or alert.fingerprint
        self.event(
            "reopened" if reopened else f"alert_{alert.status}",
            f"alert {name} {alert.status}",
            {"fingerprint": alert.fingerprint, "status": alert.status},
            thread={"alert": name},
        )

    def event(
        self,
        type_: str,
        detail: str,
        data: dict[str, Any] | None = None,
        *,
        thread: dict[str, Any] | None = None,
    ) -> None:
        """Record an event; with `thread`, also tell the incident thread (not on open: the
        incident message itself shows the first alerts)."""
        self.events.append(
            event_values(
                self.incident_id,
                type_,
                ALERTMANAGER,
                counted=True,
                now=self.now,
                detail=detail,
                data=data,
            )
        )
        if thread is not None and not self.opened:
            # the event's own version number keys the message: unique, and stable on retry
            key = f"thread:{self.incident_id}:{type_}:v{self.version + len(self.events)}"
            self.outbox("thread", key, self.channel, {"template": type_, **thread})

    def outbox(
        self, kind: str, key: str, channel: str | None, payload: dict[str, Any] | None = None
    ) -> None:
        self.outbox_rows.append(
            {
                "incident_id": self.incident_id,
                "dedup_key": key,
                "kind": kind,
                "channel": channel,
                "payload": payload or {},
                "status": "pending",
                "attempts": 0,
                "not_before": self.now,
                "created_at": self.now,
            }
        )

    def _flush(self) -> None:
        if not self.opened:
            # every event bumps the version, as bot.incident_events.add_event does; a change
            # without an event (truncation count) still bumps it, so update keys stay unique
            self.version += max(1, len(self.events))
            key = f"update:{self.incident_id}:{self.version}"
            self.outbox("incident_update", key, self.channel)
        self.conn.execute(self.sql["insert_events"], self.events)
        self.conn.execute(self.sql["insert_outbox"], self.outbox_rows)
        if self.opened and not self.changes:
            return  # inserted with its final version
        self.conn.execute(
            self.sql["update_incident"],
            {"b_incident": self.incident_id, "version": self.version, **self.changes},
        )
