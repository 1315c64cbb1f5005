"""Crontab expressions for APScheduler 3, with crontab's meaning of the day-of-week field."""

from __future__ import annotations

from datetime import UTC

from apscheduler.triggers.cron import CronTrigger

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def crontab_trigger(expr: str) -> CronTrigger:
    """A standard five-field crontab in UTC. APScheduler 3's `from_crontab` reads the
    day-of-week field with 0 = Monday; crontab means 0 (and 7) = Sunday, so the field
    is translated to day names first."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"cron {expr!r} needs five fields")
    minute, hour, day, month, dow = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_day_names(dow),
        timezone=UTC,
    )


def _day_names(field: str) -> str:
    if field == "*" or any(ch.isalpha() for ch in field):
        return field  # names mean the same to both
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            low_text, high_text = span.split("-", 1)
            low, high = int(low_text), int(high_text)
        else:
            low = high = int(span)
            if step_text:
                high = 6
        if not (0 <= low <= 7 and 0 <= high <= 7 and low <= high and step > 0):
            raise ValueError(f"bad day-of-week {field!r}")
        days.update(d % 7 for d in range(low, high + 1, step))
    return ",".join(_DAYS[d] for d in sorted(days))
