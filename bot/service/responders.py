"""Who is on an incident's escalation path (for `ack.who: responders`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.clock import to_db
from bot.adapters.db.tables import Incident, ScheduleOverride
from bot.config import Config
from bot.core.escalation import policy_from_snapshot


async def responders(
    session: AsyncSession, config: Config, incident: Incident, now: datetime
) -> frozenset[str]:
    """Slack ids of everyone on the incident's escalation path (its policy snapshot):
    people named directly and every member or override of the schedules it pages."""
    names: set[str] = set()
    schedules: set[str] = set()
    if incident.policy_snapshot:
        for step in policy_from_snapshot(incident.policy_snapshot).steps:
            for target in step.targets:
                kind, _, name = target.partition(":")
                if kind == "user":
                    names.add(name)
                elif kind == "schedule":
                    schedules.add(name)
    for name in schedules:
        schedule = config.schedules.get(name)
        if schedule is None:
            continue
        if schedule.rotation:
            names.update(schedule.rotation.members)
        names.update(o.person for o in schedule.overrides)
    if schedules:
        rows = await session.exec(
            select(ScheduleOverride.person).where(
                col(ScheduleOverride.schedule).in_(schedules),
                ScheduleOverride.ends_at > to_db(now - timedelta(days=1)),
            )
        )
        names.update(rows.all())
    return frozenset(p.slack for n in names if (p := config.people.get(n)) is not None and p.slack)
