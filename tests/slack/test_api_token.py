"""An API token's acknowledgement is recorded, answered 409, and never counted."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.adapters.api import IncidentApi
from bot.adapters.api_tokens import ApiToken
from tests.fakes.slack_signing import block_action
from tests.slack.harness import ALICE, Harness


async def test_api_token_ack_is_never_counted(harness: Harness) -> None:
    api = IncidentApi(harness.db, harness.clock, [ApiToken("triage", "agent", "s3cret")])
    app = web.Application()
    app.add_routes(api.routes())
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as http:
        incident = await harness.incident()
        response = await http.post(
            f"/api/incidents/{incident.id}/ack", headers={"Authorization": "Bearer s3cret"}
        )
        assert response.status == 409
        assert (await response.json())["counted"] is False
    after = await harness.get(incident.id or 0)
    assert after.status == "triggered" and after.owner_slack_id is None
    [event] = await harness.events(incident.id or 0, "ack_refused")
    assert event.actor_kind == "agent" and not event.counted

    # the thread says so, and the incident message still says UNOWNED
    await harness.sender.drain_once(harness.clock.now())
    [reply] = harness.slack.calls_to("chat.postMessage")
    assert reply.args["thread_ts"] == after.slack_ts and "still UNOWNED" in reply.args["text"]

    # a person pressing the button afterwards still owns it
    body = block_action(
        "incident_ack", str(incident.id), user_id=ALICE, response_url=harness.slack.response_url()
    )
    assert (await harness.post(body))[0] == 200
    await harness.slack.wait_for("response_url")
    assert (await harness.get(incident.id or 0)).owner_slack_id == ALICE
