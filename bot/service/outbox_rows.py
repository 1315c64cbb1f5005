"""Outbox rows for an incident, written in the caller's transaction (see the outbox
contract: the Slack sender delivers them after commit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.clock import to_db
from bot.adapters.db.database import Database
from bot.adapters.db.tables import Event, Incident, Outbox


def enqueue_update(session: AsyncSession, incident: Incident, now: datetime) -> None:
    """Re-render the incident message in place (the sender coalesces pending updates)."""
    enqueue(
        session, incident, "incident_update", f"update:{incident.id}:{incident.version}", {}, now
    )


def enqueue_thread(
    session: AsyncSession,
    incident: Incident,
    event: Event,
    template: str,
    now: datetime,
    **fields: Any,
) -> None:
    """A timeline reply in the incident thread, keyed by the event it reports."""
    enqueue(
        session,
        incident,
        "thread",
        f"thread:{incident.id}:{template}:{event.id}",
        {"template": template, **fields},
        now,
    )


def enqueue(
    session: AsyncSession,
    incident: Incident,
    kind: str,
    key: str,
    payload: dict[str, Any],
    now: datetime,
    channel: str | None = None,
) -> None:
    session.add(
        Outbox(
            incident_id=incident.id,
            dedup_key=key,
            kind=kind,
            channel=channel or incident.slack_channel or incident.channel,
            payload=payload,
            not_before=to_db(now),
            created_at=to_db(now),
        )
    )


async def load_for_update(session: AsyncSession, db: Database, incident_id: int) -> Incident | None:
    query = select(Incident).where(Incident.id == incident_id)
    if db.is_postgres:
        query = query.with_for_update()
    return (await session.exec(query)).first()
