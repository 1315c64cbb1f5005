"""Load `nightshift.yaml`: YAML -> pydantic shape check -> core objects, errors as path:line."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.adapters.cron import crontab_trigger
from bot.config import AckSettings, AuditSettings, Config, DirectorySettings, Person
from bot.core.durations import parse_duration
from bot.core.escalation import Policy, Step
from bot.core.problems import Problem
from bot.core.routing import Route
from bot.core.schedule import Override, Rotation, Schedule
from bot.yaml_marks import MarkedYaml, load_marked

TARGET_KINDS = ("schedule", "user", "channel")


class ConfigInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Slack(_Strict):
    channel: str | None = None


class _Ack(_Strict):
    allow_guests: bool = False
    who: Literal["anyone", "responders"] = "anyone"


class _Person(_Strict):
    slack: str | None = None
    email: str | None = None


class _Rotation(_Strict):
    every: str
    start: str
    members: list[str] = Field(min_length=1)


class _Override(_Strict):
    person: str
    from_: str = Field(alias="from")
    to: str


class _Schedule(_Strict):
    timezone: str = "UTC"
    rotation: _Rotation | None = None
    overrides: list[_Override] = []


class _Step(_Strict):
    notify: list[str] = Field(min_length=1)
    wait: str = "0s"


class _Policy(_Strict):
    steps: list[_Step] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=100)
    ack_timeout: str | None = None


class _Route(_Strict):
    match: dict[str, str] = {}
    channel: str | None = None
    policy: str | None = None


class _Directory(_Strict):
    provider: Literal["file", "command", "http"] = "file"
    file: str | None = None
    command: list[str] | str | None = None
    url: str | None = None
    timeout: float = Field(default=5.0, gt=0)
    cache_ttl: float = Field(default=60.0, ge=0)


class _Audit(_Strict):
    channel: str
    cron: str = "0 9 * * 1"


class _Root(_Strict):
    slack: _Slack = _Slack()
    ack: _Ack = _Ack()
    people: dict[str, _Person] = {}
    schedules: dict[str, _Schedule] = {}
    policies: dict[str, _Policy] = {}
    routes: list[_Route] = []
    directory: _Directory | None = None
    runbooks: str | None = None
    audit: _Audit | None = None


def load_config(path: str | Path) -> Config:
    """Raise ConfigInvalid listing every error found (warnings are not raised)."""
    config, problems = check_config(path)
    errors = [p for p in problems if p.severity == "error"]
    if errors or config is None:
        raise ConfigInvalid(errors or problems)
    return config


def check_config(path: str | Path) -> tuple[Config | None, list[Problem]]:
    file = Path(path)
    name = str(path)
    try:
        marked = load_marked(file.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, [Problem(name, 1, f"cannot read config: {exc.strerror or exc}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return None, [Problem(name, line, f"invalid YAML: {getattr(exc, 'problem', exc)}")]
    data = marked.data if marked.data is not None else {}
    if not isinstance(data, dict):
        return None, [Problem(name, 1, "config must be a mapping")]
    try:
        root = _Root.model_validate(data)
    except ValidationError as exc:
        return None, [_pydantic_problem(name, marked, err) for err in exc.errors()]
    builder = _Builder(file, name, marked)
    config = builder.build(root)
    return (config if not builder.errors else None), builder.problems


def _pydantic_problem(name: str, marked: MarkedYaml, err: Any) -> Problem:
    loc = tuple("from" if part == "from_" else part for part in err["loc"])
    where = ".".join(str(part) for part in loc) or "config"
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    return Problem(name, marked.line(loc), f"{where}: {message}")


class _Builder:
    """Turns the validated shape into core objects, collecting semantic problems."""

    def __init__(self, file: Path, name: str, marked: MarkedYaml) -> None:
        self.file = file
        self.name = name
        self.marked = marked
        self.problems: list[Problem] = []

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def error(self, loc: tuple[str | int, ...], message: str) -> None:
        where = ".".join(str(part) for part in loc)
        self.problems.append(Problem(self.name, self.marked.line(loc), f"{where}: {message}"))

    def duration(self, loc: tuple[str | int, ...], text: str) -> timedelta:
        try:
            return parse_duration(text)
        except ValueError as exc:
            self.error(loc, str(exc))
            return timedelta(0)

    def build(self, root: _Root) -> Config:
        people = {n: Person(n, p.slack, p.email) for n, p in root.people.items()}
        schedules = {n: self.schedule(n, s, people) for n, s in root.schedules.items()}
        policies = {n: self.policy(n, p, people, schedules) for n, p in root.policies.items()}
        routes = tuple(self.route(i, r, policies) for i, r in enumerate(root.routes))
        base = self.file.parent
        return Config(
            path=self.file,
            slack_channel=root.slack.channel,
            ack=AckSettings(root.ack.allow_guests, root.ack.who),
            people=people,
            schedules=schedules,
            policies=policies,
            routes=routes,
            directory=self.directory(root.directory, base),
            runbooks_dir=(base / root.runbooks) if root.runbooks else None,
            audit=self.audit(root.audit),
        )

    def schedule(self, name: str, raw: _Schedule, people: dict[str, Person]) -> Schedule:
        loc: tuple[str | int, ...] = ("schedules", name)
        try:
            zone = ZoneInfo(raw.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.error((*loc, "timezone"), f"unknown time zone {raw.timezone!r}")
            zone = ZoneInfo("UTC")
        rotation = None
        if raw.rotation is not None:
            rloc = (*loc, "rotation")
            every = self.duration((*rloc, "every"), raw.rotation.every)
            if every and (every.total_seconds() % 3600 or every < timedelta(hours=1)):
                self.error((*rloc, "every"), "rotation length must be whole hours (h, d or w)")
            for i, member in enumerate(raw.rotation.members):
                if member not in people:
                    self.error((*rloc, "members", i), f"unknown person {member!r}")
            start = self.local_time((*rloc, "start"), raw.rotation.start)
            rotation = Rotation(every or timedelta(weeks=1), start, tuple(raw.rotation.members))
        overrides = []
        for i, o in enumerate(raw.overrides):
            oloc = (*loc, "overrides", i)
            if o.person not in people:
                self.error((*oloc, "person"), f"unknown person {o.person!r}")
            start = self.local_time((*oloc, "from"), o.from_).replace(tzinfo=zone)
            end = self.local_time((*oloc, "to"), o.to).replace(tzinfo=zone)
            if end <= start:
                self.error((*oloc, "to"), "override ends before it starts")
            overrides.append(Override(o.person, start, end))
        return Schedule(
            name, raw.timezone if zone.key == raw.timezone else "UTC", rotation, tuple(overrides)
        )

    def local_time(self, loc: tuple[str | int, ...], text: str) -> datetime:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.error(loc, f"invalid time {text!r}: use YYYY-MM-DDTHH:MM (local time)")
            return datetime(2000, 1, 1)
        if moment.tzinfo is not None:
            self.error(loc, "times in a schedule are local to its timezone: drop the offset")
        return moment.replace(tzinfo=None)

    def policy(
        self,
        name: str,
        raw: _Policy,
        people: dict[str, Person],
        schedules: dict[str, Schedule],
    ) -> Policy:
        loc: tuple[str | int, ...] = ("policies", name)
        steps = []
        for i, raw_step in enumerate(raw.steps):
            for j, target in enumerate(raw_step.notify):
                self.target((*loc, "steps", i, "notify", j), target, people, schedules)
            wait = self.duration((*loc, "steps", i, "wait"), raw_step.wait)
            steps.append(Step(tuple(raw_step.notify), wait))
        ack_timeout = None
        if raw.ack_timeout is not None:
            ack_timeout = self.duration((*loc, "ack_timeout"), raw.ack_timeout) or None
        return Policy(name, tuple(steps), raw.repeat, ack_timeout)

    def target(
        self,
        loc: tuple[str | int, ...],
        target: str,
        people: dict[str, Person],
        schedules: dict[str, Schedule],
    ) -> None:
        kind, _, ref = target.partition(":")
        if kind not in TARGET_KINDS or not ref:
            self.error(loc, f"target {target!r} must be schedule:NAME, user:NAME or channel:ID")
        elif kind == "schedule" and ref not in schedules:
            self.error(loc, f"unknown schedule {ref!r}")
        elif kind == "user" and ref not in people:
            self.error(loc, f"unknown person {ref!r}")

    def route(self, index: int, raw: _Route, policies: dict[str, Policy]) -> Route:
        if raw.policy is not None and raw.policy not in policies:
            self.error(("routes", index, "policy"), f"unknown policy {raw.policy!r}")
        return Route(dict(raw.match), raw.channel, raw.policy)

    def directory(self, raw: _Directory | None, base: Path) -> DirectorySettings | None:
        if raw is None:
            return None
        loc = ("directory",)
        if raw.provider == "file" and not raw.file:
            self.error(loc, "provider file needs `file:`")
        if raw.provider == "command" and not raw.command:
            self.error(loc, "provider command needs `command:`")
        if raw.provider == "http" and not raw.url:
            self.error(loc, "provider http needs `url:`")
        command = raw.command.split() if isinstance(raw.command, str) else raw.command or []
        return DirectorySettings(
            provider=raw.provider,
            file=(base / raw.file) if raw.file else None,
            command=tuple(command),
            url=raw.url,
            timeout=raw.timeout,
            cache_ttl=raw.cache_ttl,
        )

    def audit(self, raw: _Audit | None) -> AuditSettings | None:
        if raw is None:
            return None
        try:
            crontab_trigger(raw.cron)
        except ValueError as exc:
            self.error(("audit", "cron"), f"invalid cron {raw.cron!r}: {exc}")
        return AuditSettings(raw.channel, raw.cron)
