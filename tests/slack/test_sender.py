"""The outbox sender against the fake Slack: pacing, 429, 5xx, timeouts, outages."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from bot.adapters.db.clock import to_db
from bot.adapters.db.tables import Outbox
from bot.adapters.slack.app import web_client
from bot.adapters.slack.deps import SlackDeps
from bot.adapters.slack.sender import OutboxSender
from tests.slack.harness import BOB, CHANNEL, Harness

pytestmark = pytest.mark.usefixtures("slack")


async def enqueue(
    h: Harness,
    incident_id: int | None,
    kind: str,
    key: str,
    payload: dict[str, Any] | None = None,
    channel: str | None = CHANNEL,
) -> None:
    now = to_db(h.clock.now())
    async with h.db.transaction() as session:
        session.add(
            Outbox(
                incident_id=incident_id,
                dedup_key=key,
                kind=kind,
                channel=channel,
                payload=payload or {},
                not_before=now,
                created_at=now,
            )
        )


async def statuses(h: Harness) -> list[tuple[str, str]]:
    return [(row.kind, row.status) for row in await h.outbox()]


async def drain(h: Harness, after: float = 0) -> int:
    if after:
        h.clock.advance(timedelta(seconds=after))
    return await h.sender.drain_once(h.clock.now())


async def test_post_then_update_and_thread_in_order(harness: Harness) -> None:
    incident = await harness.incident(posted=False)
    n = incident.id or 0
    await enqueue(harness, n, "incident_update", f"update:{n}:1")
    await enqueue(harness, n, "thread", f"thread:{n}:1", {"template": "text", "text": "hi"})
    await enqueue(harness, n, "incident_post", f"post:{n}")
    # the post renders current state, so the update queued before it is folded in
    assert await drain(harness) == 2
    post, reply = harness.slack.calls_to("chat.postMessage")
    assert post.args["channel"] == CHANNEL and "thread_ts" not in post.args
    after = await harness.get(n)
    assert after.slack_channel == CHANNEL and after.slack_ts
    assert reply.args["thread_ts"] == after.slack_ts
    assert harness.slack.calls_to("chat.update") == []
    [posted] = await harness.events(n, "posted")
    assert posted.data["ts"] == after.slack_ts
    assert set(await statuses(harness)) == {
        ("incident_update", "sent"),
        ("thread", "sent"),
        ("incident_post", "sent"),
    }
    # a later change is an update in place
    await enqueue(harness, n, "incident_update", f"update:{n}:2")
    assert await drain(harness, 1) == 1
    [update] = harness.slack.calls_to("chat.update")
    assert update.args["ts"] == after.slack_ts


async def test_pending_updates_are_coalesced(harness: Harness) -> None:
    incident = await harness.incident()
    n = incident.id or 0
    for version in range(3):
        await enqueue(harness, n, "incident_update", f"update:{n}:{version}")
    assert await drain(harness) == 1
    assert len(harness.slack.calls_to("chat.update")) == 1
    assert [r.status for r in await harness.outbox()] == ["sent"] * 3


async def test_429_waits_at_least_retry_after(harness: Harness) -> None:
    incident = await harness.incident()
    n = incident.id or 0
    harness.slack.fail("chat.postMessage", status=429, retry_after=3)
    await enqueue(harness, n, "thread", f"t:{n}", {"template": "text", "text": "x"})
    assert await drain(harness) == 0
    [row] = await harness.outbox()
    assert row.status == "pending" and "429" in (row.last_error or "")
    assert await drain(harness, 2.5) == 0
    assert len(harness.slack.calls) == 1  # nothing sent while Retry-After runs
    assert await drain(harness, 0.5) == 1
    assert harness.metrics.rate_limited._value.get() == 1


async def test_5xx_retries_with_backoff_then_succeeds(harness: Harness) -> None:
    incident = await harness.incident()
    n = incident.id or 0
    harness.slack.fail("chat.postMessage", status=500, times=2)
    await enqueue(harness, n, "thread", f"t:{n}", {"template": "text", "text": "x"})
    assert await drain(harness) == 0
    assert await drain(harness, 0.5) == 0  # backoff 1 s not over
    assert await drain(harness, 0.5) == 0  # second failure, backoff 2 s
    assert await drain(harness, 1.5) == 0
    assert await drain(harness, 0.5) == 1
    # the first answer may have been lost after a post: each retry checks before posting
    assert len(harness.slack.calls_to("conversations.replies")) == 2
    assert len(harness.slack.calls_to("chat.postMessage")) == 1


async def test_persistent_5xx_fails_and_is_surfaced(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    sender = OutboxSender(harness.deps, harness.client, max_attempts=3, preparers={})
    incident = await harness.incident()
    n = incident.id or 0
    harness.slack.fail("*", status=500, times=20)
    await enqueue(harness, n, "incident_update", f"u:{n}")
    for _ in range(4):
        await sender.drain_once(harness.clock.advance(timedelta(seconds=60)))
    [row] = await harness.outbox()
    assert row.status == "failed" and row.attempts == 3 and "HTTP 500" in (row.last_error or "")
    assert harness.metrics.failed.labels("incident_update")._value.get() == 1
    assert harness.metrics.send_errors.labels("server_error")._value.get() == 3
    assert any(
        "failed after 3 attempt" in r.message for r in caplog.records if r.levelno == logging.ERROR
    )


async def test_permanent_slack_error_fails_at_once(harness: Harness) -> None:
    incident = await harness.incident()
    n = incident.id or 0
    harness.slack.fail("chat.update", error="message_not_found")
    await enqueue(harness, n, "incident_update", f"u:{n}")
    assert await drain(harness) == 0
    [row] = await harness.outbox()
    assert row.status == "failed" and row.last_error == "slack_error: message_not_found"


async def test_timeout_after_successful_post_never_posts_twice(harness: Harness) -> None:
    client = web_client("xoxb-test-token", harness.slack.url, timeout=1)
    sender = OutboxSender(harness.deps, client, preparers={})
    incident = await harness.incident(posted=False)
    n = incident.id or 0
    await enqueue(harness, n, "incident_post", f"post:{n}")
    harness.slack.fail("chat.postMessage", delay=1.5)  # posts, then answers too late
    assert await sender.drain_once(harness.clock.now()) == 0
    [row] = await harness.outbox()
    assert row.status == "pending" and (row.last_error or "").startswith("uncertain: timeout")
    assert await sender.drain_once(harness.clock.advance(timedelta(seconds=2))) == 1
    assert len([m for (c, _), m in harness.slack.messages.items() if c == CHANNEL]) == 1
    assert len(harness.slack.calls_to("chat.postMessage")) == 1
    after = await harness.get(n)
    [(channel, ts)] = list(harness.slack.messages)
    assert after.slack_ts == ts and after.slack_channel == channel


async def test_slack_down_then_up(harness: Harness) -> None:
    incident = await harness.incident(posted=False)
    n = incident.id or 0
    await enqueue(harness, n, "incident_post", f"post:{n}")
    await enqueue(
        harness,
        n,
        "dm",
        f"page:{n}:1:0:bob",
        {"template": "page", "step": 1, "loop": 0, "target": "bob"},
        channel=BOB,
    )
    harness.slack.down = True
    for _ in range(5):
        assert await drain(harness, 30) == 0
    assert {r.status for r in await harness.outbox()} == {"pending"}
    # meanwhile the incident's state moves on in the database
    async with harness.db.transaction() as session:
        row = await session.get(type(incident), n)
        assert row is not None
        row.esc_step = 2
    # connection refused as well: the server goes away entirely, then comes back
    port = harness.slack.port
    await harness.slack.stop()
    assert await drain(harness, 60) == 0
    harness.slack.down = False
    await harness.slack.start(port)
    assert await drain(harness, 60) == 2
    after = await harness.get(n)
    assert after.slack_ts and after.esc_step == 2
    dm = [
        c for c in harness.slack.calls_to("chat.postMessage") if c.args["channel"] == "D0BOB00001"
    ]
    assert len(dm) == 1
    assert harness.metrics.send_errors.labels("connection")._value.get() >= 1


async def test_about_one_message_per_second_per_channel(harness: Harness) -> None:
    incident = await harness.incident()
    n = incident.id or 0
    for i in range(6):
        await enqueue(harness, n, "thread", f"t:{n}:{i}", {"template": "text", "text": str(i)})
    assert await drain(harness) == 3  # a short burst
    assert await drain(harness) == 0
    assert await drain(harness, 1) == 1
    assert await drain(harness, 0.5) == 0
    assert await drain(harness, 0.5) == 1
    assert await drain(harness, 1) == 1
    texts = [c.args["text"] for c in harness.slack.calls_to("chat.postMessage")]
    assert texts == [str(i) for i in range(6)]


async def test_a_backlog_in_one_channel_does_not_hold_up_another(harness: Harness) -> None:
    # more rows waiting on one channel's pace than the sender reads at a time
    for i in range(harness.sender.batch + 20):
        await enqueue(harness, None, "channel", f"busy:{i}", {"text": f"busy {i}"})
    assert await drain(harness) == 3  # the busy channel's burst
    await enqueue(harness, None, "channel", "quiet:0", {"text": "quiet"}, channel="C0QUIET001")
    assert await drain(harness, 0.1) == 1
    posts = harness.slack.calls_to("chat.postMessage")
    assert [p.args["channel"] for p in posts][-1] == "C0QUIET001"


async def test_a_wake_for_channels_out_of_pace_is_dropped(harness: Harness) -> None:
    for i in range(3):
        await enqueue(harness, None, "channel", f"c:{i}", {"text": str(i)})
    await drain(harness)
    sender = harness.sender
    sender._wake.clear()
    sender.wake([CHANNEL])
    assert not sender._wake.is_set()  # the drain loop comes back when the channel frees up
    sender.wake([CHANNEL, "C0QUIET001"])
    assert sender._wake.is_set()
    harness.clock.advance(timedelta(seconds=1))
    sender._wake.clear()
    sender.wake([CHANNEL])
    assert sender._wake.is_set()


async def test_dm_page_has_an_acknowledge_button(harness: Harness) -> None:
    incident = await harness.incident()
    n = incident.id or 0
    await enqueue(
        harness,
        n,
        "dm",
        f"page:{n}:2:0:bob",
        {"template": "page", "step": 2, "loop": 0, "target": "bob", "reason": "step 2 of default"},
        channel=BOB,
    )
    await enqueue(
        harness,
        n,
        "channel",
        f"page:{n}:2:0:C0SRELEAD",
        {"template": "channel_page", "step": 2, "loop": 0},
        channel="C0SRELEAD",
    )
    assert await drain(harness) == 2
    [opened] = harness.slack.calls_to("conversations.open")
    assert opened.args["users"] == BOB
    channel, dm = sorted(
        harness.slack.calls_to("chat.postMessage"), key=lambda c: c.args["channel"]
    )
    assert channel.args["channel"] == "C0SRELEAD"
    assert dm.args["channel"] == "D0BOB00001"
    buttons = [e for b in dm.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {"action_id": "incident_ack", "value": str(n)}.items() <= buttons[0].items()


async def test_runbook_check_rows_use_the_preparer(harness: Harness) -> None:
    seen: list[int] = []

    async def prepare(deps: SlackDeps, row: Outbox) -> str:
        seen.append(row.id or 0)
        return "bob cannot do step 2 (missing `k8s:prod/*:restart`); alice can"

    sender = OutboxSender(harness.deps, harness.client, preparers={"runbook_check": prepare})
    incident = await harness.incident()
    n = incident.id or 0
    await enqueue(harness, n, "runbook_check", f"rc:{n}", {"person": "bob", "reason": "paged"})
    assert await sender.drain_once(harness.clock.now()) == 1
    [post] = harness.slack.calls_to("chat.postMessage")
    assert post.args["thread_ts"] == incident.slack_ts and "bob cannot" in post.args["text"]
    assert len(seen) == 1


async def test_dry_run_renders_logs_and_records(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    sender = OutboxSender(harness.deps, None, preparers={})
    incident = await harness.incident(posted=False)
    n = incident.id or 0
    await enqueue(harness, n, "incident_post", f"post:{n}")
    await enqueue(
        harness,
        n,
        "thread",
        f"t:{n}",
        {"template": "acknowledged", "user": "U1", "via": "button", "at": None},
    )
    assert await sender.drain_once(harness.clock.now()) == 2
    assert harness.slack.calls == []
    assert {r.status for r in await harness.outbox()} == {"sent"}
    posted = await harness.events(n, "posted")
    assert len(posted) == 2 and all(e.data["dry_run"] for e in posted)
    assert "[UNOWNED]" in posted[0].detail
    assert any("dry-run" in r.message for r in caplog.records)
    # a dry run keeps Slack's pace, so it shows what would be posted when
    for i in range(4):
        await enqueue(harness, n, "thread", f"t:{n}:{i}", {"template": "text", "text": str(i)})
    assert await sender.drain_once(harness.clock.now()) == 1
    harness.clock.advance(timedelta(seconds=1))
    assert await sender.drain_once(harness.clock.now()) == 1


async def test_a_send_interrupted_by_a_crash_is_checked_not_repeated(harness: Harness) -> None:
    """A worker died after Slack took the post but before it recorded the ts: the row is
    still `sending` when its lease runs out, and the next worker adopts the message."""
    incident = await harness.incident(posted=False)
    n = incident.id or 0
    await enqueue(harness, n, "incident_post", f"post:{n}")
    [row] = await harness.outbox()
    async with harness.db.transaction() as session:
        stuck = await session.get(Outbox, row.id)
        assert stuck is not None
        stuck.status, stuck.attempts = "sending", 1
        stuck.not_before = to_db(harness.clock.now() + timedelta(seconds=60))
    harness.slack.messages[(CHANNEL, "1795309999.000001")] = {
        "type": "message",
        "ts": "1795309999.000001",
        "text": "[UNOWNED] …",
        "metadata": {
            "event_type": "nightshift_outbox",
            "event_payload": {"outbox_id": row.id, "incident_id": n},
        },
    }
    assert await drain(harness, 30) == 0  # lease still held
    assert await drain(harness, 31) == 1
    assert harness.slack.calls_to("chat.postMessage") == []
    assert (await harness.get(n)).slack_ts == "1795309999.000001"


async def test_a_long_outage_delays_but_loses_nothing(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    incident = await harness.incident()
    n = incident.id or 0
    await enqueue(harness, n, "incident_update", f"u:{n}")
    harness.slack.down = True
    for _ in range(12):  # twelve minutes of 503s
        assert await drain(harness, 60) == 0
    [row] = await harness.outbox()
    assert row.status == "pending" and row.attempts == 12
    assert harness.metrics.delayed.labels("incident_update")._value.get() == 1
    assert any(r.levelno == logging.ERROR and "attempt 5" in r.message for r in caplog.records)
    harness.slack.down = False
    assert await drain(harness, 60) == 1
    assert [r.status for r in await harness.outbox()] == ["sent"]


async def test_message_without_an_incident_goes_out_as_written(harness: Harness) -> None:
    """The weekly audit report belongs to no incident: its payload is the message."""
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Runbook audit*"}}]
    await enqueue(
        harness,
        None,
        "channel",
        "audit:C0AUDIT001:2026-11-23T07:00",
        {"template": "audit_report", "text": "Runbook audit: 1 gap", "blocks": blocks},
        channel="C0AUDIT001",
    )
    assert await drain(harness) == 1
    [posted] = harness.slack.calls_to("chat.postMessage")
    assert posted.args["channel"] == "C0AUDIT001"
    assert posted.args["text"] == "Runbook audit: 1 gap"
    assert posted.args["blocks"] == blocks
