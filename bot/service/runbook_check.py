"""At the page and at the acknowledgement: can this person execute the incident's runbook?

For each step: can / cannot / could not verify, the grants missing, and who on the
escalation path (or elsewhere in the directory) can do it. The outcome is a thread
message with "page this person now" buttons and one `runbook_gap` event per step the
person cannot do. Directory lookups happen outside any DB transaction; the events are
written in a short transaction afterwards.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import select

from bot.adapters.db.database import Database
from bot.adapters.db.tables import Event, Incident, Outbox
from bot.adapters.directory import Directory, build_directory
from bot.adapters.runbook_library import RunbookLibrary
from bot.adapters.slack.render import Message, Renderer
from bot.clock import Clock
from bot.config import Config, Person
from bot.core.actors import Actor, ActorKind
from bot.core.escalation import policy_from_snapshot
from bot.core.runbook import Grants, Runbook, Verdict, check_step, who_can
from bot.core.schedule import Override, on_call
from bot.incident_events import add_event
from bot.service.targets import active_overrides

log = logging.getLogger(__name__)

RUNBOOK_CHECK = Actor(ActorKind.SYSTEM, "runbook-check", "runbook check")
PAGE_ACTION = "runbook_page_person"
MAX_PAGE_BUTTONS = 5


class CheckDeps(Protocol):
    """What the runbook check needs (SlackDeps has it); read-only, so any clock fits."""

    @property
    def db(self) -> Database: ...

    @property
    def config(self) -> Config: ...

    @property
    def clock(self) -> Clock: ...


@dataclass(frozen=True)
class StepReport:
    number: int
    title: str
    verdict: Verdict
    missing: tuple[str, ...]
    can_do: tuple[str, ...]  # on the escalation path
    elsewhere: tuple[str, ...]  # in the config or the directory, not on the path


@dataclass(frozen=True)
class CheckReport:
    incident_id: int
    runbook: Runbook
    person: str
    slack_id: str | None
    reason: str  # paged | acknowledged
    steps: tuple[StepReport, ...]
    directory_error: str | None = None

    @property
    def gaps(self) -> tuple[StepReport, ...]:
        return tuple(s for s in self.steps if s.verdict is not Verdict.CAN)


def escalation_path(
    config: Config,
    snapshot: Mapping[str, Any],
    now: datetime,
    overrides: Mapping[str, Sequence[Override]],
) -> list[str]:
    """Everyone the incident's policy would page at `now`, in step order."""
    if not snapshot:
        return []
    names: dict[str, None] = {}
    for step in policy_from_snapshot(dict(snapshot)).steps:
        for target in step.targets:
            kind, _, name = target.partition(":")
            if kind == "user":
                names.setdefault(name, None)
            elif kind == "schedule" and (schedule := config.schedules.get(name)):
                for person in on_call(schedule, now, tuple(overrides.get(name, ()))):
                    names.setdefault(person, None)
    return list(names)


async def check_person(
    config: Config,
    directory: Directory,
    runbook: Runbook,
    incident_id: int,
    person: str,
    slack_id: str | None,
    reason: str,
    path: Sequence[str],
) -> CheckReport:
    """The directory lookups and the verdicts; no database access."""
    others = [n for n in dict.fromkeys([*config.people, *directory.people()]) if n not in path]
    everyone = list(dict.fromkeys([person, *path, *others]))
    required = runbook.required_grants()
    answers = (
        await directory.grants_many(
            [_person(config, n, slack_id if n == person else None) for n in everyone], required
        )
        if required
        else {}
    )
    grants: dict[str, Grants] = {n: a.granted for n, a in answers.items()}
    own_error = answers[person].error if person in answers else None
    if person not in config.people and person not in directory.people():
        # a Slack user the config does not name: their access is unknown, not empty
        grants[person] = None
        own_error = f"{person} is not one of the people in the config"
    steps = []
    for step in runbook.steps:
        verdict = check_step(step, grants.get(person))
        able = who_can(step, [n for n in everyone if n != person], grants)
        steps.append(
            StepReport(
                number=step.number,
                title=step.title,
                verdict=verdict.verdict,
                missing=verdict.missing,
                can_do=tuple(n for n in able if n in path),
                elsewhere=tuple(n for n in able if n not in path),
            )
        )
    return CheckReport(
        incident_id=incident_id,
        runbook=runbook,
        person=person,
        slack_id=slack_id,
        reason=reason,
        steps=tuple(steps),
        directory_error=own_error,
    )


def _person(config: Config, name: str, slack_id: str | None) -> Person:
    return config.people.get(name) or Person(name, slack=slack_id)


