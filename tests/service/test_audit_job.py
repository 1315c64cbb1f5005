"""The weekly runbook access audit: an outbox row for the audit channel, once per slot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlmodel import select

from bot.adapters.cron import crontab_trigger
from bot.adapters.db.clock import to_db
from bot.adapters.db.database import Database
from bot.adapters.db.tables import Outbox, ScheduleOverride
from bot.clock import FakeClock
from bot.config import AuditSettings, Config
from bot.config_loader import load_config
from bot.service.audit_job import (
    JOB_ID,
    audit_for_slack,
    post_weekly_audit,
    schedule_audit_job,
    sections,
    shorten,
)

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # a Monday; bob takes over at 08:00 UTC

CONFIG = """\
people:
  alice: {slack: U0ALICE001}
  bob:   {slack: U0BOB00001}
  carol: {slack: U0CAROL001}
schedules:
  primary:
    timezone: Europe/Berlin
    rotation: {every: 1w, start: "2026-11-02T09:00", members: [alice, bob]}
policies:
  default:
    steps:
      - {notify: ["schedule:primary"], wait: 5m}
routes:
  - {match: {}, policy: default}
directory: {provider: file, file: directory.yaml}
runbooks: runbooks
audit: {channel: C0AUDIT001, cron: "0 9 * * 1"}
"""

RUNBOOK = """\
---
id: agent-regression
title: Agent serving wrong answers
match: {alertname: AgentAnswerQualityDrop}
---
## Roll back to the previous prompt version
requires: deploy:ai-agent:rollback
`promptctl rollback`
"""

DIRECTORY = """\
users:
  alice: {grants: ["deploy:ai-agent:rollback"]}
"""


@dataclass
class Deps:
    db: Database
    config: Config
    clock: FakeClock = field(default_factory=lambda: FakeClock(NOW))
    wakes: int = 0

    def wake_sender(self) -> None:
        self.wakes += 1


def make_config(tmp_path: Path) -> Config:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "agent-regression.md").write_text(RUNBOOK)
    (tmp_path / "directory.yaml").write_text(DIRECTORY)
    (tmp_path / "nightshift.yaml").write_text(CONFIG)
    return load_config(tmp_path / "nightshift.yaml")


async def test_weekly_report_is_enqueued_once(sqlite_url: str, tmp_path: Path) -> None:
    db = Database(sqlite_url)
    try:
        deps = Deps(db, make_config(tmp_path))
        assert await post_weekly_audit(deps, NOW) is True
        assert await post_weekly_audit(deps, NOW) is False  # a second replica, same slot
        async with db.transaction() as session:
            rows = list((await session.exec(select(Outbox))).all())
        [row] = rows
        assert (row.kind, row.channel, row.incident_id) == ("channel", "C0AUDIT001", None)
        assert row.dedup_key == "audit:C0AUDIT001:2026-11-23T07:00"
        assert row.payload["template"] == "audit_report"
        assert row.payload["gaps"] == 1
        assert row.payload["checked"] == {"runbooks": 1, "people": 2, "steps": 1}
        assert "bob cannot (missing `deploy:ai-agent:rollback`)" in row.payload["text"]
        [section] = row.payload["blocks"]
        assert section["text"]["text"] == row.payload["text"]
        assert deps.wakes == 1
    finally:
        await db.dispose()


async def test_slack_overrides_count_in_the_audit(sqlite_url: str, tmp_path: Path) -> None:
    db = Database(sqlite_url)
    try:
        deps = Deps(db, make_config(tmp_path))
        async with db.transaction() as session:
            session.add(
                ScheduleOverride(
                    schedule="primary",
                    person="carol",
                    starts_at=to_db(datetime(2026, 11, 25, 20, tzinfo=UTC)),
                    ends_at=to_db(datetime(2026, 11, 26, 6, tzinfo=UTC)),
                    created_by="U0ALICE001",
                    created_at=to_db(NOW),
                )
            )
        report, text = await audit_for_slack(deps, days=7)
        carol = [g for g in report.result.gaps if g.person == "carol"]
        assert [(a.isoformat(), b.isoformat()) for a, b in carol[0].on_call] == [
            ("2026-11-25T20:00:00+00:00", "2026-11-26T06:00:00+00:00")
        ]
        assert "carol cannot" in text
    finally:
        await db.dispose()


async def test_job_is_scheduled_on_the_configured_cron(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    scheduler = AsyncIOScheduler(timezone=UTC)
    job = schedule_audit_job(scheduler, Deps(db=None, config=config))  # type: ignore[arg-type]
    assert job.id == JOB_ID
    scheduler.start(paused=True)
    try:
        fire = job.trigger.get_next_fire_time(None, NOW)
        assert fire == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    finally:
        scheduler.shutdown(wait=False)
    unset = Config(path=config.path, audit=None)
    assert schedule_audit_job(scheduler, Deps(db=None, config=unset)) is None  # type: ignore[arg-type]
    monthly = Config(path=config.path, audit=AuditSettings("C1", "30 6 1 * *"))
    job = schedule_audit_job(AsyncIOScheduler(timezone=UTC), Deps(db=None, config=monthly))  # type: ignore[arg-type]
    assert job.trigger.get_next_fire_time(None, NOW) == datetime(2026, 12, 1, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        # crontab's 1 is Monday (APScheduler 3's from_crontab would say Tuesday)
        ("0 9 * * 1", "2026-11-22T00:00", "2026-11-23T09:00"),
        ("0 9 * * 0", "2026-11-23T00:00", "2026-11-29T09:00"),
        ("0 9 * * 7", "2026-11-23T00:00", "2026-11-29T09:00"),
        ("0 9 * * 1-5", "2026-11-28T00:00", "2026-11-30T09:00"),
        ("0 9 * * 5,6", "2026-11-23T00:00", "2026-11-27T09:00"),
        ("0 9 * * */2", "2026-11-23T10:00", "2026-11-24T09:00"),
        ("0 9 * * mon", "2026-11-22T00:00", "2026-11-23T09:00"),
    ],
)
def test_crontab_day_of_week_means_what_cron_means(cron: str, after: str, expected: str) -> None:
    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    fire = crontab_trigger(cron).get_next_fire_time(None, start)
    assert fire == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_sections_fit_slack_blocks() -> None:
    text = "\n".join(f"line {i:04d}" for i in range(1000))
    blocks = sections(text)
    assert all(len(b["text"]["text"]) <= 2900 for b in blocks)
    assert "\n".join(b["text"]["text"] for b in blocks) == text


def test_shorten_keeps_whole_lines() -> None:
    text = "\n".join(f"line {i}" for i in range(1000))
    short = shorten(text, 100)
    assert len(short) < 200
    assert short.endswith("run `nightshift audit` for the full report)")
    assert "line 1\n" in short
