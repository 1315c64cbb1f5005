"""Appending provenance events: every state change and every refused attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.clock import to_db
from bot.adapters.db.tables import Event, Incident
from bot.core.actors import Actor


def event_values(
    incident_id: int,
    type: str,
    actor: Actor,
    *,
    counted: bool,
    now: datetime,
    detail: str = "",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One `events` row as Core insert values, for writers that insert many rows at once.

    Whoever uses this bumps the incident's version once per row, as `add_event` does.
    """
    return {
        "incident_id": incident_id,
        "at": to_db(now),
        "type": type,
        "actor_kind": actor.kind.value,
        "actor_id": actor.id,
        "actor_name": actor.name,
        "counted": counted,
        "detail": detail,
        "data": data or {},
    }


def add_event(
    session: AsyncSession,
    incident: Incident,
    type: str,
    actor: Actor,
    *,
    counted: bool,
    now: datetime,
    detail: str = "",
    data: dict[str, Any] | None = None,
) -> Event:
    """Append an event and bump the incident's version (its fencing token)."""
    assert incident.id is not None, "flush the incident before adding events"
    row = Event(
        **event_values(incident.id, type, actor, counted=counted, now=now, detail=detail, data=data)
    )
    session.add(row)
    incident.version += 1
    session.add(incident)
    return row
