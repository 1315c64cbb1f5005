"""Deliver one outbox row: render from the current database state, call Slack, record."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.clock import to_db
from bot.adapters.db.tables import Incident, Outbox
from bot.adapters.slack.delivery import Failure
from bot.adapters.slack.row_message import row_message
from bot.core.actors import Actor, ActorKind
from bot.incident_events import add_event

if TYPE_CHECKING:
    from bot.adapters.slack.sender import OutboxSender

log = logging.getLogger(__name__)

SENDER = Actor(ActorKind.SYSTEM, "slack-sender", "Slack sender")
UNCERTAIN = "uncertain: "
NEEDS_POST = ("incident_update", "runbook_check")


class RowDelivery:
    def __init__(self, sender: OutboxSender, row: Outbox, now: datetime) -> None:
        self.sender = sender
        self.deps = sender.deps
        self.row = row
        self.now = now
        # the Slack channel (or DM user) the row is paced by; a reply into a thread
        # carries the thread's channel in `channel` too
        self.pace_channel = row.channel
        self.slack_channel: str | None = row.slack_channel
        self.covered = 0  # pending updates of the incident the rendered message includes

    async def deliver(self) -> str:
        """sent | dry_run | wait | paced | retry | failed | skipped"""
        row = self.row
        if not self.sender.pacer.ready(self.pace_channel, self.now):
            return "paced"  # before any database work: a busy channel has many such rows
        incident = await self.sender.load_incident(row.incident_id)
        if row.incident_id is not None and incident is None:
            return await self._give_up("its incident no longer exists")
        needs_post = row.kind in NEEDS_POST or (
            row.kind == "thread" and not row.payload.get("thread_ts")
        )
        if not self.sender.dry_run and needs_post and incident and not incident.slack_ts:
            if await self._post_pending(incident):
                return "wait"
            return await self._give_up("the incident message was never posted")
        if not self.sender.try_pace(self.pace_channel, self.now):
            return "paced"
        if not await self.sender.claim(row, self.now):
            return "skipped"
        try:
            if self.sender.dry_run:
                await self._dry_run(incident)
                return "dry_run"
            ts = await self._send(incident)
        except Failure as failure:
            return await self._failed(failure)
        except Exception as exc:  # a template or preparer bug: keep the row, say why
            log.exception("outbox row %s (%s) could not be prepared", row.id, row.kind)
            return await self._failed(Failure("unexpected", repr(exc)[:300], True))
        await self._finish(incident, ts)
        self.deps.metrics.sent.labels(row.kind).inc()
        return "sent"

    # --- sending --------------------------------------------------------------------

    async def _send(self, incident: Incident | None) -> str | None:
        assert self.sender.slack is not None
        slack = self.sender.slack
        row = self.row
        message, self.covered = await row_message(self.sender, row)
        if message is None:
            return None
        check_first = (row.last_error or "").startswith(UNCERTAIN)
        incident_id = incident.id if incident else None
        if row.kind == "incident_post":
            assert incident is not None and incident.id is not None
            if incident.slack_ts:
                return incident.slack_ts  # posted before: never twice
            channel = row.channel or incident.channel or self.deps.config.slack_channel
            if not channel:
                raise Failure("no_channel", "no Slack channel for this incident", False)
            self.slack_channel = channel
            return await slack.post(
                row.id or 0, incident_id, channel, message, check_first=check_first
            )
        if row.kind == "incident_update":
            assert incident is not None and incident.slack_channel and incident.slack_ts
            self.slack_channel = incident.slack_channel
            await slack.update(incident.slack_channel, incident.slack_ts, message)
            return incident.slack_ts
        if row.kind == "dm":
            if not row.channel:
                raise Failure("no_channel", "page target has no Slack user id", False)
            self.slack_channel = row.slack_channel or await slack.open_dm(row.channel)
            return await slack.post(
                row.id or 0, incident_id, self.slack_channel, message, check_first=check_first
            )
        if row.kind == "channel":
            if not row.channel:
                raise Failure("no_channel", "no Slack channel to page", False)
            self.slack_channel = row.channel
            return await slack.post(
                row.id or 0, incident_id, row.channel, message, check_first=check_first
            )
        # thread replies (timeline, agent answers, prepared kinds)
        thread_ts = row.payload.get("thread_ts") or (incident.slack_ts if incident else None)
        channel = (
            row.payload.get("reply_channel")
            or (incident.slack_channel if incident else None)
            or row.channel
        )
        if not channel:
            raise Failure("no_channel", "no Slack channel for this reply", False)
        self.slack_channel = channel
        return await slack.post(
            row.id or 0, incident_id, channel, message, thread_ts=thread_ts, check_first=check_first
        )

    async def _dry_run(self, incident: Incident | None) -> None:
        row = self.row
        message, covered = await row_message(self.sender, row)
        text = message.text if message else "(nothing to post)"
        where = row.channel or (incident.channel if incident else None) or "?"
        log.info("dry-run: outbox %s %s to %s: %s", row.id, row.kind, where, text)
        async with self.deps.db.transaction() as session:
            await self._mark_sent(session)
            if incident is not None:
                locked = await self._lock(session, incident.id)
                if locked is not None:
                    add_event(
                        session,
                        locked,
                        "posted",
                        SENDER,
                        counted=False,
                        now=self.now,
                        detail=f"dry-run: {row.kind} to {where}: {text}"[:4000],
                        data={"dry_run": True, "kind": row.kind, "outbox_id": row.id},
                    )
            await self._fold_updates(session, covered)
        self.deps.metrics.dry_run.labels(row.kind).inc()

    # --- recording ------------------------------------------------------------------

    async def _mark_sent(self, session: AsyncSession) -> Outbox:
        fresh = await session.get(Outbox, self.row.id)
        assert fresh is not None
        fresh.status, fresh.sent_at, fresh.last_error = "sent", to_db(self.now), None
        session.add(fresh)
        return fresh

    async def _finish(self, incident: Incident | None, ts: str | None) -> None:
        row = self.row
        async with self.deps.db.transaction() as session:
            fresh = await self._mark_sent(session)
            fresh.slack_channel, fresh.slack_ts = self.slack_channel, ts
            if row.kind == "incident_post" and incident is not None:
                locked = await self._lock(session, incident.id)
                if locked is not None and not locked.slack_ts:
                    locked.slack_channel, locked.slack_ts = self.slack_channel, ts
                    add_event(
                        session,
                        locked,
                        "posted",
                        SENDER,
                        counted=False,
                        now=self.now,
                        detail=f"incident message posted to {self.slack_channel}",
                        data={"channel": self.slack_channel, "ts": ts},
                    )
            await self._fold_updates(session, self.covered)

    async def _fold_updates(self, session: Any, covered: int) -> None:
        """Pending updates of this incident that the message just sent already shows."""
        if not covered or self.row.incident_id is None:
            return
        await session.exec(
            update(Outbox)
            .where(
                col(Outbox.incident_id) == self.row.incident_id,
                col(Outbox.kind) == "incident_update",
                col(Outbox.status) == "pending",
                col(Outbox.id) <= covered,
                col(Outbox.id) != self.row.id,
            )
            .values(status="sent", sent_at=to_db(self.now), last_error="coalesced")
        )

    async def _lock(self, session: Any, incident_id: int | None) -> Incident | None:
        query = select(Incident).where(Incident.id == incident_id)
        if self.deps.db.is_postgres:
            query = query.with_for_update()
        result: Incident | None = (await session.exec(query)).first()
        return result

    async def _failed(self, failure: Failure) -> str:
        row, metrics = self.row, self.deps.metrics
        metrics.send_errors.labels(failure.reason).inc()
        uncertain = failure.uncertain or (row.last_error or "").startswith(UNCERTAIN)
        give_up = self.sender.should_give_up(row, failure, self.now)
        if failure.retry_after is not None:
            metrics.rate_limited.inc()
            wait = timedelta(seconds=failure.retry_after)
            self.sender.pacer.hold(self.pace_channel, self.now + wait)
        else:
            wait = self.sender.backoff(row.attempts)
        async with self.deps.db.transaction() as session:
            fresh = await session.get(Outbox, row.id)
            assert fresh is not None
            fresh.last_error = ((UNCERTAIN if uncertain else "") + str(failure))[:2000]
            fresh.slack_channel = self.slack_channel or fresh.slack_channel
            if give_up:
                fresh.status = "failed"
            else:
                fresh.status = "pending"
                fresh.not_before = to_db(self.now + wait)
            session.add(fresh)
        if give_up:
            metrics.failed.labels(row.kind).inc()
            log.error(
                "outbox %s (%s, incident %s) failed after %d attempt(s): %s",
                row.id,
                row.kind,
                row.incident_id,
                row.attempts,
                failure,
            )
            return "failed"
        if row.attempts == self.sender.loud_after:
            metrics.delayed.labels(row.kind).inc()
        level = logging.ERROR if row.attempts >= self.sender.loud_after else logging.WARNING
        log.log(
            level,
            "outbox %s (%s) attempt %d: %s; retry in %.0fs",
            row.id,
            row.kind,
            row.attempts,
            failure,
            wait.total_seconds(),
        )
        return "retry"

    async def _give_up(self, why: str) -> str:
        async with self.deps.db.transaction() as session:
            fresh = await session.get(Outbox, self.row.id)
            assert fresh is not None
            fresh.status, fresh.last_error = "failed", why
            session.add(fresh)
        self.deps.metrics.failed.labels(self.row.kind).inc()
        log.error(
            "outbox %s (%s, incident %s) failed: %s",
            self.row.id,
            self.row.kind,
            self.row.incident_id,
            why,
        )
        return "failed"

    async def _post_pending(self, incident: Incident) -> bool:
        """Is the incident message still on its way (so this row should wait for it)?"""
        async with self.deps.db.transaction() as session:
            query = select(func.count()).where(
                Outbox.incident_id == incident.id,
                Outbox.kind == "incident_post",
                col(Outbox.status).in_(("pending", "sending")),
            )
            return int((await session.exec(query)).one()) > 0
