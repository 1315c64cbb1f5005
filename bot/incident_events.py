"""Appending provenance events: every state change and every refused attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.clock import to_db
from bot.adapters.db.tables import Event, Incident
from bot.core.actors import Actor


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
        incident_id=incident.id,
        at=to_db(now),
        type=type,
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        actor_name=actor.name,
        counted=counted,
        detail=detail,
        data=data or {},
    )
    session.add(row)
    incident.version += 1
    session.add(incident)
    return row
