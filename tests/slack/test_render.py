"""The incident message: always says who owns it, or that nobody does and who is next."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.adapters.slack.render import IncidentView, Renderer
from bot.config import Config, Person
from bot.core.escalation import Policy, Step, policy_to_snapshot
from bot.core.schedule import Rotation, Schedule

NOW = datetime(2026, 11, 22, 2, 17, tzinfo=UTC)
POLICY = Policy(
    "default",
    (
        Step(("schedule:primary",), timedelta(minutes=5)),
        Step(("user:bob", "channel:C0SRELEAD"), timedelta(minutes=10)),
    ),
    repeat=1,
)
CONFIG = Config(
    path=Path("nightshift.yaml"),
    people={"alice": Person("alice", "U0ALICE001"), "bob": Person("bob", "U0BOB00001")},
    schedules={
        "primary": Schedule(
            "primary",
            "Europe/Berlin",
            Rotation(timedelta(weeks=1), datetime(2026, 11, 2, 9, 0), ("alice", "bob")),
        )
    },
)
VIEW = IncidentView(
    id=17,
    title="HighErrorRate checkout",
    status="triggered",
    severity="critical",
    labels={"alertname": "HighErrorRate", "service": "checkout", "pod": "x"},
    annotations={},
    runbook_id="checkout-errors",
    external_url="http://am.example:9093",
    firing=3,
    resolved_alerts=1,
    truncated=2,
    owner_slack_id=None,
    owner_name=None,
    acked_at=None,
    acked_via=None,
    opened_at=NOW,
    resolved_at=None,
    policy_snapshot=policy_to_snapshot(POLICY),
    esc_step=0,
    esc_loop=0,
    next_due_at=NOW,
)


def texts(blocks: list[dict[str, Any]]) -> str:
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            out.append(element["text"]["text"] if element["type"] == "button" else element["text"])
    return "\n".join(out)


def buttons(blocks: list[dict[str, Any]]) -> dict[str, str]:
    return {
        e["action_id"]: e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]
    }


def test_unowned_says_who_is_paged_next_and_when() -> None:
    message = Renderer(CONFIG).incident(VIEW)
    body = texts(message.blocks)
    assert message.text == "[UNOWNED] #17 HighErrorRate checkout (critical)"
    assert "*UNOWNED*" in body
    # step 1 pages the schedule: alice is on call that week
    assert "next page: <@U0ALICE001> (on call for primary)" in body
    assert f"<!date^{int(NOW.timestamp())}^{{time}}|02:17 UTC>" in body
    assert "3 firing" in body and "1 resolved" in body and "+2 not shown" in body
    assert "`checkout`" in body and "Runbook `checkout-errors`" in body
    assert buttons(message.blocks) == {
        "incident_ack": "17",
        "incident_resolve": "17",
        "incident_escalate": "17",
        "incident_runbook": "17",
    }


def test_later_steps_and_passes() -> None:
    view = dataclasses.replace(VIEW, esc_step=1, next_due_at=NOW + timedelta(minutes=5))
    line = Renderer(CONFIG).status_line(view)
    assert "next page: <@U0BOB00001>, <#C0SRELEAD> at" in line and "(step 2)" in line
    second_pass = dataclasses.replace(VIEW, esc_step=2)
    assert "(step 1, pass 2)" in Renderer(CONFIG).status_line(second_pass)
    exhausted = dataclasses.replace(VIEW, esc_step=2, esc_loop=1, next_due_at=None)
    line = Renderer(CONFIG).status_line(exhausted)
    assert "*UNOWNED*" in line and "nobody else will be paged" in line
    no_policy = dataclasses.replace(VIEW, policy_snapshot={}, next_due_at=None)
    assert "nobody is being paged" in Renderer(CONFIG).status_line(no_policy)


def test_owned_says_by_whom_since_when_and_how() -> None:
    acked = NOW + timedelta(minutes=2)
    view = dataclasses.replace(
        VIEW,
        status="acknowledged",
        owner_slack_id="U0ALICE001",
        owner_name="alice",
        acked_at=acked,
        acked_via="button",
    )
    message = Renderer(CONFIG).incident(view)
    assert message.text.startswith("[OWNED]")
    line = Renderer(CONFIG).status_line(view)
    assert line == (
        ":bust_in_silhouette: *Owned by <@U0ALICE001>* since "
        f"<!date^{int(acked.timestamp())}^{{time}}|02:19 UTC>, via button"
    )
    assert "incident_ack" not in buttons(message.blocks)


def test_resolved_has_no_buttons() -> None:
    view = dataclasses.replace(VIEW, status="resolved", resolved_at=NOW, next_due_at=None)
    message = Renderer(CONFIG).incident(view)
    assert buttons(message.blocks) == {}
    assert "*Resolved*" in texts(message.blocks)


def test_label_values_cannot_inject_mentions_or_links() -> None:
    view = dataclasses.replace(
        VIEW, title="<!channel> pwn", labels={"service": "<https://evil|click> & <!here>"}
    )
    message = Renderer(CONFIG).incident(view)
    body = texts(message.blocks)
    assert "<!here>" not in body and "<https://evil" not in body
    assert "&lt;!here&gt;" in body
    assert message.blocks[0]["text"]["text"] == "#17 <!channel> pwn"  # plain_text: inert


def test_long_titles_fit_the_header() -> None:
    view = dataclasses.replace(VIEW, title="x" * 400)
    assert len(Renderer(CONFIG).incident(view).blocks[0]["text"]["text"]) == 150


def test_timeline_templates() -> None:
    r = Renderer(CONFIG)
    payloads: dict[str, dict[str, Any]] = {
        "acknowledged": {"user": "U0ALICE001", "via": "button", "at": "2026-11-22T02:19:00Z"},
        "ack_refused": {
            "user": "U0GRAFANA1",
            "kind": "agent",
            "via": "button",
            "reason": "this account is a bot, not a person",
        },
        "resolved": {"user": "U0ALICE001", "via": "command", "at": "2026-11-22T03:00:00Z"},
        "unack": {"user": "U0ALICE001"},
        "ack_timeout": {"previous_owner": "alice", "previous_owner_slack_id": "U0ALICE001"},
        "step_paged": {
            "step": 2,
            "loop": 0,
            "people": [{"name": "bob", "slack_id": "U0BOB00001"}],
            "channels": ["C0SRELEAD"],
            "unreachable": [],
            "manual": False,
        },
        "agent_not_owner": {"user": "U0GRAFANA1", "kind": "agent", "source": "message"},
        "text": {"text": "a note"},
    }
    expected = {
        "acknowledged": "Acknowledged by <@U0ALICE001>",
        "ack_refused": "*not counted*",
        "resolved": "Resolved* by <@U0ALICE001> via command",
        "unack": "handed #17 back",
        "ack_timeout": "timed out",
        "step_paged": "paged <@U0BOB00001>, <#C0SRELEAD>",
        "agent_not_owner": "<@U0GRAFANA1> is not a person",
        "text": "a note",
    }
    for name, payload in payloads.items():
        text = r.thread(name, payload, [VIEW]).blocks[0]["text"]["text"]
        assert expected[name] in text, (name, text)
    unknown = r.thread("no_such_template", {"text": "fallback"}, [VIEW])
    assert unknown.text == "fallback"


def test_page_dm_has_acknowledge_until_owned() -> None:
    r = Renderer(CONFIG)
    page = r.page("page", {"step": 1, "loop": 0, "reason": "on call for primary"}, VIEW)
    assert buttons(page.blocks)["incident_ack"] == "17"
    assert "You are paged for *#17" in texts(page.blocks)
    owned = dataclasses.replace(VIEW, status="acknowledged", owner_slack_id="U0BOB00001")
    assert "incident_ack" not in buttons(r.page("page", {"step": 1}, owned).blocks)
