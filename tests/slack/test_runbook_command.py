"""`/runbook ID`, `/runbook audit` and the runbook check's "page this person now" button,
through the real Bolt app with signed requests, a real database and the fake Slack API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.db.clock import to_db
from bot.adapters.db.database import Database
from bot.adapters.db.tables import Incident, Outbox
from bot.adapters.slack.sender import OutboxSender
from bot.config import Config, DirectorySettings, Person
from bot.core.escalation import Policy, Step
from bot.core.routing import Route
from tests.fakes.slack_api import Call, FakeSlack
from tests.fakes.slack_signing import block_action, slash_command
from tests.slack.harness import ALICE, BOB, CAROL, CHANNEL, Harness, eventually

RUNBOOK = """\
---
id: agent-regression
title: Agent serving wrong answers
match: {alertname: AgentAnswerQualityDrop}
---
## Check the agent's tool-call traces
requires: sso:ai-workspace, traces:agent:read
Open the traces for `{{ labels.agent }}`.

## Roll back to the previous prompt version
requires: deploy:ai-agent:rollback
`promptctl rollback {{ labels.agent }}`
"""

DIRECTORY = """\
groups:
  sre: {members: [alice, bob], grants: ["traces:agent:read", "sso:ai-workspace"]}
users:
  carol: {grants: ["deploy:ai-agent:rollback"]}
"""

POLICY = Policy(
    "default",
    (Step(("user:bob",), timedelta(minutes=5)), Step(("user:carol",), timedelta(minutes=10))),
)


def runbook_config(tmp_path: Path) -> Config:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "agent-regression.md").write_text(RUNBOOK)
    (tmp_path / "directory.yaml").write_text(DIRECTORY)
    return Config(
        path=tmp_path / "nightshift.yaml",
        slack_channel=CHANNEL,
        people={
            "alice": Person("alice", ALICE),
            "bob": Person("bob", BOB),
            "carol": Person("carol", CAROL),
        },
        policies={"default": POLICY},
        routes=(Route({}, CHANNEL, "default"),),
        directory=DirectorySettings(provider="file", file=tmp_path / "directory.yaml"),
        runbooks_dir=tmp_path / "runbooks",
    )


@pytest.fixture
async def rb(sqlite_url: str, slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Harness]:
    db = Database(sqlite_url)
    h = await Harness(db, slack, runbook_config(tmp_path)).start()
    try:
        yield h
    finally:
        await h.close()
        await db.dispose()


async def command(h: Harness, text: str, user: str, name: str) -> tuple[str, dict[str, Any]]:
    body = slash_command("/runbook", text, user_id=user, response_url=h.slack.response_url(name))
    status, ack_body = await h.post(body)
    assert status == 200
    call = await eventually(
        lambda: _first([c for c in h.slack.calls_to("response_url") if c.args["_name"] == name])
    )
    assert call is not None
    return ack_body, call.args


async def agent_incident(h: Harness, **fields: object) -> Incident:
    """The harness's incident, turned into an agent-regression one."""
    created = await h.incident()
    async with h.db.transaction() as session:
        incident = await session.get(Incident, created.id)
        assert incident is not None
        incident.labels = {"alertname": "AgentAnswerQualityDrop", "agent": "support-bot"}
        incident.runbook_id = "agent-regression"
        for name, value in fields.items():
            setattr(incident, name, value)
        session.add(incident)
    return incident


async def _first(items: list[Call]) -> Call | None:
    return items[0] if items else None


async def test_runbook_view_shows_the_callers_own_verdicts(rb: Harness) -> None:
    _ack, answer = await command(rb, "agent-regression", BOB, "view")
    blocks = answer["blocks"]
    assert isinstance(blocks, list)
    texts = [b["text"]["text"] for b in blocks]
    assert "*Agent serving wrong answers* (`agent-regression`)" in texts[0]
    assert "You cannot do 1 of 2 steps." in texts[0]
    assert texts[1].startswith(":white_check_mark: *1. Check the agent's tool-call traces*")
    assert texts[2].startswith(":no_entry: *2. Roll back to the previous prompt version*")
    assert "You are missing `deploy:ai-agent:rollback`." in texts[2]
    # outside an incident, labels show as placeholders
    assert "`promptctl rollback ‹labels.agent›`" in texts[2]
    assert answer["response_type"] == "ephemeral"

    _ack, carol = await command(rb, "agent-regression", CAROL, "carol")
    assert "You cannot do 1 of 2 steps." in carol["blocks"][0]["text"]["text"]

    _ack, unknown = await command(rb, "nope", BOB, "unknown")
    assert "No runbook `nope`. Known runbooks: `agent-regression`." in str(unknown["text"])


