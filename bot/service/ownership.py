"""Ownership changes from Slack: load the incident, let the core decide, then write the
state, its events and its outbox rows in ONE transaction. No Slack call in here."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.clock import iso, to_db
from bot.adapters.db.database import Database
from bot.adapters.db.tables import Incident
from bot.config import Config
from bot.core import incident as core
from bot.core.ack import UserFacts, Verdict, judge_person
from bot.core.escalation import policy_from_snapshot
from bot.incident_events import add_event
from bot.service.outbox_rows import enqueue, enqueue_thread, enqueue_update, load_for_update
from bot.service.refusals import Outcome, blocked, refused
from bot.service.responders import responders


def _ownership(incident: Incident) -> core.Ownership:
    return core.Ownership(incident.status, incident.owner_slack_id, incident.owner_name)


async def _verdict(
    session: AsyncSession,
    config: Config,
    incident: Incident,
    user_id: str,
    facts: UserFacts | None,
    now: datetime,
) -> Verdict:
    people: Collection[str] | None = None
    if config.ack.who == "responders":
        people = await responders(session, config, incident, now)
    return judge_person(user_id, facts, allow_guests=config.ack.allow_guests, responders=people)


async def _judged(
    session: AsyncSession,
    db: Database,
    config: Config,
    incident_id: int,
    user_id: str,
    facts: UserFacts | None,
    via: str,
    now: datetime,
    what: str,
) -> tuple[Incident, Verdict] | Outcome:
    """The locked incident and a counted verdict, or the answer when there is none."""
    incident = await load_for_update(session, db, incident_id)
    if incident is None:
        return Outcome("not_found", f"There is no incident #{incident_id}.")
    verdict = await _verdict(session, config, incident, user_id, facts, now)
    if not verdict.counted:
        return await refused(session, incident, verdict, via, now, what)
    return incident, verdict


async def acknowledge(
    db: Database,
    config: Config,
    incident_id: int,
    user_id: str,
    facts: UserFacts | None,
    via: str,
    now: datetime,
) -> Outcome:
    async with db.transaction() as session:
        judged = await _judged(
            session, db, config, incident_id, user_id, facts, via, now, "acknowledge"
        )
        if isinstance(judged, Outcome):
            return judged
        incident, verdict = judged
        snapshot = incident.policy_snapshot
        timeout = policy_from_snapshot(snapshot).ack_timeout if snapshot else None
        decision = core.decide_ack(
            _ownership(incident), user_id, verdict.actor.name, via, now, timeout
        )
        if isinstance(decision, core.Refused):
            return await blocked(session, incident, verdict, decision, via, now, "acknowledge")
        incident.status = core.ACKNOWLEDGED
        incident.owner_slack_id = decision.owner_slack_id
        incident.owner_name = decision.owner_name
        incident.acked_at = to_db(decision.acked_at)
        incident.acked_via = decision.via
        incident.next_due_at = to_db(decision.next_due_at) if decision.next_due_at else None
        event = add_event(
            session,
            incident,
            "acknowledged",
            verdict.actor,
            counted=True,
            now=now,
            detail=f"acknowledged by {verdict.actor.name} via {via}",
            data={"via": via, "slack_user_id": user_id},
        )
        await session.flush()
        enqueue_thread(
            session, incident, event, "acknowledged", now, user=user_id, via=via, at=iso(now)
        )
        enqueue_update(session, incident, now)
        # can the new owner actually do what the runbook says? (checked outside this txn)
        person = config.person_by_slack(user_id)
        enqueue(
            session,
            incident,
            "runbook_check",
            f"runbook_check:{incident.id}:ack:{event.id}",
            {
                "person": person.name if person else verdict.actor.name,
                "slack_id": user_id,
                "reason": "acknowledged",
            },
            now,
        )
        return Outcome(
            "counted", f"You own incident #{incident_id} now.", incident_id, verdict.actor
        )


async def hand_back(
    db: Database,
    config: Config,
    incident_id: int,
    user_id: str,
    facts: UserFacts | None,
    now: datetime,
) -> Outcome:
    async with db.transaction() as session:
        incident = await load_for_update(session, db, incident_id)
        if incident is None:
            return Outcome("not_found", f"There is no incident #{incident_id}.")
        verdict = judge_person(user_id, facts, allow_guests=True)
        decision = core.decide_unack(_ownership(incident), user_id, now)
        if isinstance(decision, core.Refused):
            return Outcome(
                "noop",
                f"Incident #{incident_id}: {decision.message}.",
                incident_id,
                verdict.actor,
                decision.code.value,
            )
        incident.status = core.TRIGGERED
        incident.owner_slack_id = None
        incident.owner_name = None
        incident.acked_at = None
        incident.acked_via = None
        incident.next_due_at = to_db(decision.next_due_at)
        event = add_event(
            session,
            incident,
            "unack",
            verdict.actor,
            counted=True,
            now=now,
            detail=f"{verdict.actor.name} handed ownership back; escalation resumes",
            data={"slack_user_id": user_id},
        )
        await session.flush()
        enqueue_thread(session, incident, event, "unack", now, user=user_id, at=iso(now))
        enqueue_update(session, incident, now)
        return Outcome(
            "counted",
            f"You handed incident #{incident_id} back; it is UNOWNED and escalation resumes.",
            incident_id,
            verdict.actor,
        )


async def resolve(
    db: Database,
    config: Config,
    incident_id: int,
    user_id: str,
    facts: UserFacts | None,
    via: str,
    now: datetime,
) -> Outcome:
    async with db.transaction() as session:
        judged = await _judged(
            session, db, config, incident_id, user_id, facts, via, now, "resolve"
        )
        if isinstance(judged, Outcome):
            return judged
        incident, verdict = judged
        decision = core.decide_resolve(_ownership(incident), now)
        if isinstance(decision, core.Refused):
            return await blocked(session, incident, verdict, decision, via, now, "resolve")
        incident.status = core.RESOLVED
        incident.resolved_at = to_db(decision.resolved_at)
        incident.next_due_at = None
        incident.open_key = None
        event = add_event(
            session,
            incident,
            "resolved",
            verdict.actor,
            counted=True,
            now=now,
            detail=f"resolved by {verdict.actor.name} via {via}",
            data={"via": via, "slack_user_id": user_id},
        )
        await session.flush()
        enqueue_thread(
            session, incident, event, "resolved", now, user=user_id, via=via, at=iso(now)
        )
        enqueue_update(session, incident, now)
        return Outcome(
            "counted", f"Incident #{incident_id} is resolved.", incident_id, verdict.actor
        )
