"""Ownership transitions: acknowledge, hand back, resolve. Pure decisions, no I/O.

The shell loads the incident, asks for a decision, and applies it with its events and
outbox rows in one transaction. A refusal names why, for the event and the person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

TRIGGERED = "triggered"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"


@dataclass(frozen=True)
class Ownership:
    """The parts of an incident an ownership decision reads."""

    status: str
    owner_slack_id: str | None = None
    owner_name: str | None = None


class Blocked(StrEnum):
    ALREADY_RESOLVED = "already_resolved"
    ALREADY_OWNER = "already_owner"  # a double click: nothing to do, nothing refused
    OWNED_BY_OTHER = "owned_by_other"
    NOT_OWNED = "not_owned"
    NOT_OWNER = "not_owner"


@dataclass(frozen=True)
class Refused:
    code: Blocked
    message: str


@dataclass(frozen=True)
class Acknowledge:
    owner_slack_id: str
    owner_name: str
    acked_at: datetime
    via: str  # button | command | dm
    next_due_at: datetime | None  # ack timeout, or None without one


@dataclass(frozen=True)
class HandBack:
    """Ownership returned: triggered again, escalation resumes now."""

    next_due_at: datetime


@dataclass(frozen=True)
class Resolve:
    resolved_at: datetime


def decide_ack(
    current: Ownership,
    user_id: str,
    user_name: str,
    via: str,
    now: datetime,
    ack_timeout: timedelta | None,
) -> Acknowledge | Refused:
    if current.status == RESOLVED:
        return Refused(Blocked.ALREADY_RESOLVED, "this incident is already resolved")
    if current.status == ACKNOWLEDGED and current.owner_slack_id:
        if current.owner_slack_id == user_id:
            return Refused(Blocked.ALREADY_OWNER, "you already own this incident")
        return Refused(
            Blocked.OWNED_BY_OTHER,
            f"already owned by <@{current.owner_slack_id}>; they can hand it back "
            "with /incident unack",
        )
    return Acknowledge(
        owner_slack_id=user_id,
        owner_name=user_name,
        acked_at=now,
        via=via,
        next_due_at=now + ack_timeout if ack_timeout else None,
    )


def decide_unack(current: Ownership, user_id: str, now: datetime) -> HandBack | Refused:
    if current.status == RESOLVED:
        return Refused(Blocked.ALREADY_RESOLVED, "this incident is already resolved")
    if current.status != ACKNOWLEDGED or not current.owner_slack_id:
        return Refused(Blocked.NOT_OWNED, "nobody owns this incident")
    if current.owner_slack_id != user_id:
        return Refused(
            Blocked.NOT_OWNER,
            f"only its owner <@{current.owner_slack_id}> can hand this incident back",
        )
    return HandBack(next_due_at=now)


def decide_resolve(current: Ownership, now: datetime) -> Resolve | Refused:
    if current.status == RESOLVED:
        return Refused(Blocked.ALREADY_RESOLVED, "this incident is already resolved")
    return Resolve(resolved_at=now)


def parse_incident_id(text: str) -> int | None:
    """`42`, `#42`, `inc-42` (button values and command arguments)."""
    raw = text.strip().lower().lstrip("#")
    if raw.startswith("inc-"):
        raw = raw[4:]
    return int(raw) if raw.isdigit() and len(raw) < 12 else None
