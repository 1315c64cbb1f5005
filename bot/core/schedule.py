"""On-call schedules: rotations, overrides, time zones and DST."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Rotation:
    every: timedelta  # whole hours; handoffs keep their local wall-clock time across DST
    start: datetime  # naive, local to the schedule's time zone
    members: tuple[str, ...]  # person names, in order


@dataclass(frozen=True)
class Override:
    person: str
    start: datetime  # aware
    end: datetime  # aware


@dataclass(frozen=True)
class Schedule:
    name: str
    timezone: str  # IANA name
    rotation: Rotation | None
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class Shift:
    person: str
    start: datetime  # aware UTC
    end: datetime  # aware UTC


# A search horizon for `next_handoff`: past this, a schedule that never changes hands
# (one member, no overrides) has no next handoff.
_HANDOFF_HORIZON = timedelta(days=400)


def on_call(
    schedule: Schedule, at: datetime, extra_overrides: Iterable[Override] = ()
) -> tuple[str, ...]:
    """Who is on call at `at` (aware). Overrides win over the rotation; overlapping
    overrides put all their people on call, in the order they started."""
    active = sorted(
        (o for o in (*schedule.overrides, *extra_overrides) if o.start <= at < o.end),
        key=lambda o: (o.start, o.person),
    )
    if active:
        return tuple(dict.fromkeys(o.person for o in active))
    member = _rotation_member(schedule, at)
    return (member,) if member else ()


def shifts(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    extra_overrides: Iterable[Override] = (),
) -> list[Shift]:
    """Who is on call over [start, end), in aware UTC, sorted by start then person.
    Consecutive stretches of one person are merged; gaps produce no shift."""
    extra = tuple(extra_overrides)
    open_since: dict[str, datetime] = {}
    result: list[Shift] = []
    last_end = start
    for seg_start, seg_end, people in _segments(schedule, start, end, extra):
        for person in [p for p in open_since if p not in people]:
            result.append(Shift(person, open_since.pop(person), seg_start))
        for person in people:
            open_since.setdefault(person, seg_start)
        last_end = seg_end
    for person, since in open_since.items():
        result.append(Shift(person, since, last_end))
    result.sort(key=lambda s: (s.start, s.person))
    return result


def coverage_gaps(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    extra_overrides: Iterable[Override] = (),
) -> list[tuple[datetime, datetime]]:
    """The stretches of [start, end) with nobody on call, merged, in aware UTC."""
    gaps: list[tuple[datetime, datetime]] = []
    for seg_start, seg_end, people in _segments(schedule, start, end, tuple(extra_overrides)):
        if people:
            continue
        if gaps and gaps[-1][1] == seg_start:
            gaps[-1] = (gaps[-1][0], seg_end)
        else:
            gaps.append((seg_start, seg_end))
    return gaps


def next_handoff(
    schedule: Schedule, at: datetime, extra_overrides: Iterable[Override] = ()
) -> datetime | None:
    """The first moment after `at` when the set of people on call changes, or None."""
    extra = tuple(extra_overrides)
    now_on = on_call(schedule, at, extra)
    since = at
    for horizon in (timedelta(days=15), _HANDOFF_HORIZON):  # the near future first
        for moment in _boundaries(schedule, since, at + horizon, extra):
            if on_call(schedule, moment, extra) != now_on:
                return moment.astimezone(UTC)
        since = at + horizon - timedelta(microseconds=1)
    return None


def rotation_handoffs(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """Rotation handoff instants in (start, end), aware UTC."""
    rotation = schedule.rotation
    if rotation is None or not rotation.members or rotation.every <= timedelta(0):
        return []
    zone = ZoneInfo(schedule.timezone)
    k = max(_slot(rotation, zone, start) + 1, 0)
    result: list[datetime] = []
    while (moment := _handoff(rotation, zone, k)) < end:
        if moment > start and (not result or moment > result[-1]):
            result.append(moment)
        k += 1
    return result


def _rotation_member(schedule: Schedule, at: datetime) -> str | None:
    rotation = schedule.rotation
    if rotation is None or not rotation.members or rotation.every <= timedelta(0):
        return None
    slot = _slot(rotation, ZoneInfo(schedule.timezone), at)
    if slot < 0:
        return None  # the rotation has not started yet
    return rotation.members[slot % len(rotation.members)]


def _slot(rotation: Rotation, zone: ZoneInfo, at: datetime) -> int:
    """The index k of the rotation slot holding `at`: handoff(k) <= at < handoff(k+1)."""
    local = at.astimezone(zone).replace(tzinfo=None)
    k = (local - rotation.start) // rotation.every
    # Wall-clock estimate; DST can put it one slot off either way.
    while _handoff(rotation, zone, k) > at:
        k -= 1
    while _handoff(rotation, zone, k + 1) <= at:
        k += 1
    return k


def _handoff(rotation: Rotation, zone: ZoneInfo, k: int) -> datetime:
    """Handoff k happens at start + k * every on the local wall clock (so a 09:00 handoff
    stays at 09:00 across DST), as an aware UTC instant."""
    return _wall_clock_handoff(rotation.start, rotation.every, zone, k)


@lru_cache(maxsize=4096)
def _wall_clock_handoff(start: datetime, every: timedelta, zone: ZoneInfo, k: int) -> datetime:
    # Every page asks for the same two or three handoffs of its schedule, and time zone
    # arithmetic was the larger part of working out who is on call.
    return _local_to_utc(start + k * every, zone)


def _local_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """A naive local wall time as an instant. A time repeated at fall-back means its first
    occurrence; a time skipped at spring-forward means the moment the clocks jump (so the
    order of handoffs is kept and none is doubled)."""
    first = wall.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # Nonexistent: fold=0 read it with the pre-jump offset, landing after the jump; the
    # jump itself is the post-jump reading of the same wall time (fold=1), which is earlier.
    later = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    # The jump lies between the two readings: find the first instant whose local time
    # is at or past `wall`.
    lo, hi = min(instant, later), max(instant, later)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def _boundaries(
    schedule: Schedule, start: datetime, end: datetime, extra: tuple[Override, ...]
) -> list[datetime]:
    """Every instant in (start, end) where who is on call may change, sorted, UTC."""
    moments = set(rotation_handoffs(schedule, start, end))
    for override in (*schedule.overrides, *extra):
        for moment in (override.start, override.end):
            if start < moment < end:
                moments.add(moment.astimezone(UTC))
    return sorted(moments)


def _segments(
    schedule: Schedule, start: datetime, end: datetime, extra: tuple[Override, ...]
) -> Iterator[tuple[datetime, datetime, tuple[str, ...]]]:
    """[start, end) cut at every boundary, with who is on call in each piece."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return
    cuts = [start, *_boundaries(schedule, start, end, extra), end]
    for seg_start, seg_end in pairwise(cuts):
        yield seg_start, seg_end, on_call(schedule, seg_start, extra)
