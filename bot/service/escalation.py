"""The transactional half of escalation: claim due incidents, let the core decide, and
write the new state, its events and its outbox rows in the same transaction.

PostgreSQL: due rows are claimed `FOR UPDATE SKIP LOCKED`, so replicas share the work and
an acknowledgement holding the row lock makes the tick pass it by. SQLite: the single
writer serializes everything. Either way a step fires once; the unique outbox keys
(incident, step, loop, target) would refuse a second copy even if it did not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.clock import from_db, to_db
from bot.adapters.db.tables import Event, Incident
from bot.config import Config
from bot.core import escalation as core
from bot.core.actors import TIMER, Actor
from bot.incident_events import add_event
from bot.service.escalation_writer import PageWriter, Rows
from bot.service.targets import DbOverrides, active_overrides

OPEN = (core.TRIGGERED, core.ACKNOWLEDGED)


@dataclass(frozen=True)
class Advanced:
    """One incident moved on by the timer, for metrics and logs."""

    incident_id: int
    due_at: datetime
    steps_fired: int
    gaps: int
    notified: int
    ack_timed_out: bool
    channels: frozenset[str | None] = frozenset()  # where its outbox rows go


async def claim_due(
    session: AsyncSession, now: datetime, limit: int, *, postgres: bool
) -> list[Incident]:
    query = (
        select(Incident)
        .where(
            col(Incident.next_due_at) <= to_db(now),
            col(Incident.status).in_(OPEN),
        )
        .order_by(col(Incident.next_due_at))
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    return list((await session.exec(query)).all())


async def next_due(session: AsyncSession) -> datetime | None:
    """The earliest due time of any open incident (aware), to plan the next tick."""
    query = select(func.min(Incident.next_due_at)).where(col(Incident.status).in_(OPEN))
    value = (await session.exec(query)).one()
    return from_db(value) if isinstance(value, datetime) else None


async def advance_due(
    session: AsyncSession, config: Config, now: datetime, limit: int, *, postgres: bool
) -> list[Advanced]:
    """Claim up to `limit` due incidents and advance each one."""
    incidents = await claim_due(session, now, limit, postgres=postgres)
    if not incidents:
        return []
    overrides = await active_overrides(session, now)
    restarts = await _restart_counts(session, [i.id for i in incidents if i.id is not None])
    rows = Rows()
    advanced = [
        await advance_incident(
            session, i, config, now, overrides, restarts.get(i.id or 0, 0), rows=rows
        )
        for i in incidents
    ]
    await rows.write(session)
    return advanced


async def _restart_counts(session: AsyncSession, ids: list[int]) -> dict[int, int]:
    """How many ack timeouts each incident has had, for the whole batch in one query."""
    query = (
        select(Event.incident_id, func.count())
        .where(col(Event.incident_id).in_(ids), Event.type == "ack_timeout")
        .group_by(col(Event.incident_id))
    )
    return {incident_id: int(n) for incident_id, n in (await session.exec(query)).all()}


async def advance_incident(
    session: AsyncSession,
    incident: Incident,
    config: Config,
    now: datetime,
    overrides: DbOverrides | None = None,
    restarts: int | None = None,
    *,
    rows: Rows | None = None,
) -> Advanced:
    """Advance one claimed incident. Its events and outbox rows go to `rows` for the
    caller to write with the rest of its batch, or are written here when it is None."""
    assert incident.id is not None and incident.next_due_at is not None
    due_at = from_db(incident.next_due_at)
    if overrides is None:
        overrides = await active_overrides(session, now)
    writer = PageWriter(session, incident, config, now, overrides, TIMER, restarts)
    result = core.advance(writer.policy, _state(incident), now, writer.reaches)
    if result.ack_timed_out:
        await writer.ack_timed_out()
    await writer.apply(result)
    if rows is None:
        await writer.rows.write(session)
    else:
        rows.extend(writer.rows)
    return Advanced(
        incident.id,
        due_at,
        len(result.paged),
        len(result.firings) - len(result.paged),
        writer.notified,
        result.ack_timed_out,
        frozenset(row.get("channel") for row in writer.rows.outbox),
    )


async def escalate_now(
    session: AsyncSession, incident: Incident, config: Config, actor: Actor, now: datetime
) -> None:
    """`/incident escalate ID`: the next step fires now. The caller has loaded (and on
    PostgreSQL locked) the incident; a resolved incident is left alone."""
    if incident.status not in OPEN:
        return
    overrides = await active_overrides(session, now)
    writer = PageWriter(session, incident, config, now, overrides, actor)
    result = core.escalate_now(writer.policy, _state(incident), now, writer.reaches)
    if not result.firings:
        add_event(
            session,
            incident,
            "escalated",
            actor,
            counted=False,
            now=now,
            detail="escalation requested, but the policy has no steps to take",
        )
        return
    await writer.apply(result)
    await writer.rows.write(session)


def _state(incident: Incident) -> core.EscalationState:
    due = from_db(incident.next_due_at) if incident.next_due_at else None
    return core.EscalationState(incident.status, incident.esc_step, incident.esc_loop, due)
