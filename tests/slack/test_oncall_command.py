"""`/oncall` through the real Bolt app with signed requests, answers in the asker's zone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.adapters.db.database import Database
from bot.adapters.engine import EscalationEngine
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_signing import slash_command
from tests.service.escalation_support import CONFIG, T0, open_incident, pages
from tests.slack.harness import ALICE, BOB, BOT_USER, Harness


@pytest.fixture
async def h(database: Database, slack: FakeSlack) -> AsyncIterator[Harness]:
    harness = await Harness(database, slack, CONFIG).start()
    harness.clock.set(T0)  # Sunday 22 Nov 2026, 03:17 in Berlin: alice's rotation week
    try:
        yield harness
    finally:
        await harness.close()


async def oncall(h: Harness, text: str, user: str = ALICE) -> str:
    before = len(h.slack.calls_to("response_url"))
    body = slash_command("/oncall", text, user_id=user, response_url=h.slack.response_url())
    status, _ = await h.post(body)
    assert status == 200
    call = await h.slack.wait_for("response_url", count=before + 1)
    answer = h.slack.calls_to("response_url")[before].args
    assert answer.get("response_type") == "ephemeral", call
    return str(answer["text"])


async def test_who_is_on_call_in_the_askers_zone(h: Harness) -> None:
    berlin = await oncall(h, "primary")  # alice's users.info tz is Europe/Berlin
    assert "primary: <@U0ALICE001> on call now" in berlin
    assert "next handoff Mon 23 Nov 09:00 CET to <@U0BOB00001>" in berlin
    la = await oncall(h, "", user=BOB)  # bob is in America/Los_Angeles
    assert "next handoff Mon 23 Nov 00:00 PST to <@U0BOB00001>" in la
    assert "daytime: nobody on call now" in la
    assert "no schedule `nope`" in (await oncall(h, "nope")).replace("There is", "")


async def test_override_pages_the_stand_in_and_can_be_removed(h: Harness) -> None:
    added = await oncall(h, "override <@U0DAVE0001|dave> 2h primary")
    assert added.startswith("Added #")
    assert "until Sun 22 Nov 05:17 CET" in added
    assert "primary: <@U0DAVE0001> on call now" in await oncall(h, "primary")
    iid = await open_incident(h.db)
    await EscalationEngine(h.db, CONFIG, h.clock).tick(T0)
    assert await pages(h.db, iid) == [(iid, 1, 0, "dave")]  # the override is who gets paged
    listed = await oncall(h, "overrides")
    override_id = listed.split("#")[1].split()[0]
    assert "dave" in listed or "U0DAVE0001" in listed
    assert (await oncall(h, f"remove {override_id}")).startswith("Removed #")
    assert "primary: <@U0ALICE001> on call now" in await oncall(h, "primary")
    assert "No overrides" in await oncall(h, "overrides")


async def test_override_until_a_local_time(h: Harness) -> None:
    # bob types Los Angeles time: 09:00 PST is 17:00 UTC, 18:00 in Berlin
    added = await oncall(h, "override @carol until 2026-11-22 09:00 primary", user=BOB)
    assert "until Sun 22 Nov 09:00 PST" in added
    in_berlin = await oncall(h, "overrides", user=ALICE)
    assert "until Sun 22 Nov 18:00 CET" in in_berlin


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("override @zed 2h", "not a person"),
        ("override @carol soon", "Could not read the duration"),
        ("override @carol until tomorrow", "Usage"),
        ("override @carol 2h nosuch", "no schedule 'nosuch'"),
        ("remove x", "Usage: `/oncall remove ID`"),
        ("remove 999", "no override #999"),
        ("override @carol 2h", "Which schedule?"),  # carol is in no rotation
        ("help", "/oncall override @person 2h"),
    ],
)
async def test_bad_input_is_explained(h: Harness, text: str, expected: str) -> None:
    assert expected in await oncall(h, text)


async def test_a_bot_cannot_change_who_is_on_call(h: Harness) -> None:
    answer = await oncall(h, "override @carol 2h primary", user=BOT_USER)
    assert answer == "Only a person can change who is on call."
    assert "No overrides" in await oncall(h, "overrides")
