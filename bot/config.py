"""Typed configuration: `nightshift.yaml` validated into core objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.escalation import Policy
from bot.core.routing import Route
from bot.core.schedule import Schedule


@dataclass(frozen=True)
class Person:
    name: str
    slack: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class AckSettings:
    allow_guests: bool = False
    who: str = "anyone"  # anyone | responders


@dataclass(frozen=True)
class DirectorySettings:
    provider: str  # file | command | http
    file: Path | None = None
    command: tuple[str, ...] = ()
    url: str | None = None
    timeout: float = 5.0
    cache_ttl: float = 60.0


@dataclass(frozen=True)
class AuditSettings:
    channel: str
    cron: str


@dataclass(frozen=True)
class Config:
    path: Path
    slack_channel: str | None = None
    ack: AckSettings = field(default_factory=AckSettings)
    people: Mapping[str, Person] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    policies: Mapping[str, Policy] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    directory: DirectorySettings | None = None
    runbooks_dir: Path | None = None
    audit: AuditSettings | None = None

    def person_by_slack(self, slack_id: str) -> Person | None:
        return next((p for p in self.people.values() if p.slack == slack_id), None)
