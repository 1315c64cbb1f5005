"""Who is on call, overrides made from Slack, and schedule warnings for `nightshift check`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from sqlmodel import col, select

from bot.adapters.db.clock import from_db, to_db
from bot.adapters.db.database import Database
from bot.adapters.db.tables import ScheduleOverride
from bot.config import Config
from bot.core.problems import Problem
from bot.core.schedule import Schedule, coverage_gaps, next_handoff, on_call
from bot.service.targets import to_override
from bot.yaml_marks import load_marked

CHECK_HORIZON = timedelta(days=14)


class OverrideRefused(ValueError):
    """An override that cannot be stored; the message says why, for the person."""


@dataclass(frozen=True)
class OnCall:
    schedule: str
    people: tuple[str, ...]
    next_handoff: datetime | None  # aware UTC
    next_people: tuple[str, ...]


def on_call_now(
    config: Config,
    at: datetime,
    db_overrides: Sequence[ScheduleOverride] = (),
    schedule: str | None = None,
) -> list[OnCall]:
    """Per schedule (or just `schedule`): who is on call at `at` and the next handoff."""
    names = [schedule] if schedule else sorted(config.schedules)
    result = []
    for name in names:
        sched = config.schedules[name]
        extra = [to_override(o) for o in db_overrides if o.schedule == name]
        handoff = next_handoff(sched, at, extra)
        after = on_call(sched, handoff, extra) if handoff else ()
        result.append(OnCall(name, on_call(sched, at, extra), handoff, after))
    return result


async def load_overrides(
    db: Database, now: datetime, schedule: str | None = None
) -> list[ScheduleOverride]:
    """Overrides from Slack that have not ended yet, soonest first."""
    async with db.transaction() as session:
        query = select(ScheduleOverride).where(ScheduleOverride.ends_at > to_db(now))
        if schedule:
            query = query.where(ScheduleOverride.schedule == schedule)
        query = query.order_by(col(ScheduleOverride.starts_at), col(ScheduleOverride.id))
        return list((await session.exec(query)).all())


async def add_override(
    db: Database,
    config: Config,
    schedule: str,
    person: str,
    start: datetime,
    end: datetime,
    created_by: str,
    now: datetime,
) -> ScheduleOverride:
    if schedule not in config.schedules:
        raise OverrideRefused(f"there is no schedule {schedule!r}")
    if person not in config.people:
        raise OverrideRefused(f"{person!r} is not a person in the config")
    if end <= start:
        raise OverrideRefused("the override ends before it starts")
    if end <= now:
        raise OverrideRefused("the override would already be over")
    row = ScheduleOverride(
        schedule=schedule,
        person=person,
        starts_at=to_db(start),
        ends_at=to_db(end),
        created_by=created_by,
        created_at=to_db(now),
    )
    async with db.transaction() as session:
        session.add(row)
        await session.flush()
    return row


async def remove_override(db: Database, override_id: int) -> ScheduleOverride | None:
    async with db.transaction() as session:
        row = await session.get(ScheduleOverride, override_id)
        if row is not None:
            await session.delete(row)
        return row


# --- presentation --------------------------------------------------------------------


def viewer_zone(tz: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz) if tz else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime, zone: tzinfo, now: datetime | None = None) -> str:
    """`Mon 23 Nov 09:00 CET` in the viewer's zone; the year only when it differs."""
    here = moment.astimezone(zone)
    year = "" if now is None or now.astimezone(zone).year == here.year else f" {here.year}"
    return here.strftime(f"%a %d %b{year} %H:%M ") + (here.tzname() or "")


def describe(
    entries: Sequence[OnCall],
    config: Config,
    zone: tzinfo,
    now: datetime,
    *,
    mention: bool = False,
) -> str:
    lines = []
    for entry in entries:
        who = ", ".join(_person(config, p, mention) for p in entry.people) or "nobody"
        line = f"{entry.schedule}: {who} on call now"
        if entry.next_handoff is not None:
            nxt = ", ".join(_person(config, p, mention) for p in entry.next_people) or "nobody"
            line += f"; next handoff {local_time(entry.next_handoff, zone, now)} to {nxt}"
        else:
            line += "; no handoff ahead"
        lines.append(line)
    return "\n".join(lines) or "No schedules are configured."


def describe_override(row: ScheduleOverride, config: Config, zone: tzinfo, now: datetime) -> str:
    start, end = from_db(row.starts_at), from_db(row.ends_at)
    return (
        f"#{row.id} {row.schedule}: {_person(config, row.person, True)} "
        f"from {local_time(start, zone, now)} until {local_time(end, zone, now)}"
    )


def _person(config: Config, name: str, mention: bool) -> str:
    person = config.people.get(name)
    if mention and person is not None and person.slack:
        return f"<@{person.slack}>"
    return name


# --- `nightshift check` ----------------------------------------------------------------


def schedule_problems(config: Config, now: datetime) -> list[Problem]:
    """Warnings: nobody on call at some point in the next 14 days; members with no Slack
    id (they cannot be paged)."""
    lines = _line_finder(config)
    path = str(config.path)
    problems: list[Problem] = []
    for name, schedule in sorted(config.schedules.items()):
        zone = viewer_zone(schedule.timezone)
        for start, end in coverage_gaps(schedule, now, now + CHECK_HORIZON):
            problems.append(
                Problem(
                    path,
                    lines(("schedules", name)),
                    f"schedules.{name}: nobody is on call from {local_time(start, zone, now)} "
                    f"until {local_time(end, zone, now)}",
                    "warning",
                )
            )
        for who, loc in _members(schedule):
            person = config.people.get(who)
            if person is not None and not person.slack:
                problems.append(
                    Problem(
                        path,
                        lines(loc),
                        f"{'.'.join(str(p) for p in loc)}: {who} has no Slack id and cannot "
                        "be paged",
                        "warning",
                    )
                )
    return problems


def _members(schedule: Schedule) -> list[tuple[str, tuple[str | int, ...]]]:
    base: tuple[str | int, ...] = ("schedules", schedule.name)
    found: list[tuple[str, tuple[str | int, ...]]] = []
    if schedule.rotation:
        for i, member in enumerate(schedule.rotation.members):
            found.append((member, (*base, "rotation", "members", i)))
    for i, override in enumerate(schedule.overrides):
        found.append((override.person, (*base, "overrides", i, "person")))
    first: dict[str, tuple[str | int, ...]] = {}
    for who, loc in found:
        first.setdefault(who, loc)
    return list(first.items())


def _line_finder(config: Config) -> Callable[[tuple[str | int, ...]], int]:
    try:
        marked = load_marked(config.path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return lambda _loc: 1
    return marked.line


def parse_at(text: str | None, now: datetime) -> datetime:
    """`--at` as ISO 8601; a time without an offset is UTC."""
    if not text:
        return now
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
