"""Two people press Acknowledge at the same moment: exactly one owns the incident."""

from __future__ import annotations

import asyncio

from bot.core.ack import UserFacts
from bot.service import ownership
from tests.slack.harness import ALICE, BOB, Harness


async def test_simultaneous_acks_make_one_owner(harness: Harness) -> None:
    incident = await harness.incident()
    n = incident.id or 0
    now = harness.clock.now()
    outcomes = await asyncio.gather(
        *(
            ownership.acknowledge(
                harness.db, harness.deps.config, n, user, UserFacts(user, name), "button", now
            )
            for user, name in [(ALICE, "alice"), (BOB, "bob")] * 3
        )
    )
    counted = [o for o in outcomes if o.result == "counted"]
    assert len(counted) == 1
    after = await harness.get(n)
    assert after.owner_slack_id == counted[0].actor.id  # type: ignore[union-attr]
    assert len(await harness.events(n, "acknowledged")) == 1
    # the other person's attempts are on the record as refused; the owner's repeats are no-ops
    refused = await harness.events(n, "ack_refused")
    assert refused and {e.actor_id for e in refused} == {ALICE, BOB} - {after.owner_slack_id}
    updates = await harness.outbox(n, "incident_update")
    assert len(updates) == 1