def gap_event(report: CheckReport, step: StepReport) -> tuple[str, dict[str, Any]]:
    """The `runbook_gap` event's detail and data for one step the person cannot do."""
    helpers = [*step.can_do, *step.elsewhere]
    if step.verdict is Verdict.CANNOT:
        what = f"cannot do step {step.number} ({step.title}) of runbook {report.runbook.id}"
        what += f": missing {', '.join(step.missing)}"
    else:
        what = (
            f"could not be verified for step {step.number} ({step.title}) of runbook "
            f"{report.runbook.id}: {report.directory_error or 'the directory did not answer'}"
        )
    detail = f"{report.person} ({report.reason}) {what}; "
    detail += f"can do it: {', '.join(helpers)}" if helpers else "nobody known can do it"
    data = {
        "step": step.number,
        "person": report.person,
        "missing": list(step.missing),
        "can_do": list(step.can_do),
        "elsewhere": list(step.elsewhere),
        "verdict": step.verdict.value,
        "runbook": report.runbook.id,
        "reason": report.reason,
    }
    return detail, data


def render_message(
    renderer: Renderer, config: Config, report: CheckReport, incident: Incident
) -> Message:
    suggested = [
        n
        for n in dict.fromkeys(n for s in report.gaps for n in (*s.can_do, *s.elsewhere))
        if (p := config.people.get(n)) is not None and p.slack  # only people we can page
    ]
    ctx = {
        "r": report,
        "incident": incident,
        "runbook_url": incident.annotations.get("runbook_url"),
        "who": _mention(config, report.person, report.slack_id),
        "mention": lambda name: _mention(config, name, None),
        "buttons": [
            {"name": n, "value": f"{report.incident_id}:{n}"} for n in suggested[:MAX_PAGE_BUTTONS]
        ],
        "page_action": PAGE_ACTION,
        "cannot": sum(1 for s in report.gaps if s.verdict is Verdict.CANNOT),
        "unverified": sum(1 for s in report.gaps if s.verdict is Verdict.UNVERIFIED),
    }
    rendered = renderer.env.get_template("runbook_check.json.j2").render(**ctx)
    blocks = json.loads(rendered)
    gaps = len(report.gaps)
    text = (
        f"Runbook {report.runbook.id}: {report.person} cannot do {gaps} step(s)"
        if gaps
        else f"Runbook {report.runbook.id}: {report.person} can do every step"
    )
    return Message(text=text, blocks=blocks)


def _mention(config: Config, name: str, slack_id: str | None) -> str:
    person = config.people.get(name)
    slack = slack_id or (person.slack if person else None)
    return f"<@{slack}>" if slack else name


def services(deps: Any) -> tuple[Directory, RunbookLibrary]:
    """The directory and runbooks from deps, built from the config if deps has none."""
    directory = getattr(deps, "directory", None)
    library = getattr(deps, "runbooks", None)
    if directory is None:
        directory = build_directory(deps.config.directory, deps.config.path.parent)
        _remember(deps, "directory", directory)
    if library is None:
        library = RunbookLibrary(deps.config.runbooks_dir)
        _remember(deps, "runbooks", library)
    return directory, library


def _remember(deps: Any, name: str, value: object) -> None:
    # a frozen or slotted deps cannot keep it: it is rebuilt next time
    with contextlib.suppress(AttributeError, TypeError):
        setattr(deps, name, value)


async def prepare(deps: CheckDeps, row: Outbox) -> Message | None:
    """For an outbox row of kind `runbook_check`: the thread message to post (None when
    the incident has no runbook or is resolved by now), after recording one `runbook_gap`
    event per gap."""
    payload = row.payload or {}
    person = str(payload.get("person") or "")
    slack_id = payload.get("slack_id")
    reason = str(payload.get("reason") or "paged")
    if row.incident_id is None or not person:
        return None
    directory, library = services(deps)
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        incident = await session.get(Incident, row.incident_id)
        overrides = await active_overrides(session, now) if incident is not None else {}
    if incident is None or incident.status == "resolved":
        return None  # nobody needs to run the runbook any more
    runbook = library.get(incident.runbook_id) or library.find(incident.labels)
    if runbook is None:
        return None
    path = escalation_path(deps.config, incident.policy_snapshot, now, overrides)
    report = await check_person(
        deps.config, directory, runbook, row.incident_id, person, slack_id, reason, path
    )
    await record_gaps(deps.db, report, row.dedup_key, now)
    return render_message(Renderer(deps.config), deps.config, report, incident)


async def record_gaps(db: Database, report: CheckReport, check_key: str, now: datetime) -> int:
    """One `runbook_gap` event per gap; a retried outbox row never writes them twice."""
    if not report.gaps:
        return 0
    async with db.transaction() as session:
        incident = await session.get(Incident, report.incident_id)
        if incident is None:
            return 0
        existing = await session.exec(
            select(Event).where(
                Event.incident_id == report.incident_id, Event.type == "runbook_gap"
            )
        )
        if any(e.data.get("check") == check_key for e in existing.all()):
            return 0
        for step in report.gaps:
            detail, data = gap_event(report, step)
            add_event(
                session,
                incident,
                "runbook_gap",
                RUNBOOK_CHECK,
                counted=False,
                now=now,
                detail=detail,
                data={**data, "check": check_key},
            )
    return len(report.gaps)
