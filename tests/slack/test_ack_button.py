"""Acknowledge by button: only a person per users.info counts."""

from __future__ import annotations

import pytest

from tests.fakes.slack_signing import block_action
from tests.slack.harness import (
    ALICE,
    APP_USER,
    BOT_USER,
    DELETED,
    GUEST_MULTI,
    GUEST_SINGLE,
    SLACKBOT,
    Harness,
)


async def click(
    h: Harness, user: str, incident_id: int, action: str = "incident_ack", name: str = "click"
) -> str:
    before = len(h.slack.calls_to("response_url"))
    body = block_action(
        action, str(incident_id), user_id=user, response_url=h.slack.response_url(name)
    )
    status, _ = await h.post(body)
    assert status == 200
    call = await h.slack.wait_for("response_url", before + 1)
    return str(call.args["text"])


async def test_person_button_sets_owner_and_updates_message(harness: Harness) -> None:
    incident = await harness.incident()
    answer = await click(harness, ALICE, incident.id or 0)
    assert "You own incident" in answer
    after = await harness.get(incident.id or 0)
    assert after.status == "acknowledged"
    assert after.owner_slack_id == ALICE and after.owner_name == "alice"
    assert after.acked_via == "button"
    # ack timeout from the policy snapshot (30 m)
    assert after.next_due_at is not None
    assert (after.next_due_at - (after.acked_at or after.next_due_at)).total_seconds() == 1800
    [event] = await harness.events(incident.id or 0, "acknowledged")
    assert event.counted and event.actor_kind == "human" and event.actor_id == ALICE
    kinds = [row.kind for row in await harness.outbox(incident.id)]
    assert kinds == ["thread", "incident_update", "runbook_check"]
    [check] = await harness.outbox(incident.id, "runbook_check")
    assert check.payload == {"person": "alice", "slack_id": ALICE, "reason": "acknowledged"}

    # no runbook matches this incident: the check has nothing to post
    assert await harness.sender.drain_once(harness.clock.now()) == 3
    update = await harness.slack.wait_for("chat.update")
    assert update.args["ts"] == after.slack_ts
    status_text = update.args["blocks"][3]["text"]["text"]
    assert f"Owned by <@{ALICE}>" in status_text and "via button" in status_text
    reply = harness.slack.calls_to("chat.postMessage")[0]
    assert reply.args["thread_ts"] == after.slack_ts
    assert "Acknowledged by" in reply.args["text"]


@pytest.mark.parametrize(
    ("user", "kind", "reason"),
    [
        (BOT_USER, "agent", "bot"),
        (APP_USER, "agent", "app_user"),
        (SLACKBOT, "agent", "slackbot"),
        (GUEST_MULTI, "human", "multi_channel_guest"),
        (GUEST_SINGLE, "human", "single_channel_guest"),
        (DELETED, "human", "deleted"),
        ("U0NOBODY01", "human", "unverified"),
    ],
)
async def test_not_a_person_is_refused(harness: Harness, user: str, kind: str, reason: str) -> None:
    incident = await harness.incident()
    answer = await click(harness, user, incident.id or 0)
    assert answer.startswith("Not counted")
    after = await harness.get(incident.id or 0)
    assert after.status == "triggered" and after.owner_slack_id is None
    [event] = await harness.events(incident.id or 0, "ack_refused")
    assert not event.counted
    assert event.actor_kind == kind and event.data["reason"] == reason
    assert await harness.events(incident.id or 0, "acknowledged") == []
    [row] = await harness.outbox(incident.id)
    assert row.kind == "thread" and row.payload["template"] == "ack_refused"


async def test_users_info_failure_refuses(harness: Harness) -> None:
    incident = await harness.incident()
    harness.slack.fail("users.info", status=500)
    answer = await click(harness, ALICE, incident.id or 0)
    assert "could not confirm" in answer
    after = await harness.get(incident.id or 0)
    assert after.owner_slack_id is None
    [event] = await harness.events(incident.id or 0, "ack_refused")
    assert event.data == {**event.data, "reason": "unverified", "verified": False}


async def with_config(h: Harness, **settings: object) -> Harness:
    from tests.slack.harness import make_config

    other = await Harness(h.db, h.slack, make_config(**settings)).start()  # type: ignore[arg-type]
    return other


async def test_responders_only(harness: Harness) -> None:
    from tests.fakes.slack_api import load_fixture
    from tests.slack.harness import BOB, CAROL

    carol = {**load_fixture("users.info-human.json")["user"], "id": CAROL, "name": "carol"}
    harness.slack.add_user(carol)
    h = await with_config(harness, who="responders")
    try:
        incident = await h.incident()
        answer = await click(h, CAROL, incident.id or 0, name="carol")
        assert "escalation path" in answer
        [event] = await h.events(incident.id or 0, "ack_refused")
        assert event.data["reason"] == "not_responder" and event.actor_kind == "human"
        # bob is on step 2 of the policy: a responder
        body = block_action(
            "incident_ack", str(incident.id), user_id=BOB, response_url=h.slack.response_url("bob")
        )
        assert (await h.post(body))[0] == 200
        await h.slack.wait_for("response_url", 2)
        assert (await h.get(incident.id or 0)).owner_slack_id == BOB
    finally:
        await h.close()


async def test_guests_count_when_allowed(harness: Harness) -> None:
    h = await with_config(harness, allow_guests=True)
    try:
        incident = await h.incident()
        answer = await click(h, GUEST_SINGLE, incident.id or 0)
        assert "You own incident" in answer
        assert (await h.get(incident.id or 0)).owner_slack_id == GUEST_SINGLE
    finally:
        await h.close()


async def test_resolve_button_and_dm_button(harness: Harness) -> None:
    incident = await harness.incident()
    body = block_action(
        "incident_ack",
        str(incident.id),
        user_id=ALICE,
        channel_id="D0ALICEDM1",
        response_url=harness.slack.response_url("dm"),
    )
    assert (await harness.post(body))[0] == 200
    await harness.slack.wait_for("response_url")
    assert (await harness.get(incident.id or 0)).acked_via == "DM button"
    answer = await click(harness, ALICE, incident.id or 0, "incident_resolve")
    assert "is resolved" in answer
    after = await harness.get(incident.id or 0)
    assert after.status == "resolved" and after.open_key is None


async def test_runbook_and_escalate_buttons(harness: Harness) -> None:
    incident = await harness.incident(runbook_id="checkout-errors")
    answer = await click(harness, ALICE, incident.id or 0, "incident_runbook")
    assert "`/runbook checkout-errors`" in answer
    body = block_action(
        "incident_escalate",
        str(incident.id),
        user_id=ALICE,
        response_url=harness.slack.response_url("esc"),
    )
    assert (await harness.post(body))[0] == 200
    call = await harness.slack.wait_for("response_url", 2)
    assert "Escalating" in call.args["text"]
    assert (await harness.get(incident.id or 0)).esc_step == 2


async def test_button_with_a_foreign_value(harness: Harness) -> None:
    body = block_action(
        "incident_ack", "not-an-id", user_id=ALICE, response_url=harness.slack.response_url()
    )
    assert (await harness.post(body))[0] == 200
    call = await harness.slack.wait_for("response_url")
    assert "does not name an incident" in call.args["text"]
