"""The escalation engine: APScheduler runs ONE tick job; the database holds every timer.

After each tick the job is rescheduled for the earliest due time (at most `idle_poll`
away, so work written by other replicas or processes is seen soon), and `wake()` runs it
at once when an incident opens here. No per-incident jobs exist to be lost on a restart:
whatever fell due while the process was down is simply due on the first tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry
from sqlalchemy import Connection

from bot.adapters.db.database import Database, DatabaseUnavailable
from bot.clock import Clock
from bot.config import Config
from bot.metrics_escalation import EscalationMetrics
from bot.service.escalation import (
    Advanced,
    advance_due,
    advance_one,
    due_ids,
    next_due,
    postpone,
)

log = logging.getLogger(__name__)

JOB_ID = "escalation-tick"
QUARANTINE = timedelta(seconds=60)
BUSY_PARK_S = 3600.0  # an incident that fails to advance is retried this late


class EscalationEngine:
    def __init__(
        self,
        db: Database,
        config: Config,
        clock: Clock,
        registry: CollectorRegistry | None = None,
        on_outbox: Callable[[Collection[str | None]], None] = lambda _channels: None,
        *,
        batch: int = 25,
        idle_poll: float = 1.0,
        on_fired: Callable[[Advanced, float], None] | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.metrics = EscalationMetrics(registry)
        self.on_outbox = on_outbox
        self.batch = batch
        self.idle_poll = idle_poll
        self.on_fired = on_fired  # (what advanced, lateness in seconds): for benchmarks
        self._scheduler: AsyncIOScheduler | None = None
        self._busy = asyncio.Lock()
        self._again = False
        self._woken = False  # a tick is already scheduled for now

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start ticking; call from inside the running event loop. The first tick is
        immediate, so steps that fell due while the process was down fire now."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self._run,
            "interval",
            seconds=self.idle_poll,
            id=JOB_ID,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        """Stop ticking and wait for a tick in flight to commit or roll back."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
        async with self._busy:
            pass

    def wake(self) -> None:
        """Tick now (an ack was handed back, or a step falls due before the next poll)."""
        if self._busy.locked():
            self._again = True  # the running tick goes round once more
        elif not self._woken:
            # an alert storm wakes the engine once per delivery; rescheduling the job
            # once is enough
            self._woken = True
            self._reschedule(0.0)

    # --- the tick -------------------------------------------------------------------------

    async def tick(self, now: datetime | None = None) -> int:
        """Advance every incident due at `now` (default: the clock); returns how many."""
        total = 0
        postgres = self.db.is_postgres
        while True:
            at = now or self.clock.now()
            work = partial(advance_due, config=self.config, now=at, limit=self.batch)
            try:
                advanced = await self.db.run_sync(partial(work, postgres=postgres), urgent=False)
            except DatabaseUnavailable as exc:
                log.warning("escalation tick: database unavailable (%s); retrying", exc)
                self.metrics.errors.inc()
                return total
            except Exception:
                log.exception("escalation tick failed; advancing incidents one by one")
                self.metrics.errors.inc()
                advanced = await self._one_by_one(at)
            self._record(advanced)
            total += len(advanced)
            if len(advanced) < self.batch:
                return total
            # A batch runs on the event loop without yielding (ADR 1): let intake and
            # Slack requests in between batches, or a backlog would hold the loop for
            # as long as it takes to clear it.
            await asyncio.sleep(0)

    async def _one_by_one(self, at: datetime) -> list[Advanced]:
        """Isolate a poison incident so the others still fire: each due incident is
        advanced in a transaction of its own, and one that fails is postponed."""
        ids = await self.db.run_sync(partial(due_ids, now=at, limit=self.batch), urgent=False)
        works: list[Callable[[Connection], list[Advanced]]] = [
            partial(
                advance_one,
                config=self.config,
                incident_id=incident_id,
                now=at,
                postgres=self.db.is_postgres,
            )
            for incident_id in ids
        ]
        done: list[Advanced] = []
        results = await self.db.run_sync_batch(works, urgent=False)
        for incident_id, result in zip(ids, results, strict=True):
            if not isinstance(result, BaseException):
                done.extend(result)
                continue
            log.error(
                "incident %s failed to advance; retrying it later",
                incident_id,
                exc_info=result,
            )
            self.metrics.errors.inc()
            later = partial(postpone, incident_id=incident_id, now=at, until=at + QUARANTINE)
            await self.db.run_sync(later, urgent=False)
        return done

    def fired_on_open(self, advanced: Advanced) -> None:
        """Step 1 fired by intake in the transaction that opened the incident: counted
        like the timer's steps. The engine is woken only if the next step is due before
        its next poll would notice."""
        self._observe(advanced, self.clock.now())
        due = advanced.next_due_at
        if due is not None and (due - self.clock.now()).total_seconds() < self.idle_poll:
            self.wake()

    def _record(self, advanced: list[Advanced]) -> None:
        if not advanced:
            return
        fired_at = self.clock.now()
        for item in advanced:
            self._observe(item, fired_at)
        self.on_outbox(frozenset().union(*(item.channels for item in advanced)))

    def _observe(self, item: Advanced, fired_at: datetime) -> None:
        lateness = max(0.0, (fired_at - item.due_at).total_seconds())
        self.metrics.lateness.observe(lateness)
        if self.on_fired is not None:
            self.on_fired(item, lateness)
        self.metrics.steps.inc(item.steps_fired)
        self.metrics.gaps.inc(item.gaps)
        self.metrics.notifications.inc(item.notified)
        if item.ack_timed_out:
            self.metrics.ack_timeouts.inc()

    # --- scheduling -------------------------------------------------------------------------

    async def _run(self) -> None:
        # Park the interval trigger while this tick runs, so a long tick is not
        # "skipped: maximum number of running instances" every second; the end of the
        # tick (or a wake() during it) sets the real next run.
        self._reschedule(BUSY_PARK_S)
        self._woken = False
        async with self._busy:
            started = time.perf_counter()
            self._again = False
            delay = self.idle_poll
            try:
                await self.tick()
                delay = await self._until_next_due()
            except Exception:
                log.exception("escalation tick crashed")
                self.metrics.errors.inc()
            finally:
                self.metrics.tick_seconds.observe(time.perf_counter() - started)
            if self._again:
                delay = 0.0
        # After this job returns, so APScheduler counts it finished before it runs again.
        asyncio.get_running_loop().call_soon(self._reschedule, delay)

    async def _until_next_due(self) -> float:
        due = await self.db.run_sync(next_due, urgent=False)
        if due is None:
            return self.idle_poll
        wait = (due - self.clock.now()).total_seconds()
        return min(self.idle_poll, max(0.0, wait))

    def _reschedule(self, delay: float) -> None:
        scheduler = self._scheduler
        if scheduler is None or not scheduler.running:
            return
        when = datetime.now(UTC) + timedelta(seconds=delay)
        scheduler.modify_job(JOB_ID, next_run_time=when)
