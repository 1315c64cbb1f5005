"""`/runbook ID [INCIDENT]`, `/runbook audit [DAYS]` and the "page this person now" button."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.app.async_app import AsyncApp

from bot.adapters.db.database import DatabaseUnavailable
from bot.adapters.db.tables import Incident
from bot.adapters.runbooks import Placeholders, render
from bot.adapters.slack.deps import SlackDeps
from bot.adapters.slack.render import Message, Renderer, escape
from bot.core.ack import actor_for
from bot.core.incident import parse_incident_id
from bot.core.runbook import Verdict, check_step
from bot.service.audit_job import audit_for_slack
from bot.service.runbook_check import PAGE_ACTION, services
from bot.service.runbook_page import page_person, parse_value

log = logging.getLogger(__name__)

HELP = """*nightshift* — `/runbook` commands:
• `/runbook ID` — the runbook's steps, each marked with whether *you* can do it
• `/runbook ID INCIDENT` — the same, rendered with that incident's labels
• `/runbook audit [DAYS]` — who on call in the next DAYS (default 7) cannot do which step"""


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.command("/runbook")
    async def on_runbook(ack: Any, command: dict[str, Any], respond: Any) -> None:
        words = str(command.get("text") or "").split()
        user_id = str(command.get("user_id", ""))
        if not words or words[0].lower() in ("help", "-h", "--help"):
            await ack(response_type="ephemeral", text=HELP)
            return
        if words[0].lower() == "audit":
            days = _days(words[1:])
            if days is None:
                await ack(response_type="ephemeral", text="Usage: `/runbook audit [DAYS]`")
                return
            await ack(response_type="ephemeral", text="Running the runbook access audit…")
            await _respond(respond, lambda: _audit(deps, days))
            return
        incident_id = parse_incident_id(words[1]) if len(words) == 2 else None
        if len(words) > 2 or (len(words) == 2 and incident_id is None):
            await ack(response_type="ephemeral", text=f"Usage: `/runbook ID [INCIDENT]`\n\n{HELP}")
            return
        await ack()
        await _respond(respond, lambda: view(deps, words[0], user_id, incident_id))

    @app.action(PAGE_ACTION)
    async def on_page(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        user_id = str((body.get("user") or {}).get("id", ""))
        parsed = parse_value(str(action.get("value", "")))
        if parsed is None:
            text = "This button does not name an incident and a person."
        else:
            actor = actor_for(user_id, await deps.identity.lookup(user_id))
            text = await page_person(deps, parsed[0], parsed[1], actor)
        await _respond(respond, lambda: _text(text), replace_original=False)


def _days(words: list[str]) -> float | None:
    if not words:
        return 7.0
    try:
        days = float(words[0])
    except ValueError:
        return None
    return days if 0 < days <= 90 and len(words) == 1 else None


async def _text(text: str) -> Message:
    return Message(text=text)


async def _audit(deps: SlackDeps, days: float) -> Message:
    _report, text = await audit_for_slack(deps, days)
    return Message(text=text)


async def _respond(respond: Any, work: Any, **extra: Any) -> None:
    try:
        message = await work()
    except DatabaseUnavailable:
        message = Message(text="The database is unavailable right now; try again in a moment.")
    try:
        kwargs: dict[str, Any] = {"text": message.text, "response_type": "ephemeral", **extra}
        if message.blocks:
            kwargs["blocks"] = message.blocks
        await respond(**kwargs)
    except Exception:
        log.exception("could not answer /runbook")


async def view(
    deps: SlackDeps, runbook_id: str, user_id: str, incident_id: int | None = None
) -> Message:
    """The runbook with the caller's own verdict per step."""
    directory, library = services(deps)
    runbook = library.get(runbook_id)
    if runbook is None:
        known = ", ".join(f"`{escape(r.id)}`" for r in library.all()) or "none"
        return Message(text=f"No runbook `{escape(runbook_id)}`. Known runbooks: {known}.")
    labels: Mapping[str, str] = Placeholders("labels")
    annotations: Mapping[str, str] = Placeholders("annotations")
    if incident_id is not None:
        async with deps.db.transaction() as session:
            incident = await session.get(Incident, incident_id)
        if incident is None:
            return Message(text=f"There is no incident #{incident_id}.")
        # values are escaped: a label must not become a Slack link or mention
        labels = {k: escape(v) for k, v in incident.labels.items()}
        annotations = {k: escape(v) for k, v in incident.annotations.items()}
    person = deps.config.person_by_slack(user_id)
    error: str | None = None
    grants: frozenset[str] | None = None
    if person is not None:
        answer = await directory.grants(person, runbook.required_grants())
        grants, error = answer.granted, answer.error
    steps = []
    for step in runbook.steps:
        verdict = check_step(step, grants)
        body = render(step.body, labels, annotations)
        steps.append(
            {
                "number": step.number,
                "title": step.title,
                "requires": step.requires,
                "verdict": verdict.verdict.value,
                "missing": verdict.missing,
                "body": body,
            }
        )
    intro = render(runbook.intro, labels, annotations)
    renderer = Renderer(deps.config)
    rendered = renderer.env.get_template("runbook_view.json.j2").render(
        rb=runbook,
        incident_id=incident_id,
        person=person,
        error=error,
        cannot=sum(1 for s in steps if s["verdict"] != Verdict.CAN.value),
        steps=steps,
        intro=intro,
    )
    cannot = sum(1 for s in steps if s["verdict"] == Verdict.CANNOT.value)
    text = f"Runbook {runbook.id}: " + (
        f"you cannot do {cannot} step(s)" if cannot else "your access per step"
    )
    return Message(text=text, blocks=json.loads(rendered)[:50])
