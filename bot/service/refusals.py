"""Refused ownership attempts: on the record as `ack_refused`, told in the thread, and
answered to the person who tried."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.clock import iso
from bot.adapters.db.tables import Incident
from bot.core import incident as core
from bot.core.ack import Refusal, Verdict
from bot.core.actors import Actor
from bot.incident_events import add_event
from bot.service.outbox_rows import enqueue_thread


@dataclass(frozen=True)
class Outcome:
    """What happened, for the person's ephemeral answer."""

    result: str  # counted | refused | noop | not_found
    message: str
    incident_id: int | None = None
    actor: Actor | None = None
    refusal: str | None = None


async def _record_refusal(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    *,
    reason: str,
    code: str,
    verified: bool,
    via: str,
    now: datetime,
    what: str,
) -> None:
    """An `ack_refused` event, on the record and told in the thread."""
    event = add_event(
        session,
        incident,
        "ack_refused",
        actor,
        counted=False,
        now=now,
        detail=f"{what} via {via} refused: {reason}",
        data={"reason": code, "via": via, "action": what, "verified": verified},
    )
    await session.flush()
    enqueue_thread(
        session,
        incident,
        event,
        "ack_refused",
        now,
        user=actor.id,
        kind=actor.kind.value,
        reason=reason,
        via=via,
        action=what,
        at=iso(now),
    )


async def refused(
    session: AsyncSession,
    incident: Incident,
    verdict: Verdict,
    via: str,
    now: datetime,
    what: str,
) -> Outcome:
    assert verdict.refusal is not None
    await _record_refusal(
        session,
        incident,
        verdict.actor,
        reason=verdict.reason,
        code=verdict.refusal.value,
        verified=verdict.refusal is not Refusal.UNVERIFIED,
        via=via,
        now=now,
        what=what,
    )
    return Outcome(
        "refused",
        f"Not counted: {verdict.reason}. Incident #{incident.id} is {_state_words(incident)}.",
        incident.id,
        verdict.actor,
        verdict.refusal.value,
    )


async def blocked(
    session: AsyncSession,
    incident: Incident,
    verdict: Verdict,
    decision: core.Refused,
    via: str,
    now: datetime,
    what: str,
) -> Outcome:
    """A person asked for something the incident's state does not allow."""
    if decision.code is core.Blocked.OWNED_BY_OTHER:
        # somebody tried to take an owned incident: a refused attempt, on the record
        await _record_refusal(
            session,
            incident,
            verdict.actor,
            reason=decision.message,
            code=decision.code.value,
            verified=True,
            via=via,
            now=now,
            what=what,
        )
        return Outcome(
            "refused",
            f"Incident #{incident.id}: {decision.message}.",
            incident.id,
            verdict.actor,
            decision.code.value,
        )
    return Outcome(
        "noop",
        f"Incident #{incident.id}: {decision.message}.",
        incident.id,
        verdict.actor,
        decision.code.value,
    )


def _state_words(incident: Incident) -> str:
    if incident.status == core.RESOLVED:
        return "resolved"
    if incident.owner_slack_id:
        return f"owned by <@{incident.owner_slack_id}>"
    return "still UNOWNED and escalating"
