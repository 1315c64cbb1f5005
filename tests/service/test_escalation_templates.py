"""Every outbox row the engine writes renders through the real Slack templates."""

from __future__ import annotations

import json

from bot.adapters.db.database import Database
from bot.adapters.engine import EscalationEngine
from bot.adapters.slack.render import Renderer
from bot.adapters.slack.views import load_views
from bot.clock import FakeClock
from bot.core.ack import UserFacts
from bot.service import ownership
from tests.service.escalation_support import CONFIG, GAPPY, MIN, T0, open_incident, outbox


async def rendered(db: Database, iid: int) -> list[tuple[str, str]]:
    renderer = Renderer(CONFIG)
    async with db.transaction() as session:
        [view] = await load_views(session, [iid])
    out = []
    for row in await outbox(db, iid):
        template = row.payload.get("template")
        if row.kind == "thread":
            message = renderer.thread(template, row.payload, [view])
        elif row.kind in ("dm", "channel"):
            message = renderer.page(template, row.payload, view)
        else:
            continue
        out.append((row.dedup_key, message.text + json.dumps(message.blocks)))
    return out


async def test_pages_threads_and_timeouts_render(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        iid = await open_incident(db)
        gappy = await open_incident(db, GAPPY, key="gappy")
        e = EscalationEngine(db, CONFIG, FakeClock(T0))
        await e.tick(T0)
        await e.tick(T0 + 5 * MIN)
        bob = UserFacts("U0BOB00001", "bob")
        await ownership.acknowledge(db, CONFIG, iid, bob.id, bob, "button", T0 + 6 * MIN)
        await e.tick(T0 + 36 * MIN)
        texts = dict(await rendered(db, iid))
        assert "You are paged" in texts[f"page:{iid}:1:0:alice"]
        assert "on call for schedule primary" in texts[f"page:{iid}:1:0:alice"]
        assert "incident_ack" in texts[f"page:{iid}:1:0:alice"]
        assert "paging this channel" in texts[f"page:{iid}:2:0:C0SRELEAD"]
        assert "<@U0CAROL001>" in texts[f"thread:{iid}:step_paged:2:0"]
        assert "<#C0SRELEAD>" in texts[f"thread:{iid}:step_paged:2:0"]
        assert "timed out" in texts[f"thread:{iid}:ack_timeout:r1"]
        assert "timed out" in texts[f"ack_timeout:{iid}:r1:U0BOB00001"]
        gap = dict(await rendered(db, gappy))[f"thread:{gappy}:step_gap:1:0"]
        assert "reached nobody" in gap and "nobody on call" in gap
    finally:
        await db.dispose()
