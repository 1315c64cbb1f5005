"""The runbook access audit: who can be paged for a runbook, and which steps they cannot do.

For every runbook, every route its `match` can reach, every person who can be paged
through that route's policy in a window (schedule members while on call, users named
directly for the whole window): the steps that person cannot execute, the grants
missing, when they are on call, and who on the escalation path can do the step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.core.escalation import Policy
from bot.core.routing import Route
from bot.core.runbook import Grants, Runbook, Verdict, check_step, reachable_routes
from bot.core.schedule import Override, Schedule, shifts

Interval = tuple[datetime, datetime]
# person -> when they can be paged through a policy, in escalation order
Coverage = Mapping[str, tuple[Interval, ...]]


@dataclass(frozen=True)
class Gap:
    runbook: str
    step: int  # 1-based
    step_title: str
    person: str
    on_call: tuple[Interval, ...]
    missing: tuple[str, ...]
    can_do: tuple[str, ...]  # people on the escalation path who can do the step
    verdict: Verdict  # CANNOT, or UNVERIFIED when the directory could not answer
    elsewhere: tuple[str, ...] = ()  # other known people (not on the path) who can


@dataclass(frozen=True)
class AuditResult:
    gaps: tuple[Gap, ...]
    runbooks: int
    people: int
    steps: int
    start: datetime
    end: datetime
    # person -> on-call intervals across everything checked (for the report)
    shifts: Mapping[str, tuple[Interval, ...]] = field(default_factory=dict)


def merge(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def policy_coverage(
    policy: Policy,
    schedules: Mapping[str, Schedule],
    start: datetime,
    end: datetime,
    extra_overrides: Mapping[str, Sequence[Override]] | None = None,
) -> dict[str, tuple[Interval, ...]]:
    """Who the policy can page in [start, end], in escalation order, with when."""
    found: dict[str, list[Interval]] = {}
    for step in policy.steps:
        for target in step.targets:
            kind, _, name = target.partition(":")
            if kind == "user":
                found.setdefault(name, []).append((start, end))
            elif kind == "schedule" and name in schedules:
                extra = tuple((extra_overrides or {}).get(name, ()))
                for shift in shifts(schedules[name], start, end, extra):
                    lo, hi = max(shift.start, start), min(shift.end, end)
                    if lo < hi:
                        found.setdefault(shift.person, []).append((lo, hi))
    return {person: merge(intervals) for person, intervals in found.items()}


def coverage_by_policy(
    policies: Mapping[str, Policy],
    schedules: Mapping[str, Schedule],
    start: datetime,
    end: datetime,
    extra_overrides: Mapping[str, Sequence[Override]] | None = None,
) -> dict[str, dict[str, tuple[Interval, ...]]]:
    return {
        name: policy_coverage(policy, schedules, start, end, extra_overrides)
        for name, policy in policies.items()
    }


def people_to_check(
    runbooks: Sequence[Runbook], routes: Sequence[Route], coverage: Mapping[str, Coverage]
) -> list[str]:
    """Everyone the audit will need grants for, in first-seen order."""
    seen: dict[str, None] = {}
    for runbook in runbooks:
        for route in reachable_routes(runbook, routes):
            for person in coverage.get(route.policy or "", {}):
                seen.setdefault(person, None)
    return list(seen)


def audit(
    runbooks: Sequence[Runbook],
    routes: Sequence[Route],
    coverage: Mapping[str, Coverage],
    grants: Mapping[str, Grants],
    start: datetime,
    end: datetime,
    directory_people: Sequence[str] = (),
) -> AuditResult:
    gaps: dict[tuple[str, int, str], Gap] = {}
    people: set[str] = set()
    on_call: dict[str, list[Interval]] = {}
    seen_policies: set[str] = set()
    steps = 0
    for runbook in runbooks:
        steps += len(runbook.steps)
        policies = _unique(route.policy or "" for route in reachable_routes(runbook, routes))
        for policy_name in policies:
            path = coverage.get(policy_name, {})
            if policy_name not in seen_policies:
                seen_policies.add(policy_name)
                people.update(path)
                for person, intervals in path.items():
                    on_call.setdefault(person, []).extend(intervals)
            for step in runbook.steps:
                if not step.requires:
                    continue
                verdicts = {p: check_step(step, grants.get(p)) for p in path}
                able = tuple(p for p, v in verdicts.items() if v.verdict is Verdict.CAN)
                for person, verdict in verdicts.items():
                    if verdict.verdict is Verdict.CAN:
                        continue
                    key = (runbook.id, step.number, person)
                    gap = Gap(
                        runbook=runbook.id,
                        step=step.number,
                        step_title=step.title,
                        person=person,
                        on_call=path[person],
                        missing=verdict.missing,
                        can_do=able,
                        verdict=verdict.verdict,
                    )
                    previous = gaps.get(key)
                    if previous is not None:
                        gap = _combine(previous, gap)
                    gaps[key] = gap
    by_id = {runbook.id: runbook for runbook in runbooks}
    known_able: dict[tuple[str, int], tuple[str, ...]] = {}  # per step, over directory_people
    result = []
    for gap in gaps.values():
        step_key = (gap.runbook, gap.step)
        if step_key not in known_able:
            step = by_id[gap.runbook].steps[gap.step - 1]
            known_able[step_key] = tuple(
                p
                for p in directory_people
                if check_step(step, grants.get(p)).verdict is Verdict.CAN
            )
        others = tuple(p for p in known_able[step_key] if p not in gap.can_do and p != gap.person)
        result.append(replace(gap, elsewhere=others) if others else gap)
    result.sort(key=lambda g: (g.runbook, g.step, g.person))
    return AuditResult(
        gaps=tuple(result),
        runbooks=len(runbooks),
        people=len(people),
        steps=steps,
        start=start,
        end=end,
        shifts={p: merge(i) for p, i in sorted(on_call.items())},
    )


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _combine(a: Gap, b: Gap) -> Gap:
    return Gap(
        runbook=a.runbook,
        step=a.step,
        step_title=a.step_title,
        person=a.person,
        on_call=merge((*a.on_call, *b.on_call)),
        missing=a.missing,
        can_do=tuple(_unique((*a.can_do, *b.can_do))),
        verdict=a.verdict,
    )
