""" "Page this person now": a responder asks for someone who can do a runbook step.

A `dm` outbox row with the page template (and its Acknowledge button) plus a
`notified` event, in one transaction. Pages never change ownership.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from bot.adapters.db.database import DatabaseUnavailable
from bot.adapters.db.tables import Incident
from bot.core.actors import Actor
from bot.incident_events import add_event
from bot.service.outbox_rows import enqueue
from bot.service.runbook_check import CheckDeps


def parse_value(value: str) -> tuple[int, str] | None:
    """`"<incident_id>:<person>"` from the button."""
    incident, sep, person = value.partition(":")
    if not sep or not incident.isdigit() or not person:
        return None
    return int(incident), person


async def page_person(deps: CheckDeps, incident_id: int, person: str, actor: Actor) -> str:
    """Enqueue the page; the answer is shown to the person who clicked."""
    config_person = deps.config.people.get(person)
    if config_person is None or not config_person.slack:
        return f"Cannot page {person}: they have no Slack id in the config."
    now = deps.clock.now()
    minute = int(now.timestamp()) // 60
    try:
        async with deps.db.transaction() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None:
                return f"There is no incident #{incident_id}."
            if incident.status == "resolved":
                return f"Incident #{incident_id} is already resolved; nobody was paged."
            step, loop = max(incident.esc_step, 1), incident.esc_loop
            reason = (
                f"{actor.name} asked for you on #{incident_id}: you can do a runbook step "
                "the people paged so far cannot"
            )
            # one page per person per minute, however often the button is pressed
            key = f"page:{incident_id}:runbook:{person}:{minute}"
            payload = {
                "template": "page",
                "step": step,
                "loop": loop,
                "target": person,
                "reason": reason,
            }
            enqueue(session, incident, "dm", key, payload, now, channel=config_person.slack)
            add_event(
                session,
                incident,
                "notified",
                actor,
                counted=False,
                now=now,
                detail=f"paged {person} from the runbook check: {reason}",
                data={
                    "step": step,
                    "loop": loop,
                    "target": person,
                    "via": "runbook",
                    "slack_id": config_person.slack,
                },
            )
    except IntegrityError:
        return f"{person} was paged for #{incident_id} a moment ago."
    except DatabaseUnavailable:
        return "The database is unavailable right now; try again in a moment."
    wake = getattr(deps, "wake_sender", None)
    if callable(wake):
        wake()
    return f"Paging {person} for #{incident_id} now."
