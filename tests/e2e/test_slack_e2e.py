"""The whole product as deployed: a real Alertmanager and `nightshift serve` with Slack on,
Slack's Web API faked at its HTTP boundary. Alert -> incident message -> page -> a bot's
"Acknowledged" refused out loud -> a person's signed button click -> owner -> message updated.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from tests.e2e.conftest import E2E_API_TOKEN, E2E_TOKEN, repo_config
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_signing import SECRET, block_action, event_callback, signed_headers
from tests.slack.harness import eventually
from tests.support.processes import AlertmanagerProcess, ServeProcess, http_json

ALICE = "U0ALICE001"
GRAFANA_BOT = "U0GRAFANA1"


async def incident(bot: ServeProcess, incident_id: int) -> dict[str, Any]:
    status, body = await asyncio.to_thread(
        http_json, f"{bot.url}/api/incidents/{incident_id}", token=E2E_API_TOKEN
    )
    assert status == 200, body
    result: dict[str, Any] = body
    return result


async def signed_post(bot: ServeProcess, body: str, content_type: str) -> int:
    headers = {**signed_headers(body), "Content-Type": content_type}
    async with ClientSession() as http:
        response = await http.post(f"{bot.url}/slack/events", data=body.encode(), headers=headers)
        return response.status


async def test_alert_to_owned_incident_through_serve(
    alertmanager_bin: str,
    serve_env: dict[str, str],
    tmp_path: Path,
    processes: list[Any],
) -> None:
    async with FakeSlack() as slack:
        env = {
            **serve_env,
            "SLACK_BOT_TOKEN": "xoxb-e2e",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.url,
        }
        bot = ServeProcess(env, repo_config(), tmp_path)
        processes.append(await asyncio.to_thread(bot.start))
        am = AlertmanagerProcess(
            alertmanager_bin, tmp_path, bot.url + "/alerts/alertmanager", E2E_TOKEN
        )
        processes.append(await asyncio.to_thread(am.start))
        alert = {
            "labels": {
                "alertname": "HighErrorRate",
                "service": "checkout-api",
                "severity": "critical",
            },
            "annotations": {"summary": "5xx above 5%"},
            "startsAt": "2026-11-22T01:00:00Z",
        }
        await asyncio.to_thread(am.post_alerts, [alert])

        # the incident message lands in the route's channel, UNOWNED, with the buttons
        async def incident_message() -> Any:
            return next(
                (
                    c
                    for c in slack.calls_to("chat.postMessage")
                    if c.args["channel"] == "C0CHECKOUT" and "thread_ts" not in c.args
                ),
                None,
            )

        post = await eventually(incident_message)
        assert post.args["text"].startswith("[UNOWNED]")
        [ack_button] = [
            e
            for b in post.args["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == "incident_ack"
        ]
        incident_id = int(ack_button["value"])
        ts = next(ts for (channel, ts) in slack.messages if channel == "C0CHECKOUT")

        # step 1 pages whoever is on call by DM, one `notified` event per target
        await slack.wait_for("conversations.open", timeout=10)
        paged = await incident(bot, incident_id)
        [notified] = [e for e in paged["events"] if e["type"] == "notified"]
        assert (notified["step"], notified["loop"]) == (1, 0)
        assert notified["target"] in ("alice", "bob")

        # another app's bot says "Acknowledged" in the thread: not counted, said out loud
        bot_message = event_callback(
            {
                "type": "message",
                "channel": "C0CHECKOUT",
                "user": GRAFANA_BOT,
                "bot_id": "B0GRAFANA1",
                "app_id": "A0GRAFANA1",
                "text": "Acknowledged.",
                "ts": "1795310005.000200",
                "thread_ts": ts,
            }
        )
        assert await signed_post(bot, bot_message, "application/json") == 200

        async def agent_told() -> Any:
            return next(
                (
                    c
                    for c in slack.calls_to("chat.postMessage")
                    if c.args.get("thread_ts") == ts
                    and "UNOWNED" in c.args["text"]
                    and "not a person" in c.args["text"]
                ),
                None,
            )

        await eventually(agent_told)
        refused = await incident(bot, incident_id)
        assert refused["owner"] is None and refused["status"] == "triggered"
        assert [e["actor"]["kind"] for e in refused["events"] if e["type"] == "ack_refused"] == [
            "agent"
        ]

        # a person presses Acknowledge: counted, and the message is updated in place
        click = block_action(
            "incident_ack",
            str(incident_id),
            user_id=ALICE,
            channel_id="C0CHECKOUT",
            message_ts=ts,
            response_url=slack.response_url(),
        )
        assert await signed_post(bot, click, "application/x-www-form-urlencoded") == 200

        async def owned() -> Any:
            body = await incident(bot, incident_id)
            return body if body["owner"] else None

        body = await eventually(owned)
        assert body["owner"] == {"slack_user_id": ALICE, "name": "alice"}
        assert body["status"] == "acknowledged"
        [counted] = [e for e in body["events"] if e["type"] == "acknowledged"]
        assert counted["counted"] is True and counted["actor"]["kind"] == "human"

        async def updated() -> Any:
            return next(
                (
                    c
                    for c in slack.calls_to("chat.update")
                    if c.args["ts"] == ts and c.args["text"].startswith("[OWNED]")
                ),
                None,
            )

        await eventually(updated)

        # a forged click changes nothing
        forged = block_action(
            "incident_resolve",
            str(incident_id),
            user_id=ALICE,
            channel_id="C0CHECKOUT",
            message_ts=ts,
        )
        headers = {
            **signed_headers(forged, secret="wrong-secret"),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        async with ClientSession() as http:
            response = await http.post(
                f"{bot.url}/slack/events", data=forged.encode(), headers=headers
            )
            assert response.status == 401
        assert (await incident(bot, incident_id))["status"] == "acknowledged"
