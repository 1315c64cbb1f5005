"""Messages and reactions in incident channels and threads. They never change an
incident. A bot or app that writes something reading like "Acknowledged" gets a public
thread reply saying it is not a person and the incident is still UNOWNED; a person who
types "ack" gets a private hint to press the button."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.app.async_app import AsyncApp

from bot.adapters.db.database import DatabaseUnavailable
from bot.adapters.db.tables import Incident
from bot.adapters.slack.deps import SlackDeps
from bot.core.ack import reaction_reads_like_ownership, reads_like_ownership
from bot.core.actors import Actor, ActorKind
from bot.service.claims import record_claim

log = logging.getLogger(__name__)

# message subtypes that carry something someone wrote (edits, joins and deletes do not)
WRITTEN = {None, "bot_message", "thread_broadcast", "file_share", "me_message"}


def message_text(event: dict[str, Any]) -> str:
    parts = [str(event.get("text") or "")]
    for attachment in event.get("attachments") or []:
        if isinstance(attachment, dict):
            parts += [str(attachment.get(k) or "") for k in ("pretext", "title", "text")]
    return "\n".join(p for p in parts if p)


def hint(incidents: list[Incident], source: str) -> str:
    ids = ", ".join(f"#{i.id}" for i in incidents)
    what = "A reaction" if source == "reaction" else "A message"
    return (
        f"{what} does not acknowledge {ids}. To own it, press *Acknowledge* on the "
        f"incident message or run `/incident ack {incidents[0].id}`."
    )


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def who(user: str | None, bot_id: str | None, name: str | None) -> tuple[Actor, bool]:
        """The actor and whether it is a verified person."""
        if bot_id:
            return Actor(ActorKind.AGENT, user or bot_id, name or bot_id), False
        facts = await deps.identity.lookup(user or "")
        if facts is None:
            return Actor(ActorKind.HUMAN, user or "unknown", user or "unknown"), False
        if facts.is_agent:
            return Actor(ActorKind.AGENT, facts.id, facts.name), False
        return Actor(ActorKind.HUMAN, facts.id, facts.name), True

    async def handle(
        actor: Actor,
        person: bool,
        *,
        channel: str,
        ts: str,
        thread_ts: str | None,
        text: str,
        source: str,
        client: Any,
    ) -> None:
        try:
            incidents = await record_claim(
                deps.db,
                actor,
                channel=channel,
                ts=ts,
                thread_ts=thread_ts,
                text=text,
                source=source,
                loud=not person,
                now=deps.clock.now(),
            )
        except DatabaseUnavailable:
            log.exception("could not record a %s claim in %s", source, channel)
            return
        if not incidents:
            return
        deps.metrics.acks.labels(f"{source}:refused", actor.kind.value).inc()
        log.warning(
            "incident(s) %s: %s by %s (%s) reads like taking ownership; not counted",
            [i.id for i in incidents],
            source,
            actor.name,
            actor.kind.value,
        )
        if not person:
            deps.wake_sender()
            return
        try:
            await client.chat_postEphemeral(
                channel=channel,
                user=actor.id,
                text=hint(incidents, source),
                **({"thread_ts": thread_ts} if thread_ts else {}),
            )
        except Exception:
            log.exception("could not send the acknowledge hint to %s", actor.id)

    @app.event("message")
    async def on_message(event: dict[str, Any], context: Any, client: Any) -> None:
        if event.get("subtype") not in WRITTEN:
            return
        bot_id = event.get("bot_id")
        user = event.get("user")
        if (bot_id and bot_id == context.get("bot_id")) or (
            user and user == (context.get("bot_user_id") or deps.bot_user_id)
        ):
            return  # our own messages
        text = message_text(event)
        if not reads_like_ownership(text):
            return
        if event.get("subtype") == "bot_message" and not bot_id:
            bot_id = "bot_message"
        profile = event.get("bot_profile") or {}
        actor, person = await who(user, bot_id, profile.get("name") or event.get("username"))
        await handle(
            actor,
            person,
            channel=str(event.get("channel")),
            ts=str(event.get("ts")),
            thread_ts=event.get("thread_ts"),
            text=text,
            source="message",
            client=client,
        )

    @app.event("reaction_added")
    async def on_reaction(event: dict[str, Any], context: Any, client: Any) -> None:
        item = event.get("item") or {}
        reaction = str(event.get("reaction") or "")
        if item.get("type") != "message" or not reaction_reads_like_ownership(reaction):
            return
        user = event.get("user")
        if user and user == (context.get("bot_user_id") or deps.bot_user_id):
            return
        actor, person = await who(user, None, None)
        await handle(
            actor,
            person,
            channel=str(item.get("channel")),
            ts=str(item.get("ts")),
            thread_ts=None,
            text=f":{reaction}:",
            source="reaction",
            client=client,
        )
