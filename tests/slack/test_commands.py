"""`/incident …` slash commands through the real AsyncApp."""

from __future__ import annotations

from bot.adapters.db.clock import to_db
from tests.fakes.slack_signing import slash_command
from tests.slack.harness import ALICE, BOB, BOT_USER, Harness


async def command(h: Harness, text: str, user: str = ALICE, command: str = "/incident") -> str:
    """The ephemeral answer: in the HTTP response, or later via response_url."""
    before = len(h.slack.calls_to("response_url"))
    body = slash_command(command, text, user_id=user, response_url=h.slack.response_url())
    status, answer = await h.post(body)
    assert status == 200
    if answer:
        return answer
    call = await h.slack.wait_for("response_url", before + 1)
    assert call.args["response_type"] == "ephemeral"
    return str(call.args["text"])


async def test_ack_by_command_counts(harness: Harness) -> None:
    incident = await harness.incident()
    answer = await command(harness, f"ack {incident.id}")
    assert "You own incident" in answer
    after = await harness.get(incident.id or 0)
    assert after.owner_slack_id == ALICE and after.acked_via == "command"
    [event] = await harness.events(incident.id or 0, "acknowledged")
    assert event.counted and event.data["via"] == "command"


async def test_bot_user_command_is_refused(harness: Harness) -> None:
    incident = await harness.incident()
    answer = await command(harness, f"ack {incident.id}", user=BOT_USER)
    assert "Not counted" in answer and "bot" in answer
    assert (await harness.get(incident.id or 0)).owner_slack_id is None
    [event] = await harness.events(incident.id or 0, "ack_refused")
    assert event.actor_kind == "agent"


async def test_owned_by_someone_else(harness: Harness) -> None:
    incident = await harness.incident(status="acknowledged", owner=ALICE)
    answer = await command(harness, f"ack {incident.id}", user=BOB)
    assert f"already owned by <@{ALICE}>" in answer
    after = await harness.get(incident.id or 0)
    assert after.owner_slack_id == ALICE
    [event] = await harness.events(incident.id or 0, "ack_refused")
    assert event.actor_id == BOB and event.data["reason"] == "owned_by_other"


async def test_double_ack_is_harmless(harness: Harness) -> None:
    incident = await harness.incident()
    await command(harness, f"ack {incident.id}")
    answer = await command(harness, f"ack {incident.id}")
    assert "already own" in answer
    assert len(await harness.events(incident.id or 0, "acknowledged")) == 1
    assert await harness.events(incident.id or 0, "ack_refused") == []


async def test_unack_hands_back_and_escalation_resumes(harness: Harness) -> None:
    incident = await harness.incident(status="acknowledged", owner=ALICE)
    answer = await command(harness, f"unack {incident.id}", user=BOB)
    assert "only its owner" in answer
    answer = await command(harness, f"unack {incident.id}")
    assert "handed incident" in answer
    after = await harness.get(incident.id or 0)
    assert after.status == "triggered" and after.owner_slack_id is None
    assert after.next_due_at == to_db(harness.clock.now())
    [event] = await harness.events(incident.id or 0, "unack")
    assert event.counted and event.actor_id == ALICE
    assert harness.engine_wakes >= 1


async def test_resolve_by_command_then_already_resolved(harness: Harness) -> None:
    incident = await harness.incident()
    assert "is resolved" in await command(harness, f"resolve {incident.id}")
    after = await harness.get(incident.id or 0)
    assert after.status == "resolved" and after.open_key is None and after.next_due_at is None
    assert after.resolved_at is not None
    assert "already resolved" in await command(harness, f"resolve {incident.id}")
    assert "already resolved" in await command(harness, f"ack {incident.id}")
    assert (await harness.get(incident.id or 0)).owner_slack_id is None


async def test_resolve_by_bot_is_refused(harness: Harness) -> None:
    incident = await harness.incident()
    answer = await command(harness, f"resolve {incident.id}", user=BOT_USER)
    assert "Not counted" in answer
    assert (await harness.get(incident.id or 0)).status == "triggered"
    [event] = await harness.events(incident.id or 0, "ack_refused")
    assert event.data["action"] == "resolve"


async def test_unknown_id_and_bad_syntax(harness: Harness) -> None:
    assert "no incident #999" in await command(harness, "ack 999")
    assert "no incident #999" in await command(harness, "show 999")
    assert "Usage: `/incident ack ID`" in await command(harness, "ack")
    assert "Usage: `/incident resolve ID`" in await command(harness, "resolve abc")
    assert "Unknown subcommand `frobnicate`" in await command(harness, "frobnicate 1")
    help_text = await command(harness, "help")
    for sub in ("list", "show", "ack", "unack", "resolve", "escalate"):
        assert f"/incident {sub}" in help_text
    assert "/incident list" in await command(harness, "")


async def test_list_and_show(harness: Harness) -> None:
    first = await harness.incident()
    second = await harness.incident(status="acknowledged", owner=ALICE)
    await harness.incident(status="resolved")
    listing = await command(harness, "list")
    assert listing.index(f"#{second.id}") < listing.index(f"#{first.id}")
    assert "UNOWNED" in listing and f"Owned by <@{ALICE}>" in listing
    await command(harness, f"ack {first.id}")
    shown = await command(harness, f"show {first.id}")
    assert f"#{first.id} HighErrorRate checkout" in shown
    assert "`acknowledged` alice (human)" in shown


async def test_escalate_pages_next_step_now(harness: Harness) -> None:
    incident = await harness.incident()
    answer = await command(harness, f"escalate {incident.id}")
    assert "Escalating incident" in answer
    after = await harness.get(incident.id or 0)
    assert after.esc_step == 2
    escalated = await harness.events(incident.id or 0, "escalated")
    assert escalated and escalated[0].actor_id == ALICE
    dms = await harness.outbox(incident.id, "dm")
    assert [row.channel for row in dms] == [BOB]


async def test_oncall_and_runbook_answer(harness: Harness) -> None:
    assert await command(harness, "", command="/oncall")
    assert await command(harness, "audit", command="/runbook")
