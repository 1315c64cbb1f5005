"""The contract's incident JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.adapters.db.clock import iso
from bot.adapters.db.tables import Alert, Event, Incident


def incident_json(
    incident: Incident, alerts: Sequence[Alert], events: Sequence[Event] | None = None
) -> dict[str, Any]:
    owner = (
        {"slack_user_id": incident.owner_slack_id, "name": incident.owner_name}
        if incident.owner_slack_id
        else None
    )
    escalation = (
        {
            "policy": incident.policy_name,
            "step": incident.esc_step,
            "loop": incident.esc_loop,
            "next_at": iso(incident.next_due_at),
        }
        if incident.policy_name
        else None
    )
    body: dict[str, Any] = {
        "id": incident.id,
        "title": incident.title,
        "status": incident.status,
        "severity": incident.severity,
        "opened_at": iso(incident.opened_at),
        "resolved_at": iso(incident.resolved_at),
        "group_key": incident.group_key,
        "receiver": incident.receiver,
        "labels": incident.labels,
        "annotations": incident.annotations,
        "owner": owner,
        "escalation": escalation,
        "runbook": incident.runbook_id,
        "channel": incident.channel,
        "truncated_alerts": incident.truncated_alerts,
        "alerts": [alert_json(a) for a in alerts],
    }
    if events is not None:
        body["events"] = [event_json(e) for e in events]
    return body


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "status": alert.status,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "starts_at": iso(alert.starts_at),
        "ends_at": iso(alert.ends_at),
    }


def event_json(event: Event) -> dict[str, Any]:
    body: dict[str, Any] = {
        "at": iso(event.at),
        "type": event.type,
        "actor": {"kind": event.actor_kind, "id": event.actor_id, "name": event.actor_name},
        "counted": event.counted,
        "detail": event.detail,
        "data": event.data,
    }
    # the event's own facts also at the top level, as the contract shows them
    # (a `notified` event carries "step", "loop" and "target")
    return {**{k: v for k, v in event.data.items() if k not in body}, **body}
