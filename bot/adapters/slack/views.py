"""Read an incident's current state from the database into what the renderer shows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.clock import from_db
from bot.adapters.db.tables import Alert, Incident
from bot.adapters.slack.render import IncidentView


def incident_view(incident: Incident, firing: int, resolved: int) -> IncidentView:
    assert incident.id is not None
    return IncidentView(
        id=incident.id,
        title=incident.title,
        status=incident.status,
        severity=incident.severity,
        labels=dict(incident.labels),
        annotations=dict(incident.annotations),
        runbook_id=incident.runbook_id,
        external_url=incident.external_url,
        firing=firing,
        resolved_alerts=resolved,
        truncated=incident.truncated_alerts,
        owner_slack_id=incident.owner_slack_id,
        owner_name=incident.owner_name,
        acked_at=from_db(incident.acked_at) if incident.acked_at else None,
        acked_via=incident.acked_via,
        opened_at=from_db(incident.opened_at),
        resolved_at=from_db(incident.resolved_at) if incident.resolved_at else None,
        policy_snapshot=dict(incident.policy_snapshot),
        esc_step=incident.esc_step,
        esc_loop=incident.esc_loop,
        next_due_at=from_db(incident.next_due_at) if incident.next_due_at else None,
    )


async def load_views(session: AsyncSession, ids: Sequence[int]) -> list[IncidentView]:
    """Views for the given incident ids, in the given order (missing ids are skipped)."""
    if not ids:
        return []
    rows = (await session.exec(select(Incident).where(col(Incident.id).in_(ids)))).all()
    counts = await session.exec(
        select(Alert.incident_id, Alert.status, func.count())
        .where(col(Alert.incident_id).in_(ids))
        .group_by(col(Alert.incident_id), col(Alert.status))
    )
    tally: dict[tuple[int, str], int] = {(i, s): n for i, s, n in counts.all()}
    by_id = {r.id: r for r in rows}
    return [
        incident_view(by_id[i], tally.get((i, "firing"), 0), tally.get((i, "resolved"), 0))
        for i in ids
        if i in by_id
    ]
