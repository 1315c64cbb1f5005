"""The shared path of every ownership request from Slack (button or command):
verify the person with users.info, let the service decide, count it, wake the workers."""

from __future__ import annotations

import logging

from bot.adapters.db.database import DatabaseUnavailable
from bot.adapters.slack.deps import SlackDeps
from bot.service import ownership
from bot.service.refusals import Outcome

log = logging.getLogger(__name__)

UNAVAILABLE = "nightshift cannot reach its database right now; nothing changed. Try again."


async def run(deps: SlackDeps, action: str, incident_id: int, user_id: str, via: str) -> Outcome:
    """`action` is ack | resolve | unack."""
    facts = await deps.identity.lookup(user_id)
    now = deps.clock.now()
    try:
        if action == "ack":
            outcome = await ownership.acknowledge(
                deps.db, deps.config, incident_id, user_id, facts, via, now
            )
        elif action == "resolve":
            outcome = await ownership.resolve(
                deps.db, deps.config, incident_id, user_id, facts, via, now
            )
        else:
            outcome = await ownership.hand_back(
                deps.db, deps.config, incident_id, user_id, facts, now
            )
    except DatabaseUnavailable:
        log.exception("%s of incident %s by %s: database unavailable", action, incident_id, user_id)
        return Outcome("unavailable", UNAVAILABLE, incident_id)
    kind = outcome.actor.kind.value if outcome.actor else "unknown"
    deps.metrics.acks.labels(f"{action}:{outcome.result}", kind).inc()
    if outcome.result == "refused":
        log.warning(
            "incident %s: %s by %s (%s) refused: %s",
            incident_id,
            action,
            user_id,
            kind,
            outcome.refusal,
        )
    if outcome.result in ("counted", "refused"):
        deps.wake_sender()
        if outcome.result == "counted":
            deps.wake_engine()
    return outcome
