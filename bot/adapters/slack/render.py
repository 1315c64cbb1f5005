"""Jinja2 templates -> Block Kit. The incident message, the timeline replies, pages.

Python computes what to say (owner or UNOWNED, who is paged next and when); the
templates in bot/templates/slack/ decide how it looks. Times are Slack date tokens so
every reader sees their own time zone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

from bot.config import Config
from bot.core.escalation import next_position, policy_from_snapshot
from bot.core.schedule import on_call

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "slack"
KEY_LABELS = (
    "alertname",
    "service",
    "severity",
    "env",
    "environment",
    "cluster",
    "namespace",
    "instance",
    "job",
    "team",
    "agent",
)
MAX_LABELS = 6
SEVERITY_EMOJI = {
    "critical": ":red_circle:",
    "page": ":red_circle:",
    "high": ":red_circle:",
    "warning": ":large_orange_circle:",
    "info": ":large_blue_circle:",
}


@dataclass(frozen=True)
class Message:
    text: str  # notification / fallback text
    blocks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class IncidentView:
    """Everything the incident message shows, read from the database at send time."""

    id: int
    title: str
    status: str
    severity: str | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    runbook_id: str | None
    external_url: str | None
    firing: int
    resolved_alerts: int
    truncated: int
    owner_slack_id: str | None
    owner_name: str | None
    acked_at: datetime | None  # aware
    acked_via: str | None
    opened_at: datetime
    resolved_at: datetime | None
    policy_snapshot: Mapping[str, Any]
    esc_step: int
    esc_loop: int
    next_due_at: datetime | None


def escape(text: object) -> str:
    """mrkdwn control characters, so label values cannot inject links or mentions."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_date(moment: datetime | str | None, fmt: str = "{time}") -> str:
    """`<!date^…>` renders in each reader's own zone; the fallback is UTC."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    fallback = aware.astimezone(UTC).strftime("%H:%M UTC")
    return f"<!date^{int(aware.timestamp())}^{fmt}|{fallback}>"


class Renderer:
    def __init__(self, config: Config, directory: Path = TEMPLATES) -> None:
        self.config = config
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(directory)),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["mrkdwn"] = escape
        self.env.filters["slack_date"] = slack_date
        self.env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False)

    # --- the incident message -------------------------------------------------------

    def incident(self, view: IncidentView) -> Message:
        ctx = self._incident_context(view)
        blocks = self._blocks("incident.json.j2", ctx)
        return Message(text=ctx["fallback"], blocks=blocks)

    def _incident_context(self, view: IncidentView) -> dict[str, Any]:
        labels = [(k, view.labels[k]) for k in KEY_LABELS if k in view.labels][:MAX_LABELS]
        if view.status == "resolved":
            state = "RESOLVED"
        elif view.owner_slack_id:
            state = "OWNED"
        else:
            state = "UNOWNED"
        return {
            "v": view,
            "state": state,
            "emoji": ":white_check_mark:"
            if state == "RESOLVED"
            else SEVERITY_EMOJI.get((view.severity or "").lower(), ":rotating_light:"),
            "key_labels": labels,
            "status_line": self.status_line(view),
            "runbook_url": view.annotations.get("runbook_url") or view.annotations.get("runbook"),
            "fallback": f"[{state}] #{view.id} {view.title}"
            + (f" ({view.severity})" if view.severity else ""),
        }

    def status_line(self, view: IncidentView) -> str:
        """Always says who owns it, or that it is UNOWNED and who gets paged next and when."""
        return self._render_text("status_line.md.j2", {"v": view, "next": self.next_page(view)})

    def next_page(self, view: IncidentView) -> dict[str, Any] | None:
        if view.status != "triggered" or not view.policy_snapshot:
            return None
        policy = policy_from_snapshot(dict(view.policy_snapshot))
        position = next_position(policy, view.esc_step, view.esc_loop)
        if position is None or view.next_due_at is None:
            return None
        step, loop = position
        at = view.next_due_at
        return {
            "step": step,
            "loop": loop,
            "at": at,
            "targets": [self.describe_target(t, at) for t in policy.steps[step - 1].targets],
        }

    def describe_target(self, target: str, at: datetime) -> str:
        kind, _, name = target.partition(":")
        if kind == "user":
            return self.person(name)
        if kind == "channel":
            return f"<#{name}>"
        if kind == "schedule":
            schedule = self.config.schedules.get(name)
            people = on_call(schedule, at) if schedule else ()
            who = ", ".join(self.person(p) for p in people) or "nobody"
            return f"{who} (on call for {escape(name)})"
        return escape(target)

    def person(self, name: str) -> str:
        person = self.config.people.get(name)
        return f"<@{person.slack}>" if person and person.slack else escape(name)

    # --- replies and pages ----------------------------------------------------------

    def thread(
        self, template: str, payload: Mapping[str, Any], views: Sequence[IncidentView]
    ) -> Message:
        ctx = {
            "p": payload,
            "v": views[0] if views else None,
            "views": views,
            "status_line": self.status_line,
        }
        try:
            text = self._render_text(f"thread/{template}.md.j2", ctx)
        except TemplateNotFound:
            log.warning("no thread template %r; posting its text", template)
            text = escape(payload.get("text") or f"{template}: {payload}")
        return Message(
            text=_plain(text),
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}],
        )

    def page(self, template: str, payload: Mapping[str, Any], view: IncidentView) -> Message:
        ctx = self._incident_context(view)
        ctx["p"] = payload
        blocks = self._blocks(f"{template}.json.j2", ctx)
        return Message(text=f"Paging: {ctx['fallback']}", blocks=blocks)

    # --- helpers --------------------------------------------------------------------

    def _render_text(self, name: str, ctx: Mapping[str, Any]) -> str:
        return self.env.get_template(name).render(**ctx).strip()

    def _blocks(self, name: str, ctx: Mapping[str, Any]) -> list[dict[str, Any]]:
        rendered = self.env.get_template(name).render(**ctx)
        blocks = json.loads(rendered)
        assert isinstance(blocks, list)
        return blocks


def _plain(mrkdwn: str) -> str:
    return mrkdwn.replace("*", "")[:300]
