"""The baseline: a bare aiohttp handler inserting one row per request with stdlib sqlite3.

Usage: bare_handler.py DB PORT [asyncio|uvloop]; the event loop defaults to the standard one.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys

import uvloop
from aiohttp import web


def main(db_path: str, port: int, loop_name: str = "asyncio") -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS deliveries (id INTEGER PRIMARY KEY, group_key TEXT, body TEXT)"
    )

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        payload = json.loads(body)
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO deliveries (group_key, body) VALUES (?, ?)", (payload["groupKey"], body)
        )
        conn.execute("COMMIT")
        return web.json_response({"ok": True})

    app = web.Application()
    app.add_routes([web.post("/alerts/alertmanager", handle), web.get("/readyz", _ready)])
    loop = uvloop.new_event_loop() if loop_name == "uvloop" else asyncio.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=loop)


async def _ready(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:4])
