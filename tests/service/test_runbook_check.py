import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import select

from bot.adapters.db.clock import to_db
from bot.adapters.db.database import Database
from bot.adapters.db.tables import Event, Incident, Outbox
from bot.clock import FakeClock
from bot.config import Config
from bot.config_loader import load_config
from bot.core.escalation import policy_to_snapshot
from bot.service.runbook_check import prepare

NOW = datetime(2026, 11, 24, 2, 17, tzinfo=UTC)  # bob's week on the primary rotation

CONFIG = """\
slack: {channel: C0INCID001}
people:
  alice: {slack: U0ALICE001}
  bob:   {slack: U0BOB00001}
  carol: {slack: U0CAROL001}
  dave:  {slack: U0DAVE0001}
schedules:
  primary:
    timezone: Europe/Berlin
    rotation: {every: 1w, start: "2026-11-02T09:00", members: [alice, bob]}
policies:
  default:
    steps:
      - {notify: ["schedule:primary"], wait: 5m}
      - {notify: ["user:carol"], wait: 10m}
routes:
  - {match: {}, policy: default}
directory: DIRECTORY
runbooks: runbooks/
"""

RUNBOOK = """\
---
id: agent-regression
title: Agent serving wrong answers
match: {alertname: AgentAnswerQualityDrop}
---
## Check the agent's tool-call traces
requires: sso:ai-workspace, traces:agent:read
Open {{ annotations.dashboard }}.

## Roll back to the previous prompt version
requires: deploy:ai-agent:rollback
`promptctl rollback {{ labels.agent }}`

## Tell support
Post in #support.
"""

DIRECTORY = """\
groups:
  sre: {members: [alice, bob], grants: ["traces:*:read", "sso:ai-workspace"]}
users:
  carol: {grants: ["deploy:ai-agent:*"]}
  dave: {grants: ["deploy:*:rollback"]}
"""


@dataclass
class Deps:
    db: Database
    config: Config
    clock: FakeClock = field(default_factory=lambda: FakeClock(NOW))


def make_config(tmp_path: Path, directory: str) -> Config:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "agent-regression.md").write_text(RUNBOOK)
    (tmp_path / "directory.yaml").write_text(DIRECTORY)
    (tmp_path / "nightshift.yaml").write_text(CONFIG.replace("DIRECTORY", directory))
    return load_config(tmp_path / "nightshift.yaml")


async def open_incident(db: Database, config: Config) -> int:
    async with db.transaction() as session:
        incident = Incident(
            receiver="bot-webhook",
            group_key='{}:{alertname="AgentAnswerQualityDrop"}',
            open_key="k",
            title="AgentAnswerQualityDrop support-bot",
            labels={"alertname": "AgentAnswerQualityDrop", "agent": "support-bot"},
            annotations={"runbook_url": "https://runbooks.example.invalid/agent"},
            runbook_id="agent-regression",
            policy_name="default",
            policy_snapshot=policy_to_snapshot(config.policies["default"]),
            opened_at=to_db(NOW),
        )
        session.add(incident)
        await session.flush()
        assert incident.id is not None
        return incident.id


def check_row(incident_id: int, person: str, slack_id: str, reason: str = "paged") -> Outbox:
    return Outbox(
        incident_id=incident_id,
        dedup_key=f"runbook_check:{incident_id}:1:0:{person}",
        kind="runbook_check",
        payload={"person": person, "slack_id": slack_id, "reason": reason},
        not_before=to_db(NOW),
        created_at=to_db(NOW),
    )


async def gap_events(db: Database, incident_id: int) -> list[Event]:
    async with db.transaction() as session:
        rows = await session.exec(
            select(Event).where(Event.incident_id == incident_id, Event.type == "runbook_gap")
        )
        return list(rows.all())


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


