"""`/incident list|show|ack|resolve|unack|escalate|help`. Answers are ephemeral; the
request is acknowledged first and the work done after, inside Slack's 3 seconds."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from sqlmodel import col, select

from bot.adapters.db.clock import from_db
from bot.adapters.db.database import DatabaseUnavailable
from bot.adapters.db.tables import Event, Incident
from bot.adapters.slack import ownership_flow
from bot.adapters.slack.deps import SlackDeps
from bot.adapters.slack.render import Renderer, escape, slack_date
from bot.adapters.slack.views import load_views
from bot.core.ack import actor_for
from bot.core.incident import RESOLVED, parse_incident_id
from bot.service import escalation
from bot.service.outbox_rows import load_for_update

log = logging.getLogger(__name__)

HELP = """*nightshift* — `/incident` commands:
• `/incident list` — open incidents, newest first
• `/incident show ID` — one incident: owner, escalation, recent timeline
• `/incident ack ID` — take ownership (only a person counts: bots, API tokens,\
 messages and reactions never do)
• `/incident unack ID` — hand ownership back; escalation resumes
• `/incident resolve ID` — resolve it
• `/incident escalate ID` — page the next escalation step now
• `/incident help` — this text
Also: `/oncall [schedule]`, `/runbook ID|audit`."""

WITH_ID = ("show", "ack", "resolve", "unack", "escalate")
LIST_LIMIT = 15


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.command("/incident")
    async def on_incident(ack: Any, command: dict[str, Any], respond: Any) -> None:
        words = str(command.get("text") or "").split()
        sub = words[0].lower() if words else "help"
        if sub in ("help", "-h", "--help"):
            await ack(response_type="ephemeral", text=HELP)
            return
        if sub == "list":
            if len(words) != 1:
                await ack(response_type="ephemeral", text="Usage: `/incident list`")
                return
            await ack()
            await _answer(respond, lambda: list_incidents(deps))
            return
        if sub not in WITH_ID:
            await ack(
                response_type="ephemeral", text=f"Unknown subcommand `{escape(sub)}`.\n\n{HELP}"
            )
            return
        incident_id = parse_incident_id(words[1]) if len(words) == 2 else None
        if incident_id is None:
            await ack(
                response_type="ephemeral",
                text=f"Usage: `/incident {sub} ID` (for example `/incident {sub} 42`)",
            )
            return
        await ack()
        user_id = str(command.get("user_id", ""))
        if sub == "show":
            await _answer(respond, lambda: show_incident(deps, incident_id))
        elif sub == "escalate":
            await _answer(respond, lambda: escalate(deps, incident_id, user_id))
        else:

            async def run() -> str:
                outcome = await ownership_flow.run(deps, sub, incident_id, user_id, "command")
                return outcome.message

            await _answer(respond, run)


async def _answer(respond: Any, work: Any) -> None:
    try:
        text = await work()
    except DatabaseUnavailable:
        text = ownership_flow.UNAVAILABLE
    try:
        await respond(text=text, response_type="ephemeral")
    except Exception:
        log.exception("could not answer a slash command")


async def list_incidents(deps: SlackDeps) -> str:
    async with deps.db.transaction() as session:
        rows = await session.exec(
            select(Incident.id)
            .where(Incident.status != RESOLVED)
            .order_by(col(Incident.id).desc())
            .limit(LIST_LIMIT + 1)
        )
        ids = [i for i in rows.all() if i is not None]
        views = await load_views(session, ids[:LIST_LIMIT])
    if not views:
        return "No open incidents."
    renderer = Renderer(deps.config)
    lines = [f"*Open incidents* ({len(views)}{'+' if len(ids) > LIST_LIMIT else ''}):"]
    for v in views:
        sev = f" ({escape(v.severity)})" if v.severity else ""
        lines.append(f"• *#{v.id}* {escape(v.title)}{sev}\n   {renderer.status_line(v)}")
    return "\n".join(lines)


async def show_incident(deps: SlackDeps, incident_id: int) -> str:
    async with deps.db.transaction() as session:
        views = await load_views(session, [incident_id])
        events = (
            await session.exec(
                select(Event)
                .where(Event.incident_id == incident_id)
                .order_by(col(Event.id).desc())
                .limit(8)
            )
        ).all()
    if not views:
        return f"There is no incident #{incident_id}."
    v = views[0]
    renderer = Renderer(deps.config)
    labels = " ".join(f"`{escape(k)}={escape(val)}`" for k, val in sorted(v.labels.items()))
    lines = [
        f"*#{v.id} {escape(v.title)}* — {v.status}"
        + (f", severity {escape(v.severity)}" if v.severity else ""),
        renderer.status_line(v),
        f"Alerts: {v.firing} firing, {v.resolved_alerts} resolved"
        + (f" (+{v.truncated} not shown)" if v.truncated else ""),
        f"Labels: {labels}" if labels else "",
        f"Runbook: `{escape(v.runbook_id)}`" if v.runbook_id else "",
        "*Recent timeline:*",
    ]
    for e in reversed(events):
        counted = "" if e.counted else " _(not counted)_"
        lines.append(
            f"• {slack_date(from_db(e.at))} `{e.type}` {escape(e.actor_name)} "
            f"({e.actor_kind}){counted}: {escape(e.detail)[:200]}"
        )
    return "\n".join(line for line in lines if line)


async def escalate(deps: SlackDeps, incident_id: int, user_id: str) -> str:
    """Page the next step now (the escalation service decides what that is)."""
    facts = await deps.identity.lookup(user_id)
    actor = actor_for(user_id, facts)
    now = deps.clock.now()
    try:
        async with deps.db.transaction() as session:
            incident = await load_for_update(session, deps.db, incident_id)
            if incident is None:
                return f"There is no incident #{incident_id}."
            if incident.status == RESOLVED:
                return f"Incident #{incident_id} is already resolved."
            if not incident.policy_snapshot:
                return f"Incident #{incident_id} has no escalation policy: nobody to page."
            await escalation.escalate_now(session, incident, deps.config, actor, now)
    except DatabaseUnavailable:
        return ownership_flow.UNAVAILABLE
    deps.wake_sender()
    deps.wake_engine()
    return f"Escalating incident #{incident_id}: the next step is being paged now."


async def runbook_answer(deps: SlackDeps, incident_id: int) -> str:
    async with deps.db.transaction() as session:
        incident = await session.get(Incident, incident_id)
    if incident is None:
        return f"There is no incident #{incident_id}."
    url = incident.annotations.get("runbook_url")
    if incident.runbook_id:
        text = (
            f"Runbook for #{incident_id}: `{escape(incident.runbook_id)}` — "
            f"`/runbook {escape(incident.runbook_id)}` shows its steps."
        )
        return text + (f" <{url}|Open it>" if url else "")
    if url:
        return f"Runbook for #{incident_id}: <{url}>"
    return f"No runbook matches incident #{incident_id}."
