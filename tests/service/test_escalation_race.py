"""Races: an acknowledgement against the tick, and replicas against each other."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from bot.adapters.db.database import Database
from bot.adapters.db.tables import Incident
from bot.adapters.engine import EscalationEngine
from bot.clock import FakeClock
from bot.core.ack import UserFacts
from bot.service import ownership
from tests.service.escalation_support import (
    CONFIG,
    MIN,
    T0,
    duplicates,
    events,
    incident,
    open_incident,
    pages,
)

BOB = UserFacts("U0BOB00001", "bob")


async def test_an_ack_racing_the_tick_is_never_lost(database: Database) -> None:
    e = EscalationEngine(database, CONFIG, FakeClock(T0), batch=3)
    ids = [await open_incident(database, key=f"g{i}") for i in range(12)]
    await e.tick(T0)
    due = T0 + 5 * MIN  # step 2 is due for all of them
    acks = [ownership.acknowledge(database, CONFIG, iid, BOB.id, BOB, "button", due) for iid in ids]
    results = await asyncio.gather(e.tick(due), *acks, e.tick(due))
    assert all(r.result == "counted" for r in results[1:-1])  # type: ignore[union-attr]
    for minute in range(6, 30):  # before the 30-minute ack timeout
        await e.tick(T0 + minute * MIN)
    for iid in ids:
        steps = [p[1] for p in await pages(database, iid)]
        # either step 2 did not fire, or it fired and nothing after it did
        assert steps in ([1], [1, 2, 2]), steps
        row = await incident(database, iid)
        assert (row.status, row.owner_slack_id) == ("acknowledged", "U0BOB00001")
        types = [ev.type for ev in await events(database, iid, "escalated", "acknowledged")]
        assert types[-1] == "acknowledged"


async def test_a_row_locked_by_an_ack_is_skipped_not_waited_for(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        iid = await open_incident(db)
        e = EscalationEngine(db, CONFIG, FakeClock(T0))
        async with db.transaction() as session:
            row = await ownership.load_for_update(session, db, iid)
            assert row is not None
            # another transaction holds the row: the tick passes it by at once
            assert await asyncio.wait_for(e.tick(T0), 5) == 0
        assert await e.tick(T0) == 1
    finally:
        await db.dispose()


async def test_two_replicas_page_every_target_exactly_once(pg_url: str) -> None:
    replicas = [Database(pg_url, pool_size=4) for _ in range(2)]
    try:
        ids = [
            await open_incident(replicas[0], key=f"g{i}", at=T0 + i * 3 * MIN // 100)
            for i in range(100)
        ]
        engines = [EscalationEngine(db, CONFIG, FakeClock(T0), batch=7) for db in replicas]
        for second in range(0, 40 * 60, 20):  # both replicas tick the same instants
            now = T0 + second * MIN / 60
            await asyncio.gather(*(e.tick(now) for e in engines))
        notified = await pages(replicas[0])
        assert duplicates(notified) == []
        expected = {
            (iid, step, loop, target)
            for iid in ids
            for loop in (0, 1)
            for step, targets in ((1, ["alice"]), (2, ["carol", "C0SRELEAD"]))
            for target in targets
        }
        assert set(notified) == expected
        async with replicas[0].transaction() as session:
            rows = (await session.exec(select(Incident))).all()
        assert {(r.esc_step, r.esc_loop, r.next_due_at) for r in rows} == {(2, 1, None)}
    finally:
        for db in replicas:
            await db.dispose()
