"""Alertmanager intake: one delivery -> at most one incident change, committed before we answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.clock import from_db, to_db
from bot.adapters.db.database import Database
from bot.adapters.db.tables import Alert, Incident, Outbox
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
from bot.incident_events import add_event
from bot.metrics import Metrics

log = logging.getLogger(__name__)

RunbookFinder = Callable[[Mapping[str, str]], str | None]


@dataclass
class IntakeResult:
    incident_ids: list[int] = field(default_factory=list)
    changed: bool = False
    opened: bool = False
    resolved: bool = False
    alert_changes: list[str] = field(default_factory=list)  # new status of each alert changed


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
        self.db = db
        self.config = config
        self.clock = clock
        self.metrics = metrics
        self.runbook_for = runbook_for
        self.on_change = on_change

    async def ingest(self, notification: Notification) -> IntakeResult:
        """Apply a delivery; safe to call again with the same body."""
        try:
            result = await self._ingest_once(notification)
        except IntegrityError:
            # Another replica opened the same group's incident between our read and insert:
            # run again, now finding it open.
            result = await self._ingest_once(notification)
        self._count(result)
        if result.changed:
            self.on_change()
        return result

    async def _ingest_once(self, notification: Notification) -> IntakeResult:
        now = self.clock.now()
        async with self.db.transaction() as session:
            incident = await self._open_incident(session, notification.open_key)
            if incident is None:
                resolved = await self._resolved_alert_keys(session, notification)
                plan = plan_delivery(notification, None, resolved_elsewhere=resolved)
            else:
                known = await self._alerts_of(session, incident)
                plan = plan_delivery(
                    notification,
                    [KnownAlert(a.fingerprint, from_db(a.starts_at), a.status) for a in known],
                    open_truncated=incident.truncated_alerts,
                )
            if not plan.changes_anything:
                return IntakeResult([incident.id] if incident and incident.id else [])
            if incident is None:
                incident = await self._open(session, notification, now)
            await self._apply(session, incident, plan, now)
            assert incident.id is not None
            return IntakeResult(
                [incident.id],
                changed=True,
                opened=plan.open_incident,
                resolved=plan.resolve_incident,
                alert_changes=[a.status for a in (*plan.new_alerts, *plan.changed_alerts)],
            )

    async def _open_incident(self, session: AsyncSession, open_key: str) -> Incident | None:
        query = select(Incident).where(Incident.open_key == open_key)
        if self.db.is_postgres:
            query = query.with_for_update()
        return (await session.exec(query)).first()

    async def _alerts_of(self, session: AsyncSession, incident: Incident) -> list[Alert]:
        query = select(Alert).where(Alert.incident_id == incident.id)
        return list((await session.exec(query)).all())

    async def _resolved_alert_keys(
        self, session: AsyncSession, notification: Notification
    ) -> set[AlertKey]:
        fingerprints = [a.fingerprint for a in notification.alerts if a.status == "firing"]
        if not fingerprints:
            return set()
        query = (
            select(Alert.fingerprint, Alert.starts_at)
            .join(Incident, col(Incident.id) == col(Alert.incident_id))
            .where(
                Incident.receiver == notification.receiver,
                Incident.group_key == notification.group_key,
                col(Incident.open_key).is_(None),
                col(Alert.fingerprint).in_(fingerprints),
            )
        )
        return {(fp, from_db(starts)) for fp, starts in (await session.exec(query)).all()}

    async def _open(
        self, session: AsyncSession, notification: Notification, now: datetime
    ) -> Incident:
        labels = notification.labels
        route = pick_route(self.config.routes, labels)
        policy = self.config.policies.get(route.policy) if route and route.policy else None
        incident = Incident(
            receiver=notification.receiver,
            group_key=notification.group_key,
            open_key=notification.open_key,
            title=incident_title(notification),
            severity=labels.get("severity"),
            labels=labels,
            annotations=dict(notification.common_annotations),
            external_url=notification.external_url,
            channel=(route.channel if route else None) or self.config.slack_channel,
            runbook_id=self.runbook_for(labels),
            policy_name=policy.name if policy else None,
            policy_snapshot=policy_to_snapshot(policy) if policy else {},
            # step 1 fires when the incident opens: the engine picks it up at once
            next_due_at=to_db(now) if policy else None,
            opened_at=to_db(now),
        )
        session.add(incident)
        await session.flush()
        detail = f"opened from Alertmanager group {notification.group_key}"
        if policy is None:
            detail += " (no route or policy matched: nobody will be paged)"
        add_event(session, incident, "opened", ALERTMANAGER, counted=True, now=now, detail=detail)
        self._enqueue(session, incident, "incident_post", f"post:{incident.id}", now)
        return incident

    async def _apply(
        self, session: AsyncSession, incident: Incident, plan: IntakePlan, now: datetime
    ) -> None:
        assert incident.id is not None
        for alert in plan.new_alerts:
            session.add(_alert_row(incident.id, alert))
            self._alert_event(session, incident, alert, now)
        if plan.changed_alerts:
            rows = {
                (a.fingerprint, from_db(a.starts_at)): a
                for a in await self._alerts_of(session, incident)
            }
            for alert in plan.changed_alerts:
                row = rows[alert.key]
                reopened = row.status == "resolved" and alert.status == "firing"
                row.status = alert.status
                row.ends_at = to_db(alert.ends_at) if alert.ends_at else None
                session.add(row)
                self._alert_event(session, incident, alert, now, reopened=reopened)
        if plan.truncated_alerts is not None:
            incident.truncated_alerts = plan.truncated_alerts
        if plan.resolve_incident:
            await self._resolve(session, incident, now)
        if not plan.open_incident:
            self._enqueue(
                session,
                incident,
                "incident_update",
                f"update:{incident.id}:{incident.version}",
                now,
            )

    def _alert_event(
        self,
        session: AsyncSession,
        incident: Incident,
        alert: AlertIn,
        now: datetime,
        *,
        reopened: bool = False,
    ) -> None:
        name = alert.labels.get("instance") or alert.fingerprint
        kind = "reopened" if reopened else f"alert_{alert.status}"
        add_event(
            session,
            incident,
            kind,
            ALERTMANAGER,
            counted=True,
            now=now,
            detail=f"alert {name} {alert.status}",
            data={"fingerprint": alert.fingerprint, "status": alert.status},
        )

    async def _resolve(self, session: AsyncSession, incident: Incident, now: datetime) -> None:
        for row in await self._alerts_of(session, incident):
            if row.status != "resolved":
                row.status = "resolved"
                row.ends_at = row.ends_at or to_db(now)
                session.add(row)
        incident.status = "resolved"
        incident.resolved_at = to_db(now)
        incident.open_key = None
        incident.next_due_at = None
        add_event(
            session,
            incident,
            "resolved",
            ALERTMANAGER,
            counted=True,
            now=now,
            detail="all alerts resolved in Alertmanager",
        )

    def _enqueue(
        self, session: AsyncSession, incident: Incident, kind: str, key: str, now: datetime
    ) -> None:
        session.add(
            Outbox(
                incident_id=incident.id,
                dedup_key=key,
                kind=kind,
                channel=incident.channel,
                payload={},
                not_before=to_db(now),
                created_at=to_db(now),
            )
        )

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


def _alert_row(incident_id: int, alert: AlertIn) -> Alert:
    return Alert(
        incident_id=incident_id,
        fingerprint=alert.fingerprint,
        status=alert.status,
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        starts_at=to_db(alert.starts_at),
        ends_at=to_db(alert.ends_at) if alert.ends_at else None,
        generator_url=alert.generator_url,
    )
