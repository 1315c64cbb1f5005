"""Refuse a replayed Slack request inside the 5-minute signature window.

Bolt checks the signature and the timestamp; a captured request re-sent within those
five minutes would still pass. Each verified signature is recorded in the shared
database (so it holds across replicas) and a second sighting is refused with 401.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from bot.adapters.db.clock import to_db
from bot.adapters.db.database import DatabaseUnavailable
from bot.adapters.db.tables import ReplayGuard

if TYPE_CHECKING:
    from bot.adapters.slack.deps import SlackDeps

log = logging.getLogger(__name__)

# Slack's window is 5 minutes either side; keep signatures a little longer than that.
KEEP = timedelta(minutes=11)
PRUNE_EVERY = timedelta(minutes=1)


class ReplayCache:
    def __init__(self, deps: SlackDeps) -> None:
        self._deps = deps
        self._last_prune: datetime | None = None

    async def first_sighting(self, signature: str) -> bool:
        """Record the signature; False when it was already seen (a replay)."""
        now = self._deps.clock.now()
        try:
            async with self._deps.db.transaction() as session:
                session.add(ReplayGuard(signature=signature[:128], seen_at=to_db(now)))
        except IntegrityError:
            return False
        if self._last_prune is None or now - self._last_prune > PRUNE_EVERY:
            self._last_prune = now
            async with self._deps.db.transaction() as session:
                await session.exec(
                    delete(ReplayGuard).where(
                        ReplayGuard.seen_at < to_db(now - KEEP)  # type: ignore[arg-type]
                    )
                )
        return True


def replay_middleware(
    deps: SlackDeps,
) -> Callable[..., Awaitable[BoltResponse | None]]:
    cache = ReplayCache(deps)

    async def guard(
        req: AsyncBoltRequest, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse | None:
        # Socket Mode requests are not signed: the websocket itself is authenticated.
        if req.mode == "socket_mode":
            return await next()
        signature = req.headers.get("x-slack-signature", [""])[0]
        try:
            fresh = await cache.first_sighting(signature)
        except DatabaseUnavailable:
            deps.metrics.requests_refused.labels("database").inc()
            return BoltResponse(status=503, body='{"error": "database unavailable"}')
        if not fresh:
            deps.metrics.requests_refused.labels("replay").inc()
            log.warning("refused a replayed Slack request")
            return BoltResponse(status=401, body='{"error": "invalid request"}')
        return await next()

    return guard
