"""Incident message buttons: action_id -> the incident id in `value`."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.app.async_app import AsyncApp

from bot.adapters.slack import ownership_flow
from bot.adapters.slack.commands_incident import escalate, runbook_answer
from bot.adapters.slack.deps import SlackDeps
from bot.core.incident import parse_incident_id

log = logging.getLogger(__name__)

ACK, RESOLVE, ESCALATE, RUNBOOK = (
    "incident_ack",
    "incident_resolve",
    "incident_escalate",
    "incident_runbook",
)


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def answer(respond: Any, text: str) -> None:
        try:
            await respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception:  # the click was handled; a lost ephemeral note is only logged
            log.exception("could not answer a button click")

    def target(body: dict[str, Any]) -> tuple[int | None, str, str]:
        action = (body.get("actions") or [{}])[0]
        user_id = str((body.get("user") or {}).get("id", ""))
        channel = str((body.get("channel") or {}).get("id", ""))
        via = "DM button" if channel.startswith("D") else "button"
        return parse_incident_id(str(action.get("value", ""))), user_id, via

    async def ownership_click(name: str, ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        incident_id, user_id, via = target(body)
        if incident_id is None:
            await answer(respond, "This button does not name an incident.")
            return
        outcome = await ownership_flow.run(deps, name, incident_id, user_id, via)
        await answer(respond, outcome.message)

    @app.action(ACK)
    async def on_ack(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ownership_click("ack", ack, body, respond)

    @app.action(RESOLVE)
    async def on_resolve(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ownership_click("resolve", ack, body, respond)

    @app.action(ESCALATE)
    async def on_escalate(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        incident_id, user_id, _via = target(body)
        if incident_id is None:
            await answer(respond, "This button does not name an incident.")
            return
        await answer(respond, await escalate(deps, incident_id, user_id))

    @app.action(RUNBOOK)
    async def on_runbook(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        incident_id, _user, _via = target(body)
        if incident_id is None:
            await answer(respond, "This button does not name an incident.")
            return
        await answer(respond, await runbook_answer(deps, incident_id))
