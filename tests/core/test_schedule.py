"""Rotations, overrides and DST, on fixed instants (no clock, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from bot.core.schedule import (
    Override,
    Rotation,
    Schedule,
    coverage_gaps,
    next_handoff,
    on_call,
    rotation_handoffs,
    shifts,
)

BERLIN = "Europe/Berlin"
LA = "America/Los_Angeles"


def local(zone: str, *parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold)  # type: ignore[misc]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def daily(zone: str, start: datetime, members: tuple[str, ...] = ("a", "b", "c")) -> Schedule:
    return Schedule("s", zone, Rotation(timedelta(days=1), start, members))


WEEKLY = Schedule(
    "primary", BERLIN, Rotation(timedelta(weeks=1), datetime(2026, 11, 2, 9), ("alice", "bob"))
)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(BERLIN, 2026, 11, 2, 8, 59), ()),  # before the rotation starts
        (local(BERLIN, 2026, 11, 2, 9, 0), ("alice",)),
        (local(BERLIN, 2026, 11, 9, 8, 59), ("alice",)),
        (local(BERLIN, 2026, 11, 9, 9, 0), ("bob",)),
        (local(BERLIN, 2026, 11, 16, 9, 0), ("alice",)),
        (local(BERLIN, 2027, 1, 4, 9, 0), ("bob",)),  # nine weeks in
    ],
)
def test_weekly_rotation(at: datetime, expected: tuple[str, ...]) -> None:
    assert on_call(WEEKLY, at) == expected


OVERRIDES = Schedule(
    "primary",
    BERLIN,
    WEEKLY.rotation,
    (
        Override("bob", local(BERLIN, 2026, 11, 3, 18), local(BERLIN, 2026, 11, 4, 9)),
        Override("carol", local(BERLIN, 2026, 11, 4, 8), local(BERLIN, 2026, 11, 4, 12)),
    ),
)


@pytest.mark.parametrize(
    ("at", "extra", "expected"),
    [
        (local(BERLIN, 2026, 11, 3, 17, 59), (), ("alice",)),
        (local(BERLIN, 2026, 11, 3, 18), (), ("bob",)),  # override wins over the rotation
        (local(BERLIN, 2026, 11, 4, 8, 30), (), ("bob", "carol")),  # overlapping: both
        (local(BERLIN, 2026, 11, 4, 9), (), ("carol",)),
        (local(BERLIN, 2026, 11, 4, 12), (), ("alice",)),  # end is exclusive
        (
            local(BERLIN, 2026, 11, 5, 1),
            (Override("dave", local(BERLIN, 2026, 11, 5), local(BERLIN, 2026, 11, 5, 2)),),
            ("dave",),
        ),
    ],
)
def test_overrides(at: datetime, extra: tuple[Override, ...], expected: tuple[str, ...]) -> None:
    assert on_call(OVERRIDES, at, extra) == expected


@pytest.mark.parametrize(
    ("zone", "day_before", "transition_day", "hours"),
    [
        (BERLIN, (2026, 3, 28), (2026, 3, 29), 23),  # spring forward
        (BERLIN, (2026, 10, 24), (2026, 10, 25), 25),  # fall back
        (LA, (2026, 3, 7), (2026, 3, 8), 23),
        (LA, (2026, 10, 31), (2026, 11, 1), 25),
    ],
)
def test_daily_handoff_keeps_local_time_across_dst(
    zone: str, day_before: tuple[int, int, int], transition_day: tuple[int, int, int], hours: int
) -> None:
    schedule = daily(zone, datetime(*day_before, 9))
    result = shifts(
        schedule, local(zone, *day_before, 9), local(zone, *day_before, 9) + timedelta(days=3)
    )
    assert [s.person for s in result] == ["a", "b", "c"]
    for shift in result:
        start = shift.start.astimezone(ZoneInfo(zone))
        assert (start.hour, start.minute) == (9, 0)
    # the shift spanning the transition is one hour shorter or longer, never lost
    assert result[0].end - result[0].start == timedelta(hours=hours)
    assert result[1].end - result[1].start == timedelta(hours=24)
    assert on_call(schedule, local(zone, *transition_day, 8, 59)) == ("a",)
    assert on_call(schedule, local(zone, *transition_day, 9)) == ("b",)


@pytest.mark.parametrize("zone", [BERLIN, LA])
@pytest.mark.parametrize(
    "every", [timedelta(hours=8), timedelta(hours=12), timedelta(days=1), timedelta(weeks=1)]
)
def test_no_shift_lost_or_doubled_over_a_year(zone: str, every: timedelta) -> None:
    members = ("a", "b", "c", "d", "e")
    schedule = Schedule("s", zone, Rotation(every, datetime(2026, 1, 1, 9), members))
    start, end = local(zone, 2026, 1, 1, 9), local(zone, 2027, 1, 1, 9)
    result = shifts(schedule, start, end)
    # the rotation order is kept exactly: no member skipped, none twice in a row
    assert [s.person for s in result] == [members[i % 5] for i in range(len(result))]
    # contiguous: full coverage, no overlap
    assert result[0].start == start and result[-1].end == end
    assert all(x.end == y.start for x, y in pairwise(result))
    # every handoff at the same local wall-clock time of day as the first
    starts = {s.start.astimezone(ZoneInfo(zone)).time() for s in result}
    assert len(starts) == (24 * 3600) // min(int(every.total_seconds()), 24 * 3600)
    assert coverage_gaps(schedule, start, end) == []


@pytest.mark.parametrize(
    ("zone", "wall", "expected"),
    [
        # 02:30 does not exist on the spring-forward day: the handoff happens at the jump
        (BERLIN, datetime(2026, 3, 29, 2, 30), utc(2026, 3, 29, 1, 0)),
        (LA, datetime(2026, 3, 8, 2, 30), utc(2026, 3, 8, 10, 0)),
        # 02:30 happens twice on the fall-back day: the first one counts
        (BERLIN, datetime(2026, 10, 25, 2, 30), utc(2026, 10, 25, 0, 30)),
        (LA, datetime(2026, 11, 1, 1, 30), utc(2026, 11, 1, 8, 30)),
    ],
)
def test_handoff_in_a_skipped_or_repeated_hour(
    zone: str, wall: datetime, expected: datetime
) -> None:
    schedule = daily(zone, wall - timedelta(days=2))
    handoffs = rotation_handoffs(
        schedule, expected - timedelta(hours=6), expected + timedelta(hours=6)
    )
    assert handoffs == [expected]


def test_hourly_rotation_at_fall_back_gives_the_repeated_hour_to_one_person() -> None:
    schedule = Schedule(
        "s", BERLIN, Rotation(timedelta(hours=1), datetime(2026, 10, 25, 0), ("a", "b", "c"))
    )
    result = shifts(schedule, utc(2026, 10, 24, 22), utc(2026, 10, 25, 3))
    assert [(s.person, s.end - s.start) for s in result] == [
        ("a", timedelta(hours=1)),  # 00:00-01:00 CEST
        ("b", timedelta(hours=1)),  # 01:00-02:00 CEST
        ("c", timedelta(hours=2)),  # 02:00 CEST until 03:00 CET
        ("a", timedelta(hours=1)),
    ]


def test_shifts_merge_and_clip() -> None:
    schedule = Schedule(
        "s",
        BERLIN,
        WEEKLY.rotation,
        (Override("alice", local(BERLIN, 2026, 11, 9, 9), local(BERLIN, 2026, 11, 10, 9)),),
    )
    result = shifts(schedule, local(BERLIN, 2026, 11, 3), local(BERLIN, 2026, 11, 20))
    assert [(s.person, s.start, s.end) for s in result] == [
        # alice's override continues her rotation week without a seam
        ("alice", local(BERLIN, 2026, 11, 3), local(BERLIN, 2026, 11, 10, 9)),
        ("bob", local(BERLIN, 2026, 11, 10, 9), local(BERLIN, 2026, 11, 16, 9)),
        ("alice", local(BERLIN, 2026, 11, 16, 9), local(BERLIN, 2026, 11, 20)),
    ]
    assert all(s.start.tzinfo == UTC and s.end.tzinfo == UTC for s in result)


@pytest.mark.parametrize(
    ("schedule", "start", "end", "expected"),
    [
        (
            WEEKLY,
            local(BERLIN, 2026, 11, 1),
            local(BERLIN, 2026, 11, 3),
            [(local(BERLIN, 2026, 11, 1), local(BERLIN, 2026, 11, 2, 9))],
        ),
        (
            Schedule(
                "s",
                "UTC",
                None,
                (
                    Override("a", utc(2026, 1, 1, 2), utc(2026, 1, 1, 4)),
                    Override("b", utc(2026, 1, 1, 4), utc(2026, 1, 1, 5)),
                ),
            ),
            utc(2026, 1, 1),
            utc(2026, 1, 1, 8),
            [(utc(2026, 1, 1), utc(2026, 1, 1, 2)), (utc(2026, 1, 1, 5), utc(2026, 1, 1, 8))],
        ),
        (
            Schedule("s", "UTC", None),
            utc(2026, 1, 1),
            utc(2026, 1, 2),
            [(utc(2026, 1, 1), utc(2026, 1, 2))],
        ),
        (WEEKLY, local(BERLIN, 2026, 11, 3), local(BERLIN, 2026, 12, 3), []),
    ],
)
def test_coverage_gaps(
    schedule: Schedule, start: datetime, end: datetime, expected: list[tuple[datetime, datetime]]
) -> None:
    assert coverage_gaps(schedule, start, end) == expected


@pytest.mark.parametrize(
    ("schedule", "at", "extra", "expected"),
    [
        (WEEKLY, local(BERLIN, 2026, 11, 5, 12), (), local(BERLIN, 2026, 11, 9, 9)),
        (WEEKLY, local(BERLIN, 2026, 10, 1), (), local(BERLIN, 2026, 11, 2, 9)),  # rotation starts
        (OVERRIDES, local(BERLIN, 2026, 11, 3, 12), (), local(BERLIN, 2026, 11, 3, 18)),
        (OVERRIDES, local(BERLIN, 2026, 11, 4, 8, 30), (), local(BERLIN, 2026, 11, 4, 9)),
        (
            WEEKLY,
            local(BERLIN, 2026, 11, 5, 12),
            (Override("alice", local(BERLIN, 2026, 11, 9, 9), local(BERLIN, 2026, 11, 10, 9)),),
            local(BERLIN, 2026, 11, 10, 9),  # alice covers the first day of bob's week
        ),
        (
            daily(BERLIN, datetime(2026, 3, 1, 9), ("solo",)),
            local(BERLIN, 2026, 3, 28, 12),
            (),
            None,
        ),
        (
            # far ahead: the only change is an override a month out
            daily(BERLIN, datetime(2026, 3, 1, 9), ("solo",)),
            local(BERLIN, 2026, 3, 28, 12),
            (Override("cover", local(BERLIN, 2026, 4, 30, 18), local(BERLIN, 2026, 5, 1)),),
            local(BERLIN, 2026, 4, 30, 18),
        ),
        (
            Schedule("s", LA, Rotation(timedelta(hours=1), datetime(2026, 1, 1), ("solo",))),
            local(LA, 2026, 3, 7, 12),
            (),
            None,
        ),
        (
            daily(LA, datetime(2026, 3, 1, 9)),
            local(LA, 2026, 3, 7, 12),
            (),
            local(LA, 2026, 3, 8, 9),
        ),
    ],
)
def test_next_handoff(
    schedule: Schedule, at: datetime, extra: tuple[Override, ...], expected: datetime | None
) -> None:
    assert next_handoff(schedule, at, extra) == expected
