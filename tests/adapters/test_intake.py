"""Alertmanager intake through the real HTTP route, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.adapters.db.database import Database
from tests.conftest import shared_fixtures
from tests.support.server import AGENT_TOKEN, AM_TOKEN, running_app

AM = shared_fixtures() / "alertmanager"
AUTH = {"Authorization": f"Bearer {AM_TOKEN}"}
API = {"Authorization": f"Bearer {AGENT_TOKEN}"}


def body(name: str) -> bytes:
    return (AM / f"{name}.json").read_bytes()


async def post(client: TestClient[Any, Any], name: str) -> tuple[int, Any]:
    resp = await client.post("/alerts/alertmanager", data=body(name), headers=AUTH)
    return resp.status, await resp.json()


async def incidents(client: TestClient[Any, Any], query: str = "") -> list[dict[str, Any]]:
    resp = await client.get(f"/api/incidents{query}", headers=API)
    assert resp.status == 200
    data: list[dict[str, Any]] = (await resp.json())["incidents"]
    return data


async def metric(client: TestClient[Any, Any], name: str) -> float:
    text = await (await client.get("/metrics")).text()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_firing_then_resolved_single(database_url: str) -> None:
    async with running_app(database_url) as (client, _):
        status, first = await post(client, "firing-single")
        assert status == 200 and len(first["incidents"]) == 1
        [incident] = await incidents(client)
        assert incident["status"] == "triggered"
        assert incident["title"] == "HighErrorRate checkout-api"
        assert incident["severity"] == "critical"
        assert incident["owner"] is None
        assert incident["escalation"]["policy"] == "default"
        assert incident["alerts"][0]["fingerprint"] == "7cca0892cc63a204"
        assert incident["alerts"][0]["ends_at"] is None
        assert incident["channel"] == "C0CHECKOUT"  # routed by service label

        status, second = await post(client, "resolved-single")
        assert status == 200 and second == first
        assert await post(client, "resolved-single") == (200, first)  # redelivered
        [incident] = await incidents(client)
        assert incident["status"] == "resolved"
        assert incident["resolved_at"] is not None
        assert incident["alerts"][0]["status"] == "resolved"
        assert incident["alerts"][0]["ends_at"] == "2026-11-22T01:11:44Z"


async def test_redelivery_changes_nothing(database_url: str) -> None:
    async with running_app(database_url) as (client, _):
        results = [await post(client, "firing-single") for _ in range(3)]
        assert {json.dumps(r) for r in results} == {json.dumps(results[0])}
        detail = await (
            await client.get(f"/api/incidents/{results[0][1]['incidents'][0]}", headers=API)
        ).json()
        types = [e["type"] for e in detail["events"]]
        assert types.count("opened") == 1 and types.count("alert_firing") == 1
        assert await metric(client, "nightshift_webhook_deliveries_total") == 3
        assert await metric(client, "nightshift_webhook_duplicate_deliveries_total") == 2
        assert await metric(client, "nightshift_incidents_opened_total") == 1


async def test_concurrent_identical_deliveries_make_one_incident(database_url: str) -> None:
    async with running_app(database_url) as (client, _):
        results = await asyncio.gather(*(post(client, "firing-group-multi") for _ in range(8)))
        assert all(status == 200 for status, _ in results)
        assert len({tuple(r["incidents"]) for _, r in results}) == 1
        [incident] = await incidents(client)
        assert len(incident["alerts"]) == 3


async def test_group_partial_resolve_then_remainder(database_url: str) -> None:
    async with running_app(database_url) as (client, _):
        await post(client, "firing-group-multi")
        await post(client, "firing-group-partially-resolved")
        [incident] = await incidents(client)
        assert incident["status"] == "triggered"
        states = {a["labels"]["instance"]: a["status"] for a in incident["alerts"]}
        assert states == {"burst-1": "firing", "burst-2": "resolved", "burst-3": "firing"}
        await post(client, "resolved-group-remainder")
        [incident] = await incidents(client)
        assert incident["status"] == "resolved"
        assert {a["status"] for a in incident["alerts"]} == {"resolved"}


async def test_new_firing_after_resolution_opens_new_incident(database_url: str) -> None:
    async with running_app(database_url) as (client, _):
        _, first = await post(client, "firing-single")
        await post(client, "resolved-single")
        # a late retry of the old firing body must not reopen anything; it names the incident
        _, late = await post(client, "firing-single")
        assert late == first
        assert len(await incidents(client)) == 1
        refired = json.loads(body("firing-single"))
        refired["alerts"][0]["startsAt"] = "2026-11-22T03:00:00Z"
        resp = await client.post("/alerts/alertmanager", json=refired, headers=AUTH)
        second = await resp.json()
        assert resp.status == 200 and second["incidents"] != first["incidents"]
        assert [i["status"] for i in await incidents(client)] == ["triggered", "resolved"]
        assert len(await incidents(client, "?status=open")) == 1
        assert len(await incidents(client, "?status=resolved")) == 1


async def test_truncated_alerts_recorded(database_url: str) -> None:
    async with running_app(database_url) as (client, _):
        await post(client, "firing-group-truncated")
        [incident] = await incidents(client)
        assert incident["truncated_alerts"] == 3
        assert len(incident["alerts"]) == 2


async def test_route_is_not_part_of_the_key(database_url: str) -> None:
    """Same receiver+groupKey is one incident even when labels would pick another route."""
    async with running_app(database_url) as (client, _):
        await post(client, "firing-single")
        moved = json.loads(body("firing-single"))
        moved["alerts"][0]["fingerprint"] = "0000000000000001"
        moved["commonLabels"]["service"] = "other"
        resp = await client.post("/alerts/alertmanager", json=moved, headers=AUTH)
        assert resp.status == 200
        [incident] = await incidents(client)
        assert len(incident["alerts"]) == 2


BAD = [
    ("not json", b"{nope", "malformed_json", "malformed JSON"),
    ("not utf-8", b"\xff\xfe", "malformed_json", "malformed JSON"),
    ("empty", b"", "malformed_json", "malformed JSON"),
    ("array", b"[]", "invalid_shape", "JSON object"),
    ("null", b"null", "invalid_shape", "JSON object"),
    ("wrong version", {"version": "3"}, "invalid_shape", "version"),
    ("missing groupKey", {"groupKey": None}, "invalid_shape", "groupKey"),
    ("missing alerts", {"alerts": None}, "invalid_shape", "alerts"),
    ("missing fingerprint", {"alerts.0.fingerprint": None}, "invalid_shape", "fingerprint"),
    ("bad status", {"status": "exploded"}, "invalid_shape", "status"),
]


def mutate(changes: dict[str, Any]) -> bytes:
    data = json.loads(body("firing-single"))
    for path, value in changes.items():
        target = data
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize(("name", "change", "reason", "needle"), BAD, ids=[b[0] for b in BAD])
async def test_bad_input_is_refused_and_changes_nothing(
    sqlite_url: str, name: str, change: Any, reason: str, needle: str
) -> None:
    payload = change if isinstance(change, bytes) else mutate(change)
    async with running_app(sqlite_url) as (client, _):
        resp = await client.post("/alerts/alertmanager", data=payload, headers=AUTH)
        assert resp.status == 400
        assert needle in (await resp.json())["error"]
        assert await incidents(client) == []
        counted = f'nightshift_webhook_rejections_total{{reason="{reason}"}}'
        assert await metric(client, counted) == 1


async def test_unknown_extra_fields_are_accepted(sqlite_url: str) -> None:
    data = json.loads(body("firing-single"))
    data["someFutureField"] = {"x": 1}
    data["alerts"][0]["newAlertField"] = True
    async with running_app(sqlite_url) as (client, _):
        resp = await client.post("/alerts/alertmanager", json=data, headers=AUTH)
        assert resp.status == 200


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong", "Basic czNjcjN0LXRva2Vu", "Bearer", f"bearer{AM_TOKEN}"],
)
async def test_bad_or_missing_token_is_401(sqlite_url: str, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    async with running_app(sqlite_url) as (client, _):
        resp = await client.post(
            "/alerts/alertmanager", data=body("firing-single"), headers=headers
        )
        assert resp.status == 401
        assert (
            await metric(client, 'nightshift_webhook_rejections_total{reason="unauthorized"}') == 1
        )
        assert await incidents(client) == []


async def test_rotated_tokens_both_accepted(sqlite_url: str) -> None:
    async with running_app(sqlite_url) as (client, _):
        for token in ("old-token", AM_TOKEN):
            resp = await client.post(
                "/alerts/alertmanager",
                data=body("firing-single"),
                headers={"Authorization": f"Bearer {token}"},
            )
            assert resp.status == 200


async def test_no_token_configured_refuses_everything(sqlite_url: str) -> None:
    async with running_app(sqlite_url, alertmanager_tokens=()) as (client, _):
        resp = await client.post("/alerts/alertmanager", data=body("firing-single"), headers=AUTH)
        assert resp.status == 401


async def test_oversized_body_is_413(sqlite_url: str) -> None:
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    async with running_app(sqlite_url) as (client, _):
        resp = await client.post("/alerts/alertmanager", data=big, headers=AUTH)
        assert resp.status == 413

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(20):
                yield b"x" * 65536

        streamed = await client.post("/alerts/alertmanager", data=chunks(), headers=AUTH)
        assert streamed.status == 413


async def test_database_down_answers_503_and_keeps_nothing(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/missing-dir/nightshift.db"
    async with running_app(url) as (client, _):
        resp = await client.post("/alerts/alertmanager", data=body("firing-single"), headers=AUTH)
        assert resp.status == 503
        assert resp.headers["Retry-After"]
        assert (await client.get("/readyz")).status == 503
        assert (await client.get("/healthz")).status == 200


async def test_postgres_down_answers_503(pg_url: str) -> None:
    dead = pg_url.rsplit(":", 1)[0] + ":1/nightshift"
    async with running_app(dead) as (client, _):
        resp = await client.post("/alerts/alertmanager", data=body("firing-single"), headers=AUTH)
        assert resp.status == 503
        assert "database" in (await resp.json())["error"]


async def test_draining_server_answers_503(sqlite_url: str) -> None:
    async with running_app(sqlite_url) as (client, nightshift):
        nightshift.stop_accepting()
        resp = await client.post("/alerts/alertmanager", data=body("firing-single"), headers=AUTH)
        assert resp.status == 503 and resp.headers["Retry-After"]


async def test_commit_happens_before_the_answer(sqlite_url: str) -> None:
    async with running_app(sqlite_url) as (client, _):
        _, answer = await post(client, "firing-single")
    # a separate connection sees the incident as soon as the 200 arrived
    db = Database(sqlite_url)
    try:
        from sqlmodel import select

        from bot.adapters.db.tables import Incident

        async with db.transaction() as session:
            rows = (await session.exec(select(Incident))).all()
        assert [r.id for r in rows] == answer["incidents"]
    finally:
        await db.dispose()


async def test_two_replicas_on_postgres_open_one_incident(pg_url: str) -> None:
    """Replicas race to open the same group: the unique open key makes one win, the other
    retries, finds it open and answers with the same id."""
    async with running_app(pg_url) as (one, _), running_app(pg_url) as (two, _):
        results = await asyncio.gather(
            *(post(client, "firing-group-multi") for client in [one, two] * 6)
        )
        assert {status for status, _ in results} == {200}
        assert len({tuple(r["incidents"]) for _, r in results}) == 1
        [incident] = await incidents(one)
        assert len(incident["alerts"]) == 3
        detail = await (await one.get(f"/api/incidents/{incident['id']}", headers=API)).json()
        assert [e["type"] for e in detail["events"]].count("opened") == 1


async def test_alert_changes_are_told_in_the_thread(database_url: str) -> None:
    """Alert changes of an open incident queue thread entries; opening queues the post."""
    from sqlmodel import col, select

    from bot.adapters.db.tables import Outbox

    async with running_app(database_url) as (client, nightshift):
        await nightshift.engine.stop()  # only the intake's own rows are looked at here
        await nightshift.slack.stop()
        await post(client, "firing-group-multi")
        await post(client, "firing-group-partially-resolved")
        await post(client, "firing-group-partially-resolved")  # a retry adds nothing
        await post(client, "resolved-group-remainder")
        async with nightshift.db.transaction() as session:
            rows = (
                await session.exec(
                    select(Outbox)
                    .where(col(Outbox.kind).in_(["incident_post", "incident_update", "thread"]))
                    .order_by(col(Outbox.id))
                )
            ).all()
        told = [(r.kind, r.payload.get("template"), r.payload.get("alert")) for r in rows]
        # the engine paged step 1 before it was stopped; those rows are not the intake's
        assert [t for t in told if t[0] != "thread" or t[1] in ("alert_resolved", "resolved")] == [
            ("incident_post", None, None),
            ("thread", "alert_resolved", "burst-2"),
            ("incident_update", None, None),
            ("thread", "alert_resolved", "burst-1"),
            ("thread", "alert_resolved", "burst-3"),
            ("thread", "resolved", None),
            ("incident_update", None, None),
        ]
        assert len({r.dedup_key for r in rows}) == len(rows)


@asynccontextmanager
async def app_with_lock_holder(
    sqlite_url: str,
) -> AsyncIterator[tuple[TestClient[Any, Any], sqlite3.Connection]]:
    """The app (engine and sender stopped) beside another process's connection that takes
    the SQLite write lock with BEGIN EXCLUSIVE."""
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        async with running_app(sqlite_url) as (client, nightshift):
            await nightshift.engine.stop()
            await nightshift.slack.stop()
            yield client, holder
    finally:
        holder.close()


async def test_locked_sqlite_answers_503_and_keeps_nothing(sqlite_url: str) -> None:
    """Another process holding the write lock past the busy timeout: Alertmanager retries."""
    async with app_with_lock_holder(sqlite_url) as (client, holder):
        holder.execute("BEGIN EXCLUSIVE")
        resp = await client.post("/alerts/alertmanager", data=body("firing-single"), headers=AUTH)
        assert resp.status == 503
        assert resp.headers["Retry-After"]
        assert "database" in (await resp.json())["error"]
        holder.execute("ROLLBACK")
        status, answer = await post(client, "firing-single")
        assert status == 200 and len(answer["incidents"]) == 1
