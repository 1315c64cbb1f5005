"""Run the real composition root in-process on an ephemeral port, for adapter tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.app import Nightshift
from bot.clock import FakeClock
from bot.config_loader import load_config
from bot.settings import Settings

REPO = Path(__file__).resolve().parents[2]
AM_TOKEN = "s3cr3t-token"
AGENT_TOKEN = "agent-token-1"
OPERATOR_TOKEN = "operator-token-1"
START = datetime(2026, 11, 22, 1, 17, tzinfo=UTC)


def test_settings(database_url: str, **overrides: object) -> Settings:
    base = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "ALERTMANAGER_TOKEN": f"old-token,{AM_TOKEN}",
            "NIGHTSHIFT_API_TOKENS": f"triage-agent:agent:{AGENT_TOKEN},"
            f"ops:operator:{OPERATOR_TOKEN}",
        }
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@asynccontextmanager
async def running_app(
    database_url: str,
    *,
    config_path: Path = REPO / "nightshift.yaml",
    clock: FakeClock | None = None,
    **settings: object,
) -> AsyncIterator[tuple[TestClient[object, object], Nightshift]]:
    nightshift = Nightshift(
        test_settings(database_url, **settings),
        load_config(config_path),
        clock or FakeClock(START),
    )
    client: TestClient[object, object] = TestClient(TestServer(nightshift.build()))
    await client.start_server()
    try:
        yield client, nightshift
    finally:
        await client.close()
