"""SQLite intake runs on the event loop: it must never stall the loop on a lock or an fsync."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from sqlalchemy import Connection, text

from bot.adapters.db.database import Database
from tests.adapters.test_intake import AUTH, app_with_lock_holder, body, incidents


async def test_a_lock_held_elsewhere_is_waited_out_while_the_loop_serves(
    sqlite_url: str,
) -> None:
    async with app_with_lock_holder(sqlite_url) as (client, holder):
        holder.execute("BEGIN EXCLUSIVE")
        delivery = asyncio.create_task(
            client.post("/alerts/alertmanager", data=body("firing-single"), headers=AUTH)
        )
        await asyncio.sleep(0.2)
        started = time.perf_counter()
        health = await client.get("/healthz")
        assert health.status == 200
        assert time.perf_counter() - started < 0.5  # answered while intake waits
        assert not delivery.done()
        holder.execute("ROLLBACK")
        resp = await asyncio.wait_for(delivery, timeout=5)
        assert resp.status == 200
        assert len(await incidents(client)) == 1


async def test_the_wal_is_checkpointed_in_a_thread_after_a_commit(sqlite_url: str) -> None:
    db = Database(sqlite_url)

    def write(conn: Connection) -> int:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (x TEXT)"))
        conn.execute(text("INSERT INTO t VALUES ('a')"))
        return int(conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())

    try:
        assert await db.run_sync(write) == 0  # the loop's connection never checkpoints itself
    finally:
        await db.dispose()  # waits for a checkpoint in flight
    assert db.checkpointer.runs == 1
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    try:
        busy, wal_frames, backfilled = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        other.close()
    assert busy == 0 and wal_frames == backfilled
