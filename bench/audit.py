"""Benchmark: the runbook access audit over 200 runbooks x 100 people x 30 days.

Generates a config in memory (10 schedules with daily and weekly rotations across time
zones plus overrides, 10 policies, 11 routes), 200 runbook files and a directory.yaml
in a temporary folder, then times `nightshift audit`'s work: loading the runbooks,
computing who is on call when, asking the (file) directory and finding the gaps.
Target: under 2 s. Prints the figures.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.adapters.directory import build_directory
from bot.adapters.runbooks import load_runbooks
from bot.config import Config, DirectorySettings, Person
from bot.core.escalation import Policy, Step
from bot.core.routing import Route
from bot.core.schedule import Override, Rotation, Schedule
from bot.service.runbook_audit import render_audit, run_audit

RUNBOOKS, PEOPLE, DAYS, TEAMS = 200, 100, 30, 10
SYSTEMS = ["deploy", "k8s", "grafana", "sso", "db", "flags", "traces", "cloud"]
ACTIONS = ["view", "read", "restart", "rollback", "toggle", "resize"]
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney"]
START = datetime(2026, 10, 15, tzinfo=UTC)  # spans the October and November DST changes


def grant(rng: random.Random, team: int) -> str:
    return f"{rng.choice(SYSTEMS)}:svc-{team}-{rng.randrange(4)}:{rng.choice(ACTIONS)}"


def build(folder: Path, rng: random.Random, realistic: bool) -> Config:
    """`realistic`: runbooks need grants from their team's pool and team members hold
    most of it. Otherwise grants are drawn at random: nearly every step is a gap."""
    pools = [sorted({grant(rng, t) for _ in range(15)}) for t in range(TEAMS)]
    people = {f"p{i:03d}": Person(f"p{i:03d}", slack=f"U{i:09d}") for i in range(PEOPLE)}
    names = list(people)
    schedules, policies, routes = {}, {}, []
    for t in range(TEAMS):
        members = tuple(names[t * 10 : t * 10 + 10])
        every = timedelta(hours=12) if t % 2 else timedelta(days=1)
        starts = [START + timedelta(hours=rng.randrange(DAYS * 24)) for _ in range(5)]
        overrides = tuple(
            Override(rng.choice(names), at, at + timedelta(hours=rng.randint(2, 12)))
            for at in starts
        )
        schedules[f"team{t}"] = Schedule(
            f"team{t}", ZONES[t % len(ZONES)],
            Rotation(every, datetime(2026, 9, 7, 9, 0), members), overrides,
        )  # fmt: skip
        policies[f"team{t}"] = Policy(
            f"team{t}",
            (
                Step((f"schedule:team{t}",), timedelta(minutes=5)),
                Step((f"schedule:team{(t + 1) % TEAMS}", f"user:{rng.choice(names)}"),
                     timedelta(minutes=10)),
            ),
        )  # fmt: skip
        routes.append(Route({"team": f"t{t}"}, policy=f"team{t}"))
    routes.append(Route({}, policy="team0"))

    (folder / "runbooks").mkdir()
    for r in range(RUNBOOKS):
        team = r % TEAMS
        steps = []
        for s in range(rng.randint(3, 6)):
            count = rng.randint(0, 3)
            picked = (
                rng.sample(pools[team], count)
                if realistic
                else [grant(rng, team) for _ in range(count)]
            )
            grants = ", ".join(picked)
            requires = f"requires: {grants}\n" if grants else ""
            steps.append(
                f"## Step {s + 1} of runbook {r}\n{requires}Run `fix {{{{ labels.team }}}}`.\n"
            )
        (folder / "runbooks" / f"rb{r:03d}.md").write_text(
            f"---\nid: rb{r:03d}\ntitle: Runbook {r}\n"
            f"match: {{alertname: Alert{r}, team: t{team}}}\n---\n" + "\n".join(steps)
        )
    lines = ["users:"]
    for i, name in enumerate(names):
        team = i // 10
        if realistic:
            held = [g for g in pools[team] if rng.random() < 0.85]
            if rng.random() < 0.1:
                held.append(f"deploy:svc-{team}-*:*")
        else:
            held = [grant(rng, team) for _ in range(12)] + [f"grafana:svc-{team}-*:*"]
        lines.append(f"  {name}: {{grants: [{', '.join(repr(g) for g in held)}]}}")
    (folder / "directory.yaml").write_text("\n".join(lines) + "\n")
    return Config(
        path=folder / "nightshift.yaml",
        people=people,
        schedules=schedules,
        policies=policies,
        routes=tuple(routes),
        directory=DirectorySettings(provider="file", file=folder / "directory.yaml"),
        runbooks_dir=folder / "runbooks",
    )


async def scenario(realistic: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        config = build(Path(tmp), random.Random(7), realistic)
        assert config.runbooks_dir is not None
        t0 = time.perf_counter()
        runbooks, problems = load_runbooks(config.runbooks_dir)
        t1 = time.perf_counter()
        assert not [p for p in problems if p.severity == "error"], problems[:3]
        directory = build_directory(config.directory, config.path.parent)
        report = await run_audit(config, directory, START, DAYS, runbooks=runbooks)
        t2 = time.perf_counter()
        text = render_audit(report, "json")
        t3 = time.perf_counter()
    result = report.result
    name = "team-scoped grants" if realistic else "random grants"
    print(
        f"{name}: {result.runbooks} runbooks ({result.steps} steps) x {result.people} "
        f"people x {DAYS} days -> {len(result.gaps)} gaps"
    )
    print(f"  load + validate runbooks:   {t1 - t0:6.3f} s")
    print(f"  on-call + directory + gaps: {t2 - t1:6.3f} s")
    print(f"  render JSON ({len(text) // 1024} KiB):  {t3 - t2:6.3f} s")
    print(f"  total: {t3 - t0:.3f} s (target < 2 s: {'OK' if t3 - t0 < 2 else 'MISSED'})")
    return t3 - t0


async def main() -> None:
    await scenario(realistic=True)
    await scenario(realistic=False)


if __name__ == "__main__":
    asyncio.run(main())
