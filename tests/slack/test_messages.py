"""Message text and reactions never change an incident; agents get told so out loud."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.slack_signing import event_callback, message_event, reaction_event
from tests.slack.harness import ALICE, APP_USER, BOT_USER, CHANNEL, Harness, eventually

EVENTS = Path("/work/shared/fixtures/slack/events")


async def send(h: Harness, event: dict[str, object]) -> None:
    status, _ = await h.post(event_callback(event))
    assert status == 200


async def refused(h: Harness, incident_id: int, count: int = 1) -> list[object]:
    async def probe() -> list[object]:
        events = await h.events(incident_id, "ack_refused")
        return list(events) if len(events) >= count else []

    return await eventually(probe)


async def test_bot_acknowledged_in_thread_is_refused_out_loud(harness: Harness) -> None:
    """The seed story: an agent signs off with "Acknowledged" in the incident thread."""
    incident = await harness.incident()
    event = message_event(
        "HighErrorRate on checkout: error rate 7%. Acknowledged.",
        user=BOT_USER,
        bot_id="B0GRAFANA1",
        thread_ts=incident.slack_ts,
    )
    event["bot_profile"] = {"id": "B0GRAFANA1", "name": "triage-agent"}
    await send(harness, event)
    [refusal] = await refused(harness, incident.id or 0)
    assert refusal.actor_kind == "agent" and not refusal.counted  # type: ignore[attr-defined]
    after = await harness.get(incident.id or 0)
    assert after.status == "triggered" and after.owner_slack_id is None

    await harness.sender.drain_once(harness.clock.now())
    reply = await harness.slack.wait_for("chat.postMessage")
    assert reply.args["channel"] == CHANNEL and reply.args["thread_ts"] == incident.slack_ts
    text = reply.args["blocks"][0]["text"]["text"]
    assert "is not a person" in text and "UNOWNED" in text and "Acknowledge" in text


async def test_legacy_bot_message_in_channel(harness: Harness) -> None:
    incident = await harness.incident()
    fixture = json.loads((EVENTS / "message-bot_message-subtype.json").read_text())
    event = fixture["event"]
    event["text"] = "on it :eyes:"
    await send(harness, event)
    [refusal] = await refused(harness, incident.id or 0)
    assert refusal.actor_kind == "agent"  # type: ignore[attr-defined]
    [row] = await harness.outbox(incident.id, "thread")
    # a top-level claim is answered under the agent's own message
    assert row.payload["thread_ts"] == event["ts"]


async def test_app_user_without_bot_id_is_an_agent(harness: Harness) -> None:
    """An agent posting with a user token: only users.info tells it apart."""
    incident = await harness.incident()
    await send(harness, message_event("I'll take this", user=APP_USER, thread_ts=incident.slack_ts))
    [refusal] = await refused(harness, incident.id or 0)
    assert refusal.actor_kind == "agent" and refusal.actor_id == APP_USER  # type: ignore[attr-defined]
    assert (await harness.get(incident.id or 0)).owner_slack_id is None


async def test_person_typing_ack_gets_a_private_hint(harness: Harness) -> None:
    incident = await harness.incident()
    await send(harness, message_event("ack", user=ALICE, thread_ts=incident.slack_ts))
    hint = await harness.slack.wait_for("chat.postEphemeral")
    assert hint.args["user"] == ALICE and "press *Acknowledge*" in hint.args["text"]
    after = await harness.get(incident.id or 0)
    assert after.status == "triggered" and after.owner_slack_id is None
    [refusal] = await harness.events(incident.id or 0, "ack_refused")
    assert refusal.actor_kind == "human" and refusal.data["reason"] == "message"
    assert await harness.outbox(incident.id) == []  # nothing public


async def test_reactions_never_acknowledge(harness: Harness) -> None:
    incident = await harness.incident()
    await send(
        harness,
        reaction_event(
            "white_check_mark", user=ALICE, channel=CHANNEL, item_ts=incident.slack_ts or ""
        ),
    )
    hint = await harness.slack.wait_for("chat.postEphemeral")
    assert "A reaction does not acknowledge" in hint.args["text"]
    await send(
        harness,
        reaction_event("eyes", user=BOT_USER, channel=CHANNEL, item_ts=incident.slack_ts or ""),
    )
    events = await refused(harness, incident.id or 0, 2)
    assert [e.actor_kind for e in events] == ["human", "agent"]  # type: ignore[attr-defined]
    after = await harness.get(incident.id or 0)
    assert after.status == "triggered" and after.owner_slack_id is None
    [row] = await harness.outbox(incident.id, "thread")
    assert row.payload["source"] == "reaction"


async def test_chatter_and_our_own_messages_are_ignored(harness: Harness) -> None:
    incident = await harness.incident()
    await send(
        harness,
        message_event(
            "rolling back deploy 1234",
            user=BOT_USER,
            bot_id="B0GRAFANA1",
            thread_ts=incident.slack_ts,
        ),
    )
    own = json.loads((EVENTS / "message-self.json").read_text())["event"]
    own["text"] = "Acknowledged by alice"
    await send(harness, own)
    # a marker that the listener has run past the events above
    await send(harness, message_event("ack", user=ALICE, thread_ts=incident.slack_ts))
    await harness.slack.wait_for("chat.postEphemeral")
    events = await harness.events(incident.id or 0, "ack_refused")
    assert [e.actor_id for e in events] == [ALICE]


async def test_redelivered_event_is_answered_once(harness: Harness) -> None:
    incident = await harness.incident()
    event = message_event(
        "acknowledged", user=BOT_USER, bot_id="B0GRAFANA1", thread_ts=incident.slack_ts
    )
    await send(harness, event)
    await refused(harness, incident.id or 0)
    await send(harness, event)  # Slack retries with a new signature
    await send(harness, message_event("ack", user=ALICE, thread_ts=incident.slack_ts))
    await harness.slack.wait_for("chat.postEphemeral")
    assert len(await harness.outbox(incident.id, "thread")) == 1
    assert len(await harness.events(incident.id or 0, "ack_refused")) == 2  # bot once, alice
