"""What every Slack listener needs, passed explicitly (no globals, no module-level App)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.config import Config

if TYPE_CHECKING:
    from bot.adapters.db.database import Database
    from bot.adapters.directory import Directory
    from bot.adapters.runbook_library import RunbookLibrary
    from bot.adapters.slack.identity import Identity
    from bot.adapters.slack.metrics import SlackMetrics


def _noop() -> None:
    return None


@dataclass
class SlackDeps:
    db: Database
    config: Config
    clock: Clock
    identity: Identity
    metrics: SlackMetrics
    # nudge the escalation engine / outbox sender to look now instead of at their next tick
    wake_engine: Callable[[], None] = field(default=_noop)
    wake_sender: Callable[[], None] = field(default=_noop)
    # our own bot user id (from auth.test), so our messages are never classified
    bot_user_id: str | None = None
    # the permission directory and the runbooks (built from the config when left None)
    directory: Directory | None = None
    runbooks: RunbookLibrary | None = None
