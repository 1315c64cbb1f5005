"""Who a policy step reaches right now: schedules (with overrides from Slack), people,
channels. Read inside the escalation transaction; no Slack call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Executable, bindparam, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.clock import from_db
from bot.adapters.db.prepared import StatementRunner
from bot.adapters.db.tables import SCHEDULE_OVERRIDES
from bot.config import Config
from bot.core.escalation import Step
from bot.core.schedule import Override, on_call

DbOverrides = Mapping[str, tuple[Override, ...]]
Statements = dict[str, Executable]


@dataclass(frozen=True)
class Recipient:
    name: str  # person name, or the channel id for a channel
    kind: str  # person | channel
    slack_id: str  # user id for a person, channel id for a channel
    via: str  # the step target that reached them, e.g. "schedule:primary"


@dataclass(frozen=True)
class Reach:
    recipients: tuple[Recipient, ...] = ()
    # why a target reached nobody, e.g. "schedule:primary: nobody on call"
    unreachable: tuple[str, ...] = field(default_factory=tuple)

    @property
    def people(self) -> tuple[Recipient, ...]:
        return tuple(r for r in self.recipients if r.kind == "person")

    @property
    def channels(self) -> tuple[Recipient, ...]:
        return tuple(r for r in self.recipients if r.kind == "channel")


@cache
def _statements() -> Statements:
    table = SCHEDULE_OVERRIDES
    in_force = (table.c.starts_at <= bindparam("now")) & (table.c.ends_at > bindparam("now"))
    columns = (table.c.schedule, table.c.person, table.c.starts_at, table.c.ends_at)
    return {"in_force": select(*columns).where(in_force)}


def overrides_in_force(conn: Connection, now: datetime) -> dict[str, tuple[Override, ...]]:
    """Overrides made from Slack that are in force at `now`, by schedule."""
    result: dict[str, list[Override]] = {}
    for row in StatementRunner(conn, _statements()).rows("in_force", {"now": now}):
        result.setdefault(row.schedule, []).append(to_override(row))
    return {name: tuple(rows) for name, rows in result.items()}


async def active_overrides(session: AsyncSession, now: datetime) -> DbOverrides:
    """`overrides_in_force` inside an ORM session's transaction."""
    return await session.run_sync(lambda sync: overrides_in_force(sync.connection(), now))


def to_override(row: Any) -> Override:
    """An override from a `schedule_overrides` row (ORM object or Core row)."""
    return Override(row.person, from_db(row.starts_at), from_db(row.ends_at))


def resolve_step(step: Step, config: Config, overrides: DbOverrides, now: datetime) -> Reach:
    """Every person and channel the step reaches at `now`, each once, in target order."""
    seen: dict[str, Recipient] = {}
    unreachable: list[str] = []
    for target in step.targets:
        kind, _, name = target.partition(":")
        if kind == "channel" and name:
            seen.setdefault(name, Recipient(name, "channel", name, target))
            continue
        if kind == "schedule":
            schedule = config.schedules.get(name)
            if schedule is None:
                unreachable.append(f"{target}: no such schedule in the config")
                continue
            people = on_call(schedule, now, overrides.get(name, ()))
            if not people:
                unreachable.append(f"{target}: nobody on call")
        elif kind == "user":
            people = (name,)
        else:
            unreachable.append(f"{target}: not a schedule, user or channel target")
            continue
        for person_name in people:
            person = config.people.get(person_name)
            if person is None or not person.slack:
                unreachable.append(f"{target}: {person_name} has no Slack id in the config")
            elif person_name not in seen:
                seen[person_name] = Recipient(person_name, "person", person.slack, target)
    return Reach(tuple(seen.values()), tuple(unreachable))
