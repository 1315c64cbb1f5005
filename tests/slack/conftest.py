from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.adapters.db.database import Database
from tests.fakes.slack_api import FakeSlack
from tests.slack.harness import Harness, make_config


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def harness(database: Database, slack: FakeSlack) -> AsyncIterator[Harness]:
    h = await Harness(database, slack, make_config()).start()
    try:
        yield h
    finally:
        await h.close()


@pytest.fixture
async def sqlite_harness(sqlite_url: str, slack: FakeSlack) -> AsyncIterator[Harness]:
    db = Database(sqlite_url)
    h = await Harness(db, slack, make_config()).start()
    try:
        yield h
    finally:
        await h.close()
        await db.dispose()
