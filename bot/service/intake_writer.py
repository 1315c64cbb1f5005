"""The rows one Alertmanager delivery writes: Core statements built once, few round trips."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Executable, bindparam, insert, select, update

from bot.adapters.db.clock import from_db
from bot.adapters.db.prepared import StatementRunner
from bot.adapters.db.tables import ALERTS, EVENTS, INCIDENTS, OUTBOX
from bot.config import Config
from bot.core.actors import ALERTMANAGER
from bot.core.escalation import Policy, policy_to_snapshot
from bot.core.grouping import AlertIn, AlertKey, IntakePlan, Notification, incident_title
from bot.core.routing import pick_route
from bot.incident_events import event_values
from bot.service.escalation import Advanced, fire_on_open
from bot.service.escalation_writer import EscalatingIncident

RunbookFinder = Callable[[Mapping[str, str]], str | None]
Statements = dict[str, Executable]
# how many of a group's past incidents a late redelivery is checked against
RECENT_INCIDENTS = 20


@cache
def statements(lock_rows: bool) -> Statements:
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
        "resolved_keys": select(
            ALERTS.c.fingerprint, ALERTS.c.starts_at, ALERTS.c.incident_id
        ).where(
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


def alerts_of(db: StatementRunner, incident_id: int) -> list[Any]:
    return db.rows("alerts_of", {"incident_id": incident_id})


def resolved_alert_keys(
    db: StatementRunner, notification: Notification, incident_ids: list[int]
) -> dict[AlertKey, int]:
    """The delivery's alerts already seen in the group's resolved incidents -> incident id."""
    fingerprints = sorted({a.fingerprint for a in notification.alerts})
    if not fingerprints or not incident_ids:
        return {}
    params = {"incident_ids": incident_ids, "fingerprints": fingerprints}
    return {
        (r.fingerprint, from_db(r.starts_at)): r.incident_id
        for r in db.rows("resolved_keys", params)
    }


class IncidentWriter:
    """Collects one delivery's rows and writes them with as few statements as possible."""

    def __init__(self, db: StatementRunner, notification: Notification, now: datetime) -> None:
        self.db = db
        self.notification = notification
        self.now = now
        self.incident_id = 0
        self.version = 0
        self.channel: str | None = None
        self.events: list[dict[str, Any]] = []
        self.outbox_rows: list[dict[str, Any]] = []
        self.changes: dict[str, Any] = {}
        self.opened = False
        self.config: Config | None = None
        self.escalation: EscalatingIncident | None = None  # opened with a policy
        self.policy: Policy | None = None
        self.advanced: Advanced | None = None  # its first step, fired here

    def open(self, config: Config, runbook_for: RunbookFinder, plan: IntakePlan) -> int:
        n = self.notification
        labels = n.labels
        route = pick_route(config.routes, labels)
        policy = config.policies.get(route.policy) if route and route.policy else None
        channel = (route.channel if route else None) or config.slack_channel
        self.channel = channel
        self.config = config
        snapshot = policy_to_snapshot(policy) if policy else {}
        version = 1 + len(plan.new_alerts)  # the events this delivery writes: opened + alerts
        self.incident_id = self.db.insert_id(
            "insert_incident",
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
                "runbook_id": runbook_for(labels),
                "policy_name": policy.name if policy else None,
                "policy_snapshot": snapshot,
                "esc_step": 0,
                "esc_loop": 0,
                "next_due_at": self.now if policy else None,
                "opened_at": self.now,
                "version": version,  # so no UPDATE follows unless a step fires
            },
        )
        self.opened = True
        if policy is not None:
            self.policy = policy
            self.escalation = EscalatingIncident.opened(
                self.incident_id, self.now, version, snapshot, channel
            )
        detail = f"opened from Alertmanager group {n.group_key}"
        if policy is None:
            detail += " (no route or policy matched: nobody will be paged)"
        self.event("opened", detail)
        self.outbox("incident_post", f"post:{self.incident_id}", channel)
        return self.incident_id

    def apply(self, plan: IntakePlan) -> None:
        if plan.new_alerts:
            rows = [self._alert_row(a) for a in plan.new_alerts]
            self.db.run("insert_alerts", rows)
            for alert in plan.new_alerts:
                self._alert_event(alert)
        if plan.changed_alerts:
            self._update_alerts(plan.changed_alerts)
        if plan.truncated_alerts is not None:
            self.changes["truncated_alerts"] = plan.truncated_alerts
        if plan.resolve_incident:
            self._resolve()
        elif self.escalation is not None:
            self._fire_first_step(self.escalation)
        self._flush()

    def _fire_first_step(self, incident: EscalatingIncident) -> None:
        assert self.config is not None and self.policy is not None
        self.advanced, rows = fire_on_open(
            self.db.conn, incident, self.policy, self.config, self.now
        )
        self.events.extend(rows.events)
        self.outbox_rows.extend(rows.outbox)
        self.changes.update(
            esc_step=incident.esc_step,
            esc_loop=incident.esc_loop,
            next_due_at=incident.next_due_at,
            version=incident.version,
        )

    def _update_alerts(self, changed: list[AlertIn]) -> None:
        rows = {
            (r.fingerprint, from_db(r.starts_at)): r for r in alerts_of(self.db, self.incident_id)
        }
        for alert in changed:
            row = rows[alert.key]
            self.db.run(
                "update_alert",
                {"b_alert": row.id, "status": alert.status, "ends_at": alert.ends_at},
            )
            reopened = row.status == "resolved" and alert.status == "firing"
            self._alert_event(alert, reopened=reopened)

    def _resolve(self) -> None:
        self.db.run("resolve_alerts", {"b_incident": self.incident_id, "now": self.now})
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
        self.db.run("insert_events", self.events)
        self.db.run("insert_outbox", self.outbox_rows)
        if self.opened and not self.changes:
            return  # inserted with its final version
        self.db.run(
            "update_incident",
            {"b_incident": self.incident_id, "version": self.version, **self.changes},
        )
