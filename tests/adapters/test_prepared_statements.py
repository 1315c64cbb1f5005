"""The SQLite fast path writes and reads exactly what Core would."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from bot.adapters.db.database import Database
from bot.adapters.db.prepared import StatementRunner
from bot.adapters.db.tables import EVENTS, INCIDENTS

AT = datetime(2026, 11, 22, 1, 17, 3, 250000, tzinfo=UTC)
STATEMENTS: dict[str, Any] = {
    "insert_events": insert(EVENTS),
    "events_of": select(EVENTS.c.id, EVENTS.c.at, EVENTS.c.data, EVENTS.c.counted).where(
        EVENTS.c.incident_id == bindparam("incident_id")
    ),
    "insert_incident": insert(INCIDENTS),
    "mark": update(EVENTS)
    .where(EVENTS.c.incident_id == bindparam("b_incident"), EVENTS.c.type != "opened")
    .values(detail="marked"),
}


def incident_row(n: int) -> dict[str, Any]:
    return {
        "receiver": "r",
        "group_key": f"g{n}",
        "open_key": f"r\ng{n}",
        "title": "t",
        "status": "triggered",
        "labels": {"a": "b"},
        "annotations": {},
        "truncated_alerts": 0,
        "policy_snapshot": {},
        "esc_step": 0,
        "esc_loop": 0,
        "opened_at": AT,
        "version": 0,
    }


def event_row(incident_id: int, kind: str) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "at": AT,
        "type": kind,
        "actor_kind": "system",
        "actor_id": "x",
        "actor_name": "x",
        "counted": True,
        "detail": "",
        "data": {"step": 1, "who": ["alice"]},
    }


async def test_fast_and_core_paths_agree(sqlite_url: str) -> None:
    db = Database(sqlite_url)

    def write(conn: Connection, *, fast: bool) -> list[Any]:
        runner = StatementRunner(conn, STATEMENTS)
        runner.fast = fast
        incident_id = runner.insert_id("insert_incident", incident_row(int(fast)))
        runner.run(
            "insert_events", [event_row(incident_id, "opened"), event_row(incident_id, "notified")]
        )
        runner.run("mark", {"b_incident": incident_id})
        return [incident_id, runner.rows("events_of", {"incident_id": incident_id})]

    try:
        core_id, core_rows = await db.run_sync(lambda c: write(c, fast=False))
        fast_id, fast_rows = await db.run_sync(lambda c: write(c, fast=True))
    finally:
        await db.dispose()
    assert [(r.at, r.data, r.counted) for r in core_rows] == [
        (r.at, r.data, r.counted) for r in fast_rows
    ]
    assert fast_rows[0].at == AT and fast_rows[0].data == {"step": 1, "who": ["alice"]}
    raw = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    stored = {
        incident: raw.execute(
            "SELECT type, at, data, counted, detail FROM events WHERE incident_id = ? ORDER BY id",
            (incident,),
        ).fetchall()
        for incident in (core_id, fast_id)
    }
    assert stored[core_id] == stored[fast_id]
    assert [row[4] for row in stored[fast_id]] == ["", "marked"]
    incidents = raw.execute(
        "SELECT labels, annotations, policy_snapshot, opened_at, next_due_at FROM incidents"
        " WHERE id IN (?, ?) ORDER BY id",
        (core_id, fast_id),
    ).fetchall()
    assert incidents[0] == incidents[1] == ('{"a":"b"}', "{}", "{}", str(AT)[:-6], None)
