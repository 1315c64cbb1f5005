"""The message an outbox row stands for, rendered from the database state at send time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import func, select

from bot.adapters.db.tables import Outbox
from bot.adapters.slack.delivery import Failure
from bot.adapters.slack.render import IncidentView, Message
from bot.adapters.slack.views import load_views

if TYPE_CHECKING:
    from bot.adapters.slack.sender import OutboxSender


async def row_message(sender: OutboxSender, row: Outbox) -> tuple[Message | None, int]:
    """The message for this row from current state, and the newest pending update id
    it covers (updates enqueued before this render are folded into it)."""
    renderer = sender.renderer
    ids = [int(i) for i in row.payload.get("incidents") or []] or (
        [row.incident_id] if row.incident_id else []
    )
    async with sender.deps.db.transaction() as session:
        covered = 0
        if row.kind in ("incident_post", "incident_update") and row.incident_id:
            newest = await session.exec(
                select(func.max(Outbox.id)).where(
                    Outbox.incident_id == row.incident_id,
                    Outbox.kind == "incident_update",
                    Outbox.status == "pending",
                )
            )
            covered = int(newest.one() or 0)
        views = await load_views(session, ids)
    view: IncidentView | None = views[0] if views else None
    template = str(row.payload.get("template") or "")
    if row.kind in ("incident_post", "incident_update"):
        assert view is not None
        return renderer.incident(view), covered
    if row.kind == "thread":
        return renderer.thread(template, row.payload, views), covered
    if row.kind == "channel" and view is None:
        # a message that belongs to no incident (the weekly audit) comes ready-made
        return Message(str(row.payload.get("text", "")), list(row.payload.get("blocks") or [])), 0
    if row.kind in ("dm", "channel"):
        assert view is not None
        default = "page" if row.kind == "dm" else "channel_page"
        return renderer.page(template or default, row.payload, view), covered
    preparer = sender.preparers.get(row.kind)
    if preparer is None:
        raise Failure("unsupported", f"no sender for outbox kind {row.kind!r}", False)
    prepared: Any = row.payload.get("prepared")
    if prepared is None:
        prepared = await preparer(sender.deps, row)
    if not prepared:
        return None, covered
    if isinstance(prepared, Message):
        return prepared, covered
    if isinstance(prepared, dict):
        return Message(str(prepared.get("text", "")), list(prepared.get("blocks") or [])), 0
    text = str(prepared)
    return Message(
        text[:300], [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}]
    ), 0
