"""The composition root: the one place that wires storage, services, Slack, engine and HTTP."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.adapters.alertmanager import AlertmanagerWebhook
from bot.adapters.api import IncidentApi
from bot.adapters.db.database import Database
from bot.adapters.directory import build_directory
from bot.adapters.engine import EscalationEngine
from bot.adapters.ops import OpsRoutes
from bot.adapters.runbook_library import RunbookLibrary
from bot.adapters.slack.runtime import SlackRuntime
from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.metrics import Metrics
from bot.service.audit_job import schedule_audit_job
from bot.service.intake import IntakeResult, IntakeService
from bot.settings import Settings

log = logging.getLogger("nightshift")


class Nightshift:
    """Builds the aiohttp application and owns the background workers' lifecycle."""

    def __init__(self, settings: Settings, config: Config, clock: Clock | None = None) -> None:
        self.settings = settings
        self.config = config
        self.clock = clock or SystemClock()
        self.metrics = Metrics()
        self.db = Database(settings.database_url)
        self.accepting = True
        # runbooks are re-read when a file changes; the directory answers are cached briefly
        self.runbooks = RunbookLibrary(config.runbooks_dir)
        self.directory = build_directory(config.directory, config.path.parent)
        self.engine = EscalationEngine(
            self.db,
            self.config,
            self.clock,
            registry=self.metrics.registry,
            on_outbox=self._wake_sender,
        )
        self.slack = SlackRuntime.build(
            self.db,
            self.config,
            self.clock,
            self.metrics.registry,
            bot_token=settings.slack_bot_token,
            signing_secret=settings.slack_signing_secret,
            app_token=settings.slack_app_token,
            api_url=settings.slack_api_url,
            wake_engine=self.engine.wake,
            directory=self.directory,
            runbooks=self.runbooks,
        )
        self.scheduler: AsyncIOScheduler | None = None

    def _wake_sender(self, channels: Collection[str | None]) -> None:
        self.slack.wake_sender(channels)

    def _on_intake_change(self, result: IntakeResult) -> None:
        if result.advanced is not None:
            self.engine.fired_on_open(result.advanced)
        self.slack.wake_sender(result.channels)

    def build(self) -> web.Application:
        intake = IntakeService(
            self.db,
            self.config,
            self.clock,
            self.metrics,
            runbook_for=self.runbooks.find_id,
            on_change=self._on_intake_change,
        )
        webhook = AlertmanagerWebhook(
            intake,
            self.metrics,
            self.settings.alertmanager_tokens,
            accepting=lambda: self.accepting,
        )
        api = IncidentApi(self.db, self.clock, list(self.settings.api_tokens))
        ops = OpsRoutes(self.db, self.metrics)
        app = web.Application(client_max_size=2 * 1024 * 1024)
        app.add_routes([*webhook.routes(), *api.routes(), *ops.routes(), *self.slack.routes()])
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, _app: web.Application) -> None:
        if not self.settings.alertmanager_tokens:
            log.warning("ALERTMANAGER_TOKEN is not set: the webhook answers 401 to everything")
        if self.slack.dry_run:
            log.info("no Slack credentials: dry-run mode, Slack calls are rendered and logged")
        self.engine.start()
        await self.slack.start()
        if self.config.audit is not None:
            self.scheduler = AsyncIOScheduler(timezone=UTC)
            schedule_audit_job(self.scheduler, self.slack.deps)
            self.scheduler.start()

    async def _on_cleanup(self, _app: web.Application) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.engine.stop()
        await self.slack.stop()
        await self.db.dispose()

    def stop_accepting(self) -> None:
        """Start draining: new intake gets 503 so Alertmanager retries elsewhere or later."""
        self.accepting = False
