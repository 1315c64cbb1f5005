"""The composition root: the one place that wires storage, services, Slack, engine and HTTP."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.adapters.alertmanager import AlertmanagerWebhook
from bot.adapters.api import IncidentApi
from bot.adapters.db.database import Database
from bot.adapters.ops import OpsRoutes
from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.metrics import Metrics
from bot.service.intake import IntakeService
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

    def build(self) -> web.Application:
        intake = IntakeService(self.db, self.config, self.clock, self.metrics)
        webhook = AlertmanagerWebhook(
            intake,
            self.metrics,
            self.settings.alertmanager_tokens,
            accepting=lambda: self.accepting,
        )
        api = IncidentApi(self.db, self.clock, list(self.settings.api_tokens))
        ops = OpsRoutes(self.db, self.metrics)
        app = web.Application(client_max_size=2 * 1024 * 1024)
        app.add_routes([*webhook.routes(), *api.routes(), *ops.routes()])
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, _app: web.Application) -> None:
        if not self.settings.alertmanager_tokens:
            log.warning("ALERTMANAGER_TOKEN is not set: the webhook answers 401 to everything")
        if self.settings.dry_run:
            log.info("no Slack credentials: dry-run mode, Slack calls are rendered and logged")

    async def _on_cleanup(self, _app: web.Application) -> None:
        await self.db.dispose()

    def stop_accepting(self) -> None:
        """Start draining: new intake gets 503 so Alertmanager retries elsewhere or later."""
        self.accepting = False
