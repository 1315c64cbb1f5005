"""The outbox drainer: the only code that talks to Slack on behalf of state changes.

Each row is claimed in a short transaction (status `sending` with a lease), sent with no
transaction open, then finished in another short transaction that stores the message
`ts` and marks it sent together. 429 waits at least Retry-After; each channel gets about
one message a second; 5xx and connection errors back off (up to a minute) and retry.
Every failure is counted (`nightshift_slack_send_errors_total`) and logged; a row still
failing after `loud_after` attempts is logged as an error and counted as delayed. It is
only given up on (`failed`) after `give_up_after`, or `max_attempts` when set, so while
Slack is unreachable nothing is lost and nothing else waits on it: incidents, acks and
escalations go on in the database and their messages follow when Slack answers again.
Permanent Slack errors (channel_not_found, …) fail the row at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, or_, update
from sqlmodel import col, select

from bot.adapters.db.clock import from_db, to_db
from bot.adapters.db.tables import Incident, Outbox
from bot.adapters.slack.deliver_row import RowDelivery
from bot.adapters.slack.delivery import Failure, Slack
from bot.adapters.slack.deps import SlackDeps
from bot.adapters.slack.render import Renderer

log = logging.getLogger(__name__)

# Extra outbox kinds prepared by other services: (deps, row) -> the thread message text
# (or None for nothing to post); `default_preparers` lists them.
Preparer = Callable[[SlackDeps, Outbox], Awaitable[Any]]

LEASE = timedelta(seconds=60)
ORDER = {"incident_post": 0, "incident_update": 1}
GAUGE_EVERY = 15.0  # seconds between refreshes of the pending-rows gauge


def default_preparers() -> dict[str, Preparer]:
    """The dispatch table for outbox kinds other services prepare. Imported late: those
    services import the renderer from this package."""
    from bot.service import runbook_check

    return {"runbook_check": runbook_check.prepare}


class Pacer:
    """A token bucket per Slack channel: about one message a second, short bursts allowed."""

    def __init__(self, interval: float, burst: int) -> None:
        self._free_at: dict[str | None, datetime] = {}
        self._step = timedelta(seconds=interval)
        self._burst_credit = timedelta(seconds=interval * (burst - 1))

    def ready(self, channel: str | None, now: datetime) -> bool:
        return self._wait(channel, now) <= 0

    def take(self, channel: str | None, now: datetime) -> None:
        free = self._free_at.get(channel)
        start = now if free is None or free < now else free
        self._free_at[channel] = start + self._step

    def hold(self, channel: str | None, until: datetime) -> None:
        """After a 429 nothing goes to that channel before Retry-After has passed."""
        # ready again exactly at `until`, with no burst credit left
        held = until + self._burst_credit
        self._free_at[channel] = max(self._free_at.get(channel, held), held)

    def blocked(self, now: datetime) -> list[str | None]:
        """Channels that must wait; forgets the ones whose credit is full again."""
        spent = [c for c, free in self._free_at.items() if free <= now]
        for channel in spent:
            del self._free_at[channel]
        return [c for c in self._free_at if self._wait(c, now) > 0]

    def seconds_until_free(self, now: datetime) -> float | None:
        """How long until the first blocked channel may send again (None: none blocked)."""
        waits = [w for w in (self._wait(c, now) for c in self._free_at) if w > 0]
        return min(waits) if waits else None

    def _wait(self, channel: str | None, now: datetime) -> float:
        free = self._free_at.get(channel)
        if free is None:
            return 0.0
        return (free - self._burst_credit - now).total_seconds()


class OutboxSender:
    def __init__(
        self,
        deps: SlackDeps,
        client: AsyncWebClient | None,
        *,
        per_channel_interval: float = 1.0,
        burst: int = 3,
        batch: int = 100,
        max_attempts: int | None = None,
        give_up_after: timedelta = timedelta(hours=24),
        loud_after: int = 5,
        max_backoff: float = 60.0,
        preparers: Mapping[str, Preparer] | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self.deps = deps
        self.dry_run = client is None
        self.slack = Slack(client) if client is not None else None
        self.renderer = Renderer(deps.config)
        self.pacer = Pacer(per_channel_interval, burst)
        self.batch = batch
        self.max_attempts = max_attempts
        self.loud_after = loud_after
        self.give_up_after = give_up_after
        self.max_backoff = max_backoff
        self.preparers = dict(default_preparers() if preparers is None else preparers)
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()

    # --- driving --------------------------------------------------------------------

    def wake(self, channels: Collection[str | None] | None = None) -> None:
        """Drain soon. `channels`, when known, are where the new rows go; if all of them
        wait on their pace the wake is dropped, and the drain loop comes back when they
        free up: an alert storm into one channel costs no database work per alert here."""
        if channels is not None:
            now = self.deps.clock.now()
            if not any(self.pacer.ready(channel, now) for channel in channels):
                return
        self._wake.set()

    async def run(self, stop_event: asyncio.Event) -> None:
        """Drain until `stop_event` is set; wakes on `wake()` or every poll interval."""
        last_count = float("-inf")
        loop = asyncio.get_running_loop()
        while not stop_event.is_set():
            self._wake.clear()
            try:
                await self.drain_once(self.deps.clock.now())
                if loop.time() - last_count > GAUGE_EVERY:
                    last_count = loop.time()
                    await self.pending_count()
            except Exception:
                log.exception("outbox drain failed; retrying")
            waiters = {
                asyncio.ensure_future(self._wake.wait()),
                asyncio.ensure_future(stop_event.wait()),
            }
            paced = self.pacer.seconds_until_free(self.deps.clock.now())
            timeout = self.poll_interval if paced is None else min(self.poll_interval, paced)
            _done, pending = await asyncio.wait(
                waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()

    async def drain_once(self, now: datetime | None = None) -> int:
        """Send what is due now; returns how many rows were delivered (or dry-run logged)."""
        now = now or self.deps.clock.now()
        # channels go concurrently; within one, its rows' groups go one after another, so
        # a channel out of pace credit stops at its first paced row, before database work
        channels: dict[str | None, dict[str, list[Outbox]]] = defaultdict(lambda: defaultdict(list))
        for row in await self._due(now):
            channels[row.channel][self._order_key(row)].append(row)
        results = await asyncio.gather(
            *(self._drain_channel(groups, now) for groups in channels.values())
        )
        return sum(results)

    async def pending_count(self) -> int:
        async with self.deps.db.transaction() as session:
            query = select(func.count()).where(col(Outbox.status).in_(("pending", "sending")))
            count = int((await session.exec(query)).one())
        self.deps.metrics.pending.set(count)
        return count

    # --- one channel's rows, in order ------------------------------------------------

    async def _due(self, now: datetime) -> list[Outbox]:
        """Rows due now, leaving out channels that wait on their pace: a backlog in one
        busy channel neither fills the batch nor delays the other channels."""
        query = select(Outbox).where(
            col(Outbox.status).in_(("pending", "sending")), Outbox.not_before <= to_db(now)
        )
        blocked = self.pacer.blocked(now)
        named = [channel for channel in blocked if channel is not None]
        if None in blocked:
            query = query.where(col(Outbox.channel).is_not(None))
        if named:
            query = query.where(
                or_(col(Outbox.channel).is_(None), col(Outbox.channel).not_in(named))
            )
        async with self.deps.db.transaction() as session:
            query = query.order_by(col(Outbox.id)).limit(self.batch)
            return list((await session.exec(query)).all())

    def _order_key(self, row: Outbox) -> str:
        """Rows sharing a key go out in order, one after another."""
        if row.kind in ("dm", "channel") or not row.incident_id:
            return f"ch:{row.channel}"
        # incident-bound rows go in incident order (the post before its updates/replies)
        return f"incident:{row.incident_id}"

    async def _drain_channel(self, groups: dict[str, list[Outbox]], now: datetime) -> int:
        sent = 0
        for rows in groups.values():
            sent += await self._drain_group(rows, now)
            if not self.pacer.ready(rows[0].channel, now):
                break
        return sent

    async def _drain_group(self, rows: list[Outbox], now: datetime) -> int:
        sent = 0
        # the incident message goes first, then its in-place update (the status people act
        # on), then the timeline replies
        for row in sorted(rows, key=lambda r: (ORDER.get(r.kind, 2), r.id or 0)):
            outcome = await RowDelivery(self, row, now).deliver()
            if outcome in ("sent", "dry_run"):
                sent += 1
            elif outcome in ("wait", "retry", "paced"):
                break  # keep this incident's (or channel's) later rows in order
        return sent

    # --- bookkeeping used by RowDelivery ---------------------------------------------

    async def claim(self, row: Outbox, now: datetime) -> bool:
        """pending -> sending with a lease; False when another worker got it first."""
        async with self.deps.db.transaction() as session:
            result = await session.exec(
                update(Outbox)
                .where(
                    col(Outbox.id) == row.id,
                    col(Outbox.status).in_(("pending", "sending")),
                    col(Outbox.not_before) <= to_db(now),
                    col(Outbox.attempts) == row.attempts,
                )
                .values(status="sending", attempts=row.attempts + 1, not_before=to_db(now + LEASE))
            )
            claimed = bool(result.rowcount)
        if claimed:
            # a lapsed lease means a worker died mid-send: the message may exist already
            row.last_error = (
                "uncertain: lease expired" if row.status == "sending" else row.last_error
            )
            row.attempts += 1
            row.status = "sending"
        return claimed

    def try_pace(self, channel: str | None, now: datetime) -> bool:
        """Take a send slot for the channel now, or say it has to wait. Dry runs keep the
        same pace, so they rehearse what Slack would show and when."""
        if not self.pacer.ready(channel, now):
            return False
        self.pacer.take(channel, now)  # taken before any await: concurrent groups race for it
        return True

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.max_backoff, 2.0 ** max(0, attempts - 1)))

    def should_give_up(self, row: Outbox, failure: Failure, now: datetime) -> bool:
        if not failure.transient:
            return True
        if failure.reason == "ratelimited":
            return False
        too_old = now - from_db(row.created_at) > self.give_up_after
        spent = self.max_attempts is not None and row.attempts >= self.max_attempts
        return spent or too_old

    async def load_incident(self, incident_id: int | None) -> Incident | None:
        if incident_id is None:
            return None
        async with self.deps.db.transaction() as session:
            return await session.get(Incident, incident_id)
