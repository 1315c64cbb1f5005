"""Process settings from the environment (the contract's variables)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bot.adapters.alertmanager import parse_tokens
from bot.adapters.api_tokens import ApiToken, parse_api_tokens

DEFAULT_DATABASE_URL = "sqlite:///./nightshift.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    config_path: str = "./nightshift.yaml"
    host: str = "127.0.0.1"
    port: int = 8080
    alertmanager_tokens: tuple[str, ...] = ()
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str | None = None
    api_tokens: tuple[ApiToken, ...] = ()
    event_loop: str = "auto"

    @property
    def dry_run(self) -> bool:
        return not self.slack_bot_token

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Raise ValueError with the variable's name when a value is unusable."""
        env = os.environ if env is None else env
        port = env.get("PORT", "8080")
        if not port.isdigit():
            raise ValueError(f"PORT must be a number, got {port!r}")
        return cls(
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            config_path=env.get("NIGHTSHIFT_CONFIG") or "./nightshift.yaml",
            host=env.get("HOST") or "127.0.0.1",
            port=int(port),
            alertmanager_tokens=parse_tokens(env.get("ALERTMANAGER_TOKEN")),
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            slack_api_url=env.get("SLACK_API_URL") or None,
            api_tokens=tuple(parse_api_tokens(env.get("NIGHTSHIFT_API_TOKENS"))),
            event_loop=env.get("NIGHTSHIFT_EVENT_LOOP") or "auto",
        )
