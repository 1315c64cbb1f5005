"""End to end: a real Alertmanager fires -> the incident message is posted -> a person
presses Acknowledge -> the owner is committed -> the message is updated in place."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from sqlmodel import select

from bot.adapters.alertmanager import AlertmanagerWebhook
from bot.adapters.db.database import Database
from bot.adapters.db.tables import Incident
from bot.adapters.slack.app import build_bolt_app, mount, web_client
from bot.adapters.slack.deps import SlackDeps
from bot.adapters.slack.identity import Identity
from bot.adapters.slack.metrics import SlackMetrics
from bot.adapters.slack.sender import OutboxSender
from bot.clock import SystemClock
from bot.metrics import Metrics
from bot.service.intake import IntakeService
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_signing import SECRET, block_action, signed_headers
from tests.slack.harness import ALICE, CHANNEL, eventually, make_config
from tests.support.binaries import alertmanager_binary, missing
from tests.support.processes import AlertmanagerProcess

pytestmark = pytest.mark.e2e
TOKEN = "e2e-slack-am-token"


@pytest.fixture
def alertmanager() -> str:
    binary = alertmanager_binary()
    if binary is None:
        missing("prometheus-alertmanager binary not installed")
    assert binary is not None
    return binary


async def test_alert_to_message_to_button_to_owner_to_update(
    alertmanager: str, database: Database, slack: FakeSlack, tmp_path: Path
) -> None:
    config = make_config()
    clock = SystemClock()
    client = web_client("xoxb-e2e", slack.url, timeout=5)
    deps = SlackDeps(
        db=database, config=config, clock=clock, identity=Identity(client), metrics=SlackMetrics()
    )
    sender = OutboxSender(deps, client, preparers={})
    deps.wake_sender = sender.wake
    intake = IntakeService(database, config, clock, Metrics(), on_change=sender.wake)
    app = web.Application()
    app.add_routes(AlertmanagerWebhook(intake, Metrics(), [TOKEN]).routes())
    mount(app, build_bolt_app(deps, token="xoxb-e2e", signing_secret=SECRET, client=client))
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    stop = asyncio.Event()
    worker = asyncio.create_task(sender.run(stop))
    am = AlertmanagerProcess(
        alertmanager, tmp_path, f"http://127.0.0.1:{server.port}/alerts/alertmanager", TOKEN
    )
    try:
        await asyncio.to_thread(am.start)
        alert: dict[str, Any] = {
            "labels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"},
            "annotations": {"summary": "5xx above 5%"},
            "startsAt": "2026-11-22T01:00:00Z",
        }
        await asyncio.to_thread(am.post_alerts, [alert])

        post = await slack.wait_for("chat.postMessage", timeout=30)
        assert post.args["channel"] == CHANNEL
        assert post.args["text"].startswith("[UNOWNED]") and "HighErrorRate" in post.args["text"]

        async def posted() -> Incident | None:
            async with database.transaction() as session:
                [row] = (await session.exec(select(Incident))).all()
            return row if row.slack_ts else None

        incident = await eventually(posted)
        assert incident is not None and incident.slack_ts and incident.status == "triggered"
        [button] = [
            e
            for b in post.args["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == "incident_ack"
        ]

        body = block_action(
            "incident_ack",
            button["value"],
            user_id=ALICE,
            message_ts=incident.slack_ts,
            response_url=slack.response_url(),
        )
        async with ClientSession() as http:
            response = await http.post(
                server.make_url("/slack/events"), data=body.encode(), headers=signed_headers(body)
            )
            assert response.status == 200
        await slack.wait_for("response_url", timeout=10)

        update = await slack.wait_for("chat.update", timeout=10)
        assert update.args["ts"] == incident.slack_ts
        assert update.args["text"].startswith("[OWNED]")
        assert any(
            f"Owned by <@{ALICE}>" in b.get("text", {}).get("text", "")
            for b in update.args["blocks"]
        )
        async with database.transaction() as session:
            owned = await session.get(Incident, incident.id)
        assert owned is not None and owned.owner_slack_id == ALICE
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker, 5)
        await asyncio.to_thread(am.stop)
        await server.close()
