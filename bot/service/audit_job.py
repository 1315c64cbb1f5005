"""The runbook access audit in Slack: `/runbook audit` and the weekly report.

The weekly report is an outbox row of kind `channel` (template `audit_report`) for
`config.audit.channel`, enqueued on `config.audit.cron` (APScheduler's CronTrigger, UTC).
Its dedup key names the scheduled minute, so several replicas post it once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.adapters.cron import crontab_trigger
from bot.adapters.db.clock import to_db
from bot.adapters.db.database import Database
from bot.adapters.db.tables import Outbox, ScheduleOverride
from bot.core.schedule import Override
from bot.service.runbook_audit import AuditReport, render_audit, run_audit
from bot.service.runbook_check import CheckDeps, services
from bot.service.targets import to_override

log = logging.getLogger(__name__)

JOB_ID = "runbook-audit"
SLACK_TEXT_LIMIT = 3900  # Slack truncates longer message text; the full report is the CLI's
SECTION_LIMIT = 2900  # a section block holds 3000 characters


async def db_overrides(db: Database, start: datetime, end: datetime) -> dict[str, list[Override]]:
    """Overrides made from Slack that overlap [start, end), by schedule."""
    async with db.transaction() as session:
        rows = await session.exec(
            select(ScheduleOverride).where(
                ScheduleOverride.starts_at < to_db(end), ScheduleOverride.ends_at > to_db(start)
            )
        )
        found: dict[str, list[Override]] = {}
        for row in rows.all():
            found.setdefault(row.schedule, []).append(to_override(row))
    return found


async def audit_for_slack(deps: CheckDeps, days: float = 7.0) -> tuple[AuditReport, str]:
    """The audit from now over `days`, as Slack mrkdwn (shortened to fit one message)."""
    directory, library = services(deps)
    start = deps.clock.now()
    overrides = await db_overrides(deps.db, start, start + timedelta(days=days))
    report = await run_audit(
        deps.config, directory, start, days, extra_overrides=overrides, runbooks=library.all()
    )
    return report, shorten(render_audit(report, "slack"))


def sections(text: str, limit: int = SECTION_LIMIT) -> list[dict[str, Any]]:
    """mrkdwn sections of at most `limit` characters, cut at line ends."""
    blocks: list[dict[str, Any]] = []
    chunk = ""
    for line in text.splitlines():
        if chunk and len(chunk) + len(line) + 1 > limit:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line[:limit]
    if chunk.strip():
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    return blocks


def shorten(text: str, limit: int = SLACK_TEXT_LIMIT) -> str:
    if len(text) <= limit:
        return text.strip()
    cut = text[:limit].rsplit("\n", 1)[0]
    return cut.strip() + "\n… (shortened: run `nightshift audit` for the full report)"


async def post_weekly_audit(deps: CheckDeps, scheduled: datetime | None = None) -> bool:
    """Enqueue the report for the audit channel; False when already enqueued or unset."""
    settings = deps.config.audit
    if settings is None:
        return False
    report, text = await audit_for_slack(deps)
    now = deps.clock.now()
    slot = (scheduled or now).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    row = Outbox(
        incident_id=None,
        dedup_key=f"audit:{settings.channel}:{slot}",
        kind="channel",
        channel=settings.channel,
        payload={
            "template": "audit_report",
            "text": text,
            "blocks": sections(text),
            "gaps": len(report.result.gaps),
            "checked": {
                "runbooks": report.result.runbooks,
                "people": report.result.people,
                "steps": report.result.steps,
            },
        },
        not_before=to_db(now),
        created_at=to_db(now),
    )
    try:
        async with deps.db.transaction() as session:
            session.add(row)
    except IntegrityError:
        return False  # another replica enqueued this week's report
    wake = getattr(deps, "wake_sender", None)
    if callable(wake):
        wake()
    return True


def schedule_audit_job(scheduler: Any, deps: CheckDeps) -> Any:
    """Add the weekly audit to an APScheduler 3 (asyncio) scheduler; None when unset."""
    settings = deps.config.audit
    if settings is None:
        return None
    trigger = crontab_trigger(settings.cron)

    async def job() -> None:
        try:
            await post_weekly_audit(deps, deps.clock.now().replace(second=0, microsecond=0))
        except Exception:  # a failed report must not stop the scheduler
            log.exception("weekly runbook audit failed")

    return scheduler.add_job(
        job,
        trigger,
        id=JOB_ID,
        replace_existing=True,
        coalesce=True,
        misfire_grace_time=3600,
        max_instances=1,
    )