async def test_paged_responder_who_cannot_do_a_step(database: Database, tmp_path: Path) -> None:
    config = make_config(tmp_path, "{provider: file, file: directory.yaml}")
    incident_id = await open_incident(database, config)
    deps = Deps(database, config)

    message = await prepare(deps, check_row(incident_id, "bob", "U0BOB00001"))

    assert message is not None
    head, traces, rollback, tell = texts(message.blocks)
    assert "Runbook `agent-regression`" in head
    assert "<@U0BOB00001> (paged) *cannot do 1 of 3 steps*" in head
    assert "<https://runbooks.example.invalid/agent|Open the runbook>" in head
    assert traces.startswith(":white_check_mark: *1. Check the agent's tool-call traces*")
    assert rollback.startswith(":no_entry: *2. Roll back to the previous prompt version*")
    assert "cannot do, missing `deploy:ai-agent:rollback`" in rollback
    # carol is step 2 of the policy; dave is only in the directory
    assert "on the escalation path: <@U0CAROL001>; also <@U0DAVE0001>" in rollback
    assert tell.startswith(":white_check_mark: *3. Tell support*")
    actions = [b for b in message.blocks if b["type"] == "actions"]
    buttons = actions[0]["elements"]
    assert [(b["action_id"], b["value"], b["text"]["text"]) for b in buttons] == [
        ("runbook_page_person", f"{incident_id}:carol", "Page carol now"),
        ("runbook_page_person", f"{incident_id}:dave", "Page dave now"),
    ]
    assert "bob cannot do 1 step" in message.text

    events = await gap_events(database, incident_id)
    assert len(events) == 1
    event = events[0]
    assert (event.actor_kind, event.counted) == ("system", False)
    assert {k: event.data[k] for k in ("step", "person", "missing", "can_do", "verdict")} == {
        "step": 2,
        "person": "bob",
        "missing": ["deploy:ai-agent:rollback"],
        "can_do": ["carol"],
        "verdict": "cannot",
    }
    assert "Roll back to the previous prompt version" in event.detail
    assert "missing deploy:ai-agent:rollback" in event.detail
    assert "can do it: carol, dave" in event.detail

    # the sender retries a row it could not mark sent: no second set of events
    await prepare(deps, check_row(incident_id, "bob", "U0BOB00001"))
    assert len(await gap_events(database, incident_id)) == 1


async def test_acknowledger_who_can_do_everything(database: Database, tmp_path: Path) -> None:
    config = make_config(tmp_path, "{provider: file, file: directory.yaml}")
    incident_id = await open_incident(database, config)
    # carol also needs the traces grants to do step 1, so give her a new directory
    (tmp_path / "directory.yaml").write_text(
        DIRECTORY.replace('["deploy:ai-agent:*"]', '["deploy:ai-agent:*", "*:*:read", "sso:*"]')
    )
    message = await prepare(
        Deps(database, config), check_row(incident_id, "carol", "U0CAROL001", "acknowledged")
    )
    assert message is not None
    assert "<@U0CAROL001> (acknowledged) can do every step." in texts(message.blocks)[0]
    assert not [b for b in message.blocks if b["type"] == "actions"]
    assert await gap_events(database, incident_id) == []


async def test_directory_failure_is_could_not_verify(database: Database, tmp_path: Path) -> None:
    broken = tmp_path / "ldap.py"
    broken.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stderr.write('LDAP down')\nsys.exit(2)\n"
    )
    broken.chmod(0o755)
    config = make_config(tmp_path, f"{{provider: command, command: [{broken}], timeout: 5}}")
    incident_id = await open_incident(database, config)

    message = await prepare(Deps(database, config), check_row(incident_id, "bob", "U0BOB00001"))

    assert message is not None
    head, traces, rollback, tell = texts(message.blocks)
    assert "(paged) access to 2 steps *could not be verified*" in head
    assert traces.startswith(
        ":grey_question: *1. Check the agent's tool-call traces*: could not verify"
    )
    assert "LDAP down" in traces
    assert "Nobody known can do this step." in rollback  # nobody is verified, nobody is "can"
    assert tell.startswith(":white_check_mark:")  # no requirement: anyone can
    verdicts = [e.data["verdict"] for e in await gap_events(database, incident_id)]
    assert verdicts == ["unverified", "unverified"]


async def test_no_runbook_no_message(database: Database, tmp_path: Path) -> None:
    config = make_config(tmp_path, "{provider: file, file: directory.yaml}")
    incident_id = await open_incident(database, config)
    async with database.transaction() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        incident.runbook_id = None
        incident.labels = {"alertname": "SomethingElse"}
        session.add(incident)
    assert (
        await prepare(Deps(database, config), check_row(incident_id, "bob", "U0BOB00001")) is None
    )


async def test_an_acknowledger_the_config_does_not_name_is_unverified(
    database: Database, tmp_path: Path
) -> None:
    config = make_config(tmp_path, "{provider: file, file: directory.yaml}")
    incident_id = await open_incident(database, config)
    row = check_row(incident_id, "Zed Stranger", "U0ZED00001", "acknowledged")
    message = await prepare(Deps(database, config), row)
    assert message is not None
    _head, traces, rollback, _tell = texts(message.blocks)
    assert "could not verify (Zed Stranger is not one of the people in the config)" in traces
    assert rollback.startswith(":grey_question:")
    assert "<@U0CAROL001>" in rollback  # who can is still known


async def test_no_check_once_the_incident_is_resolved(database: Database, tmp_path: Path) -> None:
    """A page queued before the incident resolved: nobody needs the runbook any more."""
    config = make_config(tmp_path, "{provider: file, file: directory.yaml}")
    incident_id = await open_incident(database, config)
    async with database.transaction() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        incident.status = "resolved"
        incident.open_key = None
        session.add(incident)
    row = check_row(incident_id, "bob", "U0BOB00001")
    assert await prepare(Deps(database, config), row) is None
    assert await gap_events(database, incident_id) == []
