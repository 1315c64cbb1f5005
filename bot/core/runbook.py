"""Runbooks and the per-step verdict: can this person execute this step?"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.permissions import missing as missing_grants
from bot.core.routing import Route


@dataclass(frozen=True)
class RunbookStep:
    number: int  # 1-based
    title: str
    requires: tuple[str, ...] = ()
    body: str = ""  # Jinja2 source (rendered by the adapter, sandboxed)
    line: int = 0  # line of the `## ` heading in the file


@dataclass(frozen=True)
class Runbook:
    id: str
    title: str
    match: Mapping[str, str] = field(default_factory=dict)
    steps: tuple[RunbookStep, ...] = ()
    owner: str | None = None
    intro: str = ""  # text between the front matter and the first step
    path: str = ""
    line: int = 1  # line of `id:` in the front matter
    match_line: int = 1

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(key) == value for key, value in self.match.items())

    def required_grants(self) -> frozenset[str]:
        return frozenset(g for step in self.steps for g in step.requires)


class Verdict(StrEnum):
    CAN = "can"
    CANNOT = "cannot"
    UNVERIFIED = "unverified"  # the directory could not answer: never read as "can"


@dataclass(frozen=True)
class StepVerdict:
    step: RunbookStep
    verdict: Verdict
    missing: tuple[str, ...]  # grants not held (all requirements when unverified)


# What the directory knows about a person: the grants held, or None ("could not verify").
Grants = frozenset[str] | None


def check_step(step: RunbookStep, grants: Grants) -> StepVerdict:
    if not step.requires:
        return StepVerdict(step, Verdict.CAN, ())
    if grants is None:
        return StepVerdict(step, Verdict.UNVERIFIED, step.requires)
    lacking = missing_grants(grants, step.requires)
    return StepVerdict(step, Verdict.CANNOT if lacking else Verdict.CAN, lacking)


def check_runbook(runbook: Runbook, grants: Grants) -> tuple[StepVerdict, ...]:
    return tuple(check_step(step, grants) for step in runbook.steps)


def who_can(
    step: RunbookStep, candidates: Iterable[str], grants: Mapping[str, Grants]
) -> list[str]:
    """The candidates (in order, deduplicated) whose known grants meet every requirement."""
    seen: set[str] = set()
    able: list[str] = []
    for name in candidates:
        if name in seen:
            continue
        seen.add(name)
        if check_step(step, grants.get(name)).verdict is Verdict.CAN:
            able.append(name)
    return able


def pick_runbook(runbooks: Sequence[Runbook], labels: Mapping[str, str]) -> Runbook | None:
    """The most specific matching runbook (most match labels); earlier wins a tie."""
    best: Runbook | None = None
    for runbook in runbooks:
        if runbook.matches(labels) and (best is None or len(runbook.match) > len(best.match)):
            best = runbook
    return best


def route_reachable(runbook: Runbook, route: Route) -> bool:
    """A route is reachable when the runbook's match labels don't contradict the route's."""
    return all(runbook.match.get(key, value) == value for key, value in route.match.items())


def reachable_routes(runbook: Runbook, routes: Sequence[Route]) -> list[Route]:
    return [route for route in routes if route_reachable(runbook, route)]
