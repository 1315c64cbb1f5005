"""Datetimes at the storage boundary: always timezone-aware UTC.

sqlmodel's datetime columns refuse naive values and return aware UTC, on SQLite too.
"""

from __future__ import annotations

from datetime import UTC, datetime


def to_db(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (UTC)")
    return moment.astimezone(UTC)


def from_db(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 with a Z suffix, for JSON and messages."""
    if moment is None:
        return None
    return from_db(moment).isoformat(timespec="seconds").replace("+00:00", "Z")
