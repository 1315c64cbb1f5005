"""Run the runbook access audit for a config: the CLI, `/runbook audit` and the weekly job.

Runbooks and the directory are read here (I/O); the decisions are `bot.core.audit`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from bot.adapters.directory import Directory
from bot.adapters.runbooks import load_runbooks
from bot.config import Config, Person
from bot.core.audit import AuditResult, Gap, audit, coverage_by_policy, people_to_check
from bot.core.problems import Problem
from bot.core.runbook import Grants, Runbook
from bot.core.schedule import Override

FORMATS = ("text", "json", "markdown")


class UnknownRunbook(Exception):
    pass


@dataclass(frozen=True)
class AuditReport:
    result: AuditResult
    unverified: Mapping[str, str] = field(default_factory=dict)  # person -> directory error
    problems: Sequence[Problem] = ()  # runbook problems found while loading


def parse_at(text: str) -> datetime:
    """ISO 8601; `Z` allowed; a time without an offset is read as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def run_audit(
    config: Config,
    directory: Directory,
    start: datetime,
    days: float,
    runbook_id: str | None = None,
    extra_overrides: Mapping[str, Sequence[Override]] | None = None,
    runbooks: Sequence[Runbook] | None = None,
) -> AuditReport:
    problems: list[Problem] = []
    if runbooks is None:
        loaded, problems = load_runbooks(config.runbooks_dir) if config.runbooks_dir else ([], [])
        runbooks = loaded
    if runbook_id is not None:
        runbooks = [r for r in runbooks if r.id == runbook_id]
        if not runbooks:
            raise UnknownRunbook(runbook_id)
    end = start + timedelta(days=days)
    coverage = coverage_by_policy(
        config.policies, config.schedules, start, end, extra_overrides or {}
    )
    names = people_to_check(runbooks, config.routes, coverage)
    others = [n for n in dict.fromkeys([*config.people, *directory.people()]) if n not in names]
    required = frozenset(g for r in runbooks for g in r.required_grants())
    people = [config.people.get(n) or Person(n) for n in [*names, *others]]
    answers = await directory.grants_many(people, required) if required else {}
    grants: dict[str, Grants] = {name: a.granted for name, a in answers.items()}
    unverified = {n: a.error or "" for n, a in answers.items() if a.granted is None}
    result = audit(
        runbooks, config.routes, coverage, grants, start, end, directory_people=[*names, *others]
    )
    return AuditReport(result, {n: unverified[n] for n in names if n in unverified}, problems)


@lru_cache(maxsize=4096)
def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gap_json(gap: Gap) -> dict[str, Any]:
    return {
        "runbook": gap.runbook,
        "step": gap.step,
        "step_title": gap.step_title,
        "person": gap.person,
        "on_call": [{"from": iso(a), "to": iso(b)} for a, b in gap.on_call],
        "missing": list(gap.missing),
        "can_do": list(gap.can_do),
        "verdict": gap.verdict.value,
        "elsewhere": list(gap.elsewhere),
    }


def audit_json(report: AuditReport) -> dict[str, Any]:
    result = report.result
    return {
        "gaps": [gap_json(gap) for gap in result.gaps],
        "checked": {"runbooks": result.runbooks, "people": result.people, "steps": result.steps},
        "window": {"from": iso(result.start), "to": iso(result.end)},
        "on_call": {
            person: [{"from": iso(a), "to": iso(b)} for a, b in intervals]
            for person, intervals in result.shifts.items()
        },
        "unverified": dict(report.unverified),
    }


def dump_json(data: Mapping[str, Any]) -> str:
    """Indented at the top, one gap per line: readable in CI logs, greppable, and fast
    (the C encoder only runs without `indent`, which matters for thousands of gaps)."""
    parts = []
    for key, value in data.items():
        if isinstance(value, list) and value:
            items = ",\n    ".join(json.dumps(item, ensure_ascii=False) for item in value)
            parts.append(f"  {json.dumps(key)}: [\n    {items}\n  ]")
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("bot", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_audit(report: AuditReport, fmt: str) -> str:
    """`text`, `markdown` or `slack` (mrkdwn) through bot/templates/audit/; `json` as JSON."""
    if fmt == "json":
        return dump_json(audit_json(report))
    result = report.result
    by_step: dict[tuple[str, int], list[Gap]] = {}
    for gap in result.gaps:
        by_step.setdefault((gap.runbook, gap.step), []).append(gap)
    template = _templates().get_template(f"audit/{fmt}.j2")
    text: str = template.render(
        result=result,
        groups=[(gaps[0], gaps) for gaps in by_step.values()],
        unverified=report.unverified,
        shifts=result.shifts,
        fmt_time=_slack_time if fmt == "slack" else _fmt_time,
        esc=_escape_mrkdwn if fmt == "slack" else str,
    )
    return text.rstrip("\n") + "\n"


def _escape_mrkdwn(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_time(moment: datetime) -> str:
    """Slack shows a date token in each reader's own time zone; UTC is the fallback."""
    return f"<!date^{int(moment.timestamp())}^{{date_short}} {{time}}|{_fmt_time(moment)}>"


def _fmt_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
