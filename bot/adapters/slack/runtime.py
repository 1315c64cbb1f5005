"""Everything Slack, assembled for the composition root in one object.

    slack = SlackRuntime.build(db, config, clock, registry, bot_token=…, signing_secret=…,
                               app_token=…, api_url=…, wake_engine=engine.wake)
    web_app.add_routes(slack.routes())        # POST /slack/events (HTTP mode only)
    intake/engine on_change -> slack.wake_sender
    on startup: await slack.start()           # outbox sender task (+ Socket Mode)
    on cleanup: await slack.stop()

No bot token means dry-run: no Bolt app, no routes; the sender renders, logs and records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.db.database import Database
from bot.adapters.directory import Directory
from bot.adapters.runbook_library import RunbookLibrary
from bot.adapters.slack.app import build_bolt_app, slack_routes, start_socket_mode, web_client
from bot.adapters.slack.deps import SlackDeps
from bot.adapters.slack.identity import Identity
from bot.adapters.slack.metrics import SlackMetrics
from bot.adapters.slack.sender import OutboxSender
from bot.clock import Clock
from bot.config import Config

log = logging.getLogger(__name__)


def _noop() -> None:
    return None


@dataclass
class SlackRuntime:
    deps: SlackDeps
    sender: OutboxSender
    client: AsyncWebClient | None
    bolt: AsyncApp | None
    app_token: str | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _socket: object | None = None

    @classmethod
    def build(
        cls,
        db: Database,
        config: Config,
        clock: Clock,
        registry: CollectorRegistry | None,
        *,
        bot_token: str | None,
        signing_secret: str | None,
        app_token: str | None = None,
        api_url: str | None = None,
        wake_engine: Callable[[], None] = _noop,
        directory: Directory | None = None,
        runbooks: RunbookLibrary | None = None,
    ) -> SlackRuntime:
        client = web_client(bot_token, api_url) if bot_token else None
        metrics = SlackMetrics(registry)
        identity = Identity(client, on_lookup=lambda r: metrics.identity_lookups.labels(r).inc())
        deps = SlackDeps(
            db=db,
            config=config,
            clock=clock,
            identity=identity,
            metrics=metrics,
            wake_engine=wake_engine,
            directory=directory,
            runbooks=runbooks,
        )
        sender = OutboxSender(deps, client)
        deps.wake_sender = sender.wake
        bolt: AsyncApp | None = None
        if bot_token and (signing_secret or app_token):
            bolt = build_bolt_app(
                deps, token=bot_token, signing_secret=signing_secret or "", client=client
            )
        elif bot_token:
            log.error(
                "SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not: messages go "
                "out, but Slack requests (buttons, commands, events) cannot be verified "
                "and are not served"
            )
        return cls(deps, sender, client, bolt, app_token)

    @property
    def dry_run(self) -> bool:
        return self.client is None

    def wake_sender(self, channels: Collection[str | None] | None = None) -> None:
        self.sender.wake(channels)

    def routes(self) -> list[web.RouteDef]:
        """`POST /slack/events` in HTTP mode; none in Socket Mode or dry-run."""
        if self.bolt is None or self.app_token:
            return []
        return slack_routes(self.bolt)

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self.sender.run(self._stop), name="slack-outbox")
        if self.bolt is not None and self.client is not None:
            with contextlib.suppress(Exception):
                auth = await self.client.auth_test()
                self.deps.bot_user_id = auth.get("user_id")
        if self.bolt is not None and self.app_token:
            self._socket = await start_socket_mode(self.bolt, self.app_token)
        mode = "dry-run" if self.dry_run else ("Socket Mode" if self.app_token else "HTTP")
        log.info("Slack: %s; outbox sender running", mode)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 10)
            self._task = None
        close = getattr(self._socket, "close_async", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
