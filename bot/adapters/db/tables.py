"""SQLModel tables. Datetimes are aware UTC (sqlmodel refuses naive ones)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Table, UniqueConstraint
from sqlmodel import Field, SQLModel


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Incident(SQLModel, table=True):
    __tablename__ = "incidents"
    # (status, next_due_at) also serves lookups by status alone
    __table_args__ = (
        Index("ix_incidents_due", "status", "next_due_at"),
        Index("ix_incidents_group", "receiver", "group_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    receiver: str = Field(max_length=255)
    group_key: str = Field(max_length=2048)
    # "<receiver>\n<groupKey>" while open, NULL once resolved: the unique index makes
    # (receiver, groupKey) map to at most one open incident; NULLs never collide.
    open_key: str | None = Field(default=None, max_length=2400, unique=True)
    title: str = Field(max_length=500)
    status: str = Field(default="triggered", max_length=20)
    severity: str | None = Field(default=None, max_length=50)
    labels: dict[str, str] = _json()
    annotations: dict[str, str] = _json()
    external_url: str | None = Field(default=None, max_length=2048)
    truncated_alerts: int = 0
    channel: str | None = Field(default=None, max_length=64)
    runbook_id: str | None = Field(default=None, max_length=255)
    policy_name: str | None = Field(default=None, max_length=255)
    policy_snapshot: dict[str, Any] = _json()
    owner_slack_id: str | None = Field(default=None, max_length=64)
    owner_name: str | None = Field(default=None, max_length=255)
    acked_at: datetime | None = None
    acked_via: str | None = Field(default=None, max_length=20)
    esc_step: int = 0  # 1-based step that fired last; 0 before the first
    esc_loop: int = 0
    next_due_at: datetime | None = None
    opened_at: datetime
    resolved_at: datetime | None = None
    slack_channel: str | None = Field(default=None, max_length=64)
    slack_ts: str | None = Field(default=None, max_length=64)
    # bumped on every change: a fencing token for timers and message updates
    version: int = 0


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    # the identity's unique index also serves lookups by incident (alerts are only ever
    # read through their incident), so the alerts table carries no other index
    __table_args__ = (
        UniqueConstraint("incident_id", "fingerprint", "starts_at", name="uq_alert_identity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id")
    fingerprint: str = Field(max_length=64)
    status: str = Field(max_length=20)
    labels: dict[str, str] = _json()
    annotations: dict[str, str] = _json()
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str | None = Field(default=None, max_length=2048)


class Event(SQLModel, table=True):
    """Append-only: every state change and every refused attempt."""

    __tablename__ = "events"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    at: datetime
    type: str = Field(max_length=40)
    actor_kind: str = Field(max_length=20)
    actor_id: str = Field(max_length=255)
    actor_name: str = Field(max_length=255)
    counted: bool
    detail: str = Field(default="", max_length=4000)
    data: dict[str, Any] = _json()


class Outbox(SQLModel, table=True):
    """Outgoing Slack work, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "not_before"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incidents.id", index=True)
    # unique per logical message, e.g. "page:17:2:0:alice": a retried transaction or a
    # second replica can never enqueue the same notification twice
    dedup_key: str = Field(max_length=512, unique=True)
    kind: str = Field(max_length=40)
    channel: str | None = Field(default=None, max_length=64)  # Slack channel/user id
    payload: dict[str, Any] = _json()
    status: str = Field(default="pending", max_length=20)  # pending | sent | failed
    attempts: int = 0
    not_before: datetime
    created_at: datetime
    sent_at: datetime | None = None
    slack_channel: str | None = Field(default=None, max_length=64)
    slack_ts: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, max_length=2000)


class ScheduleOverride(SQLModel, table=True):
    """An on-call override made from Slack (`/oncall override`); config overrides stay in YAML."""

    __tablename__ = "schedule_overrides"

    id: int | None = Field(default=None, primary_key=True)
    schedule: str = Field(max_length=255, index=True)
    person: str = Field(max_length=255)
    starts_at: datetime
    ends_at: datetime
    created_by: str = Field(max_length=255)
    created_at: datetime


class ReplayGuard(SQLModel, table=True):
    """Slack request signatures seen in the last few minutes; a replay is refused."""

    __tablename__ = "slack_replay_guard"

    signature: str = Field(primary_key=True, max_length=128)
    seen_at: datetime = Field(index=True)


metadata = SQLModel.metadata

# Core table objects, for hot paths that skip the ORM's unit of work.
INCIDENTS: Table = Incident.__table__  # type: ignore[attr-defined]
ALERTS: Table = Alert.__table__  # type: ignore[attr-defined]
EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
OUTBOX: Table = Outbox.__table__  # type: ignore[attr-defined]
SCHEDULE_OVERRIDES: Table = ScheduleOverride.__table__  # type: ignore[attr-defined]
