"""Ownership claims made in words: an "ack" message or a ✅ reaction.

They never change an incident. A bot's or app's claim is recorded as a refused attempt
(actor kind `agent`) and answered in the thread, out loud, that the incident is still
unowned; a person's is recorded and answered privately by the listener.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.clock import iso
from bot.adapters.db.database import Database
from bot.adapters.db.tables import Incident
from bot.core import incident as core
from bot.core.ack import REASONS, Refusal
from bot.core.actors import Actor
from bot.incident_events import add_event
from bot.service.outbox_rows import enqueue

MAX_CHANNEL_INCIDENTS = 5
_ID_RE = re.compile(r"(?:#|\binc-|\bincident\s+#?)(\d{1,10})\b", re.IGNORECASE)


async def incidents_for(
    session: AsyncSession, channel: str, thread_ts: str | None, text: str = ""
) -> list[Incident]:
    """The incidents a message in `channel` (optionally in thread `thread_ts`) is about."""
    if thread_ts:
        query = select(Incident).where(
            Incident.slack_channel == channel, Incident.slack_ts == thread_ts
        )
        found = (await session.exec(query)).first()
        if found is not None:
            return [found]
    query = (
        select(Incident)
        .where(
            Incident.status != core.RESOLVED,
            or_(Incident.slack_channel == channel, Incident.channel == channel),
        )
        .order_by(col(Incident.id).desc())
        .limit(MAX_CHANNEL_INCIDENTS)
    )
    open_here = list((await session.exec(query)).all())
    named = {int(m) for m in _ID_RE.findall(text or "")}
    picked = [i for i in open_here if i.id in named]
    return picked or open_here


async def incident_for_item(session: AsyncSession, channel: str, ts: str) -> Incident | None:
    """The incident whose message is `ts` (reactions only count on the message itself)."""
    query = select(Incident).where(Incident.slack_channel == channel, Incident.slack_ts == ts)
    return (await session.exec(query)).first()


async def record_claim(
    db: Database,
    actor: Actor,
    *,
    channel: str,
    ts: str,
    thread_ts: str | None,
    text: str,
    source: str,  # message | reaction
    loud: bool,  # reply in public: anything not verified as a person
    now: datetime,
) -> list[Incident]:
    """Record a claim in words against the incidents it concerns; for anything that is not
    a verified person, queue one public reply. Returns the incidents (possibly none).
    A redelivered event (same channel and ts) changes nothing."""
    try:
        async with db.transaction() as session:
            if source == "reaction":
                one = await incident_for_item(session, channel, ts)
                incidents = [one] if one else []
            else:
                incidents = await incidents_for(session, channel, thread_ts, text)
            # a person chatting about an incident they already own is not claiming it
            incidents = [i for i in incidents if loud or i.owner_slack_id != actor.id]
            if not incidents:
                return []
            reason = REASONS[Refusal.MESSAGE]
            for incident in incidents:
                add_event(
                    session,
                    incident,
                    "ack_refused",
                    actor,
                    counted=False,
                    now=now,
                    detail=f"{source} from {actor.name} read as taking ownership; {reason}",
                    data={
                        "reason": Refusal.MESSAGE.value,
                        "via": source,
                        "text": text[:500],
                        "channel": channel,
                        "ts": ts,
                    },
                )
            if loud:
                first = incidents[0]
                in_incident_thread = thread_ts is not None and thread_ts == first.slack_ts
                reply_to = first.slack_ts if source == "reaction" or in_incident_thread else ts
                enqueue(
                    session,
                    first,
                    "thread",
                    f"claim:{channel}:{ts}:{source}:{actor.id}",
                    {
                        "template": "agent_not_owner",
                        "thread_ts": reply_to,
                        "reply_channel": channel,
                        "user": actor.id,
                        "actor_name": actor.name,
                        "kind": actor.kind.value,
                        "source": source,
                        "incidents": [i.id for i in incidents],
                        "at": iso(now),
                    },
                    now,
                    channel=channel,
                )
            return incidents
    except IntegrityError:
        return []
