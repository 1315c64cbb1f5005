"""Alertmanager intake: one delivery -> at most one incident change, committed before we answer.

The hot path uses Core statements in one synchronous unit of work (`apply_delivery`): on
SQLite many concurrent deliveries share one thread hop and one commit (group commit); on
PostgreSQL each runs in its own transaction with the open incident's row locked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from bot.adapters.db.clock import from_db
from bot.adapters.db.database import Database
from bot.adapters.db.group_commit import GroupCommitter
from bot.adapters.db.prepared import StatementRunner
from bot.clock import Clock
from bot.config import Config
from bot.core.grouping import KnownAlert, Notification, plan_delivery
from bot.metrics import Metrics
from bot.service.escalation import Advanced
from bot.service.intake_writer import (
    IncidentWriter,
    RunbookFinder,
    alerts_of,
    resolved_alert_keys,
    statements,
)


@dataclass
class IntakeResult:
    incident_ids: list[int] = field(default_factory=list)
    changed: bool = False
    opened: bool = False
    resolved: bool = False
    alert_changes: list[str] = field(default_factory=list)  # new status of each alert changed
    channels: frozenset[str | None] = frozenset()  # where its outbox rows go
    advanced: Advanced | None = None  # opened with a policy: step 1 fired


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
        on_change: Callable[[IntakeResult], None] = lambda _result: None,
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
            self.on_change(result)
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


def apply_delivery(
    conn: Connection, *, notification: Notification, context: IntakeContext, now: datetime
) -> IntakeResult:
    db = StatementRunner(conn, statements(context.lock_rows))
    group = db.rows(
        "group_incidents",
        {"receiver": notification.receiver, "group_key": notification.group_key},
    )
    incident = next((row for row in group if row.open_key is not None), None)
    if incident is None:
        resolved = resolved_alert_keys(db, notification, [row.id for row in group])
        plan = plan_delivery(notification, None, resolved_elsewhere=resolved.keys())
        if not plan.changes_anything:
            # a late or repeated delivery for an incident already resolved: name it
            seen = {resolved[a.key] for a in notification.alerts if a.key in resolved}
            return IntakeResult([max(seen)] if seen else [])
    else:
        known = [
            KnownAlert(r.fingerprint, from_db(r.starts_at), r.status)
            for r in alerts_of(db, incident.id)
        ]
        plan = plan_delivery(notification, known, open_truncated=incident.truncated_alerts)
    if not plan.changes_anything:
        return IntakeResult([incident.id] if incident is not None else [])
    writer = IncidentWriter(db, notification, now)
    if incident is None:
        incident_id = writer.open(context.config, context.runbook_for, plan)
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
        channels=frozenset(row["channel"] for row in writer.outbox_rows),
        advanced=writer.advanced,
    )
