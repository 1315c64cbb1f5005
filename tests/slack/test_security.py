"""Only fresh, correctly signed, never-seen requests reach a listener."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.fakes.slack_signing import (
    SECRET,
    block_action,
    event_callback,
    signature,
    signed_headers,
)
from tests.slack.harness import ALICE, Harness

REQUESTS = Path("/work/shared/fixtures/slack/requests")
EVENTS = Path("/work/shared/fixtures/slack/events")


def test_signing_helper_matches_the_known_answer_vector() -> None:
    vector = json.loads((REQUESTS / "signing-vector.json").read_text())
    body = (REQUESTS / "slash-command.form").read_bytes()
    got = signature(body, vector["signing_secret"], vector["x_slack_request_timestamp"])
    assert got == vector["x_slack_signature"]


async def unchanged(h: Harness, incident_id: int) -> None:
    after = await h.get(incident_id)
    assert after.status == "triggered" and after.owner_slack_id is None
    assert await h.events(incident_id) == []
    assert h.slack.calls_to("users.info") == []


async def test_stale_signature_is_refused(harness: Harness) -> None:
    incident = await harness.incident()
    body = block_action("incident_ack", str(incident.id), user_id=ALICE)
    stale = signed_headers(body, timestamp=int(time.time()) - 301)
    status, _ = await harness.post(body, stale)
    assert status == 401
    future = signed_headers(body, timestamp=int(time.time()) + 301)
    status, _ = await harness.post(body, future)
    assert status == 401
    await unchanged(harness, incident.id or 0)


async def test_forged_or_unsigned_request_is_refused(harness: Harness) -> None:
    incident = await harness.incident()
    body = block_action("incident_ack", str(incident.id), user_id=ALICE)
    status, _ = await harness.post(body, signed_headers(body, "not-the-secret"))
    assert status == 401
    status, _ = await harness.post(body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 401
    tampered = block_action("incident_ack", str(incident.id), user_id="U0MALLORY1")
    status, _ = await harness.post(tampered, signed_headers(body))
    assert status == 401
    await unchanged(harness, incident.id or 0)
    assert harness.metrics.requests_refused.labels("replay")._value.get() == 0


async def test_replayed_request_is_refused(harness: Harness) -> None:
    first = await harness.incident()
    body = block_action(
        "incident_resolve", str(first.id), user_id=ALICE, response_url=harness.slack.response_url()
    )
    headers = signed_headers(body, SECRET)
    status, _ = await harness.post(body, headers)
    assert status == 200
    await harness.slack.wait_for("response_url")
    assert (await harness.get(first.id or 0)).status == "resolved"
    # the same bytes and signature again, inside the five minutes
    status, answer = await harness.post(body, headers)
    assert status == 401 and "invalid request" in answer
    assert harness.metrics.requests_refused.labels("replay")._value.get() == 1
    assert len(await harness.events(first.id or 0, "resolved")) == 1


async def test_replay_guard_is_shared_between_replicas(harness: Harness) -> None:
    """A second app (another replica) on the same database refuses what the first saw."""
    from tests.slack.harness import Harness as Replica
    from tests.slack.harness import make_config

    other = await Replica(harness.db, harness.slack, make_config()).start()
    try:
        body = event_callback(
            {
                "type": "message",
                "channel": "C0OTHER001",
                "user": ALICE,
                "text": "hello",
                "ts": "1795310000.000001",
            }
        )
        headers = signed_headers(body)
        assert (await harness.post(body, headers))[0] == 200
        assert (await other.post(body, headers))[0] == 401
    finally:
        await other.close()


async def test_url_verification_is_answered(harness: Harness) -> None:
    body = (EVENTS / "url-verification.json").read_text()
    status, answer = await harness.post(body)
    assert status == 200
    assert json.loads(answer)["challenge"] == json.loads(body)["challenge"]
