"""The assembled Slack side, as the composition root starts it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from bot.adapters.db.database import Database
from bot.adapters.slack.runtime import SlackRuntime
from bot.clock import SystemClock
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_signing import SECRET
from tests.slack.harness import Harness, eventually, make_config


async def test_dry_run_without_credentials(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    registry = CollectorRegistry()
    runtime = SlackRuntime.build(
        h.db, make_config(), SystemClock(), registry, bot_token=None, signing_secret=None
    )
    assert runtime.dry_run and runtime.bolt is None and runtime.routes() == []
    incident = await h.incident(posted=False)
    async with h.db.transaction() as session:
        from bot.adapters.db.tables import Outbox

        session.add(
            Outbox(
                incident_id=incident.id,
                dedup_key=f"post:{incident.id}",
                kind="incident_post",
                channel="C0INCID001",
                payload={},
                not_before=incident.opened_at,
                created_at=incident.opened_at,
            )
        )
    await runtime.start()
    try:
        runtime.wake_sender()
        [posted] = await eventually(lambda: h.events(incident.id or 0, "posted"))
        assert posted.data["dry_run"] is True and "HighErrorRate" in posted.detail
    finally:
        await runtime.stop()
    assert h.slack.calls == []
    assert b"nightshift_slack_dry_run_total" in generate_latest(registry)


async def test_http_mode_serves_slack_events(sqlite_url: str, slack: FakeSlack) -> None:
    db = Database(sqlite_url)
    runtime = SlackRuntime.build(
        db,
        make_config(),
        SystemClock(),
        CollectorRegistry(),
        bot_token="xoxb-test",
        signing_secret=SECRET,
        api_url=slack.url,
    )
    try:
        assert not runtime.dry_run and runtime.bolt is not None
        [route] = runtime.routes()
        assert route.path == "/slack/events"
        await runtime.start()
        assert runtime.deps.bot_user_id == "U0INCBOT01"
    finally:
        await runtime.stop()
        await db.dispose()
