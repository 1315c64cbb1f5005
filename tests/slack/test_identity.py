"""users.info, cached briefly; failures are never cached and never make a person."""

from __future__ import annotations

from bot.adapters.slack.app import web_client
from bot.adapters.slack.identity import Identity
from tests.fakes.slack_api import FakeSlack


async def test_cached_for_the_ttl_then_looked_up_again(slack: FakeSlack) -> None:
    now = [1000.0]
    identity = Identity(web_client("xoxb-t", slack.url), ttl=60, monotonic=lambda: now[0])
    alice = await identity.lookup("U0ALICE001")
    assert alice is not None and alice.name == "alice" and alice.tz == "Europe/Berlin"
    assert not alice.is_agent
    now[0] += 59
    assert await identity.lookup("U0ALICE001") == alice
    assert len(slack.calls_to("users.info")) == 1
    now[0] += 2
    await identity.lookup("U0ALICE001")
    assert len(slack.calls_to("users.info")) == 2


async def test_failures_answer_unknown_and_are_not_cached(slack: FakeSlack) -> None:
    identity = Identity(web_client("xoxb-t", slack.url), ttl=60)
    assert await identity.lookup("U0NOBODY01") is None  # user_not_found
    slack.fail("users.info", status=500)
    assert await identity.lookup("U0ALICE001") is None
    slack.fail("users.info", status=429, retry_after=5)
    assert await identity.lookup("U0ALICE001") is None
    assert (await identity.lookup("U0ALICE001")) is not None  # Slack answers again


async def test_unreachable_slack_is_unknown() -> None:
    identity = Identity(web_client("xoxb-t", "http://127.0.0.1:9/api/", timeout=1))
    assert await identity.lookup("U0ALICE001") is None
    assert await Identity(None).lookup("U0ALICE001") is None


async def test_bot_and_app_users_are_agents(slack: FakeSlack) -> None:
    identity = Identity(web_client("xoxb-t", slack.url))
    for user in ("U0GRAFANA1", "U0APPUSER1", "USLACKBOT"):
        facts = await identity.lookup(user)
        assert facts is not None and facts.is_agent, user