async def test_runbook_view_renders_an_incidents_labels(rb: Harness) -> None:
    incident = await agent_incident(rb)
    _ack, answer = await command(rb, f"agent-regression {incident.id}", ALICE, "inc")
    texts = [b["text"]["text"] for b in answer["blocks"]]
    assert "for incident #" in texts[0]
    assert "`promptctl rollback support-bot`" in texts[2]


async def test_runbook_audit_in_slack(rb: Harness) -> None:
    ack_body, answer = await command(rb, "audit", ALICE, "audit")
    assert "Running the runbook access audit" in ack_body
    text = str(answer["text"])
    assert "*Runbook access audit*" in text
    assert "Checked 1 runbook, 2 people, 2 steps: *2 gaps*" in text
    assert "bob cannot (missing `deploy:ai-agent:rollback`)" in text
    assert "Can do it: carol" in text

    status, usage = await rb.post(slash_command("/runbook", "audit soon", user_id=ALICE))
    assert status == 200
    assert "Usage: `/runbook audit [DAYS]`" in usage


async def test_page_check_thread_message_and_page_button(rb: Harness) -> None:
    incident = await agent_incident(
        rb,
        annotations={"runbook_url": "https://runbooks.example.invalid/agent"},
        policy_snapshot={
            "name": "default",
            "steps": [
                {"targets": ["user:bob"], "wait_s": 300},
                {"targets": ["user:carol"], "wait_s": 600},
            ],
            "repeat": 0,
            "ack_timeout_s": None,
        },
    )
    assert incident.id is not None
    now = rb.clock.now()
    async with rb.db.transaction() as session:
        session.add(
            Outbox(
                incident_id=incident.id,
                dedup_key=f"runbook_check:{incident.id}:1:0:bob",
                kind="runbook_check",
                payload={"person": "bob", "slack_id": BOB, "reason": "paged"},
                not_before=to_db(now),
                created_at=to_db(now),
            )
        )
    sender = OutboxSender(rb.deps, rb.client)  # the default preparers: runbook_check
    assert await sender.drain_once(now) == 1
    post = await rb.slack.wait_for("chat.postMessage")
    assert post.args["thread_ts"] == incident.slack_ts
    blocks = post.args["blocks"]
    assert "<@U0BOB00001> (paged) *cannot do 1 of 2 steps*" in blocks[0]["text"]["text"]
    assert "missing `deploy:ai-agent:rollback`" in blocks[2]["text"]["text"]
    [button] = blocks[-1]["elements"]
    assert button["action_id"] == "runbook_page_person"
    assert button["value"] == f"{incident.id}:carol"
    [gap] = await rb.events(incident.id, "runbook_gap")
    assert gap.data["can_do"] == ["carol"]

    # bob presses "Page carol now"
    body = block_action(
        "runbook_page_person",
        button["value"],
        user_id=BOB,
        response_url=rb.slack.response_url("page"),
    )
    status, _ = await rb.post(body)
    assert status == 200
    answer = await rb.slack.wait_for("response_url")
    assert "Paging carol" in str(answer.args["text"])
    [row] = await rb.outbox(incident.id, "dm")
    assert row.channel == CAROL
    assert row.payload["template"] == "page" and row.payload["target"] == "carol"
    [notified] = await rb.events(incident.id, "notified")
    assert notified.data["target"] == "carol" and not notified.counted
    assert notified.actor_id == BOB and notified.actor_kind == "human"

    assert await sender.drain_once(rb.clock.now()) == 1
    opened = await rb.slack.wait_for("conversations.open")
    assert opened.args["users"] == CAROL
