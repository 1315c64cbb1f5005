"""/api/*: token auth, filters, notes, and acknowledgement attempts that never count."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adapters.test_intake import API, incidents, post
from tests.support.server import OPERATOR_TOKEN, running_app

OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


@pytest.mark.parametrize("header", [None, "Bearer nope", "Token agent-token-1"])
async def test_api_needs_a_known_token(sqlite_url: str, header: str | None) -> None:
    async with running_app(sqlite_url) as (client, _):
        resp = await client.get(
            "/api/incidents", headers={"Authorization": header} if header else {}
        )
        assert resp.status == 401
        assert "token" in (await resp.json())["error"]


async def test_api_ack_is_recorded_never_counted(database_url: str) -> None:
    async with running_app(database_url) as (client, _):
        _, answer = await post(client, "firing-single")
        incident_id = answer["incidents"][0]
        resp = await client.post(f"/api/incidents/{incident_id}/ack", headers=API, json={})
        assert resp.status == 409
        body = await resp.json()
        assert body["counted"] is False and "not counted" in body["error"]
        detail = await (await client.get(f"/api/incidents/{incident_id}", headers=API)).json()
        assert detail["status"] == "triggered"
        assert detail["owner"] is None
        [refused] = [e for e in detail["events"] if e["type"] == "ack_refused"]
        assert refused["counted"] is False
        assert refused["actor"] == {
            "kind": "agent",
            "id": "api:triage-agent",
            "name": "triage-agent",
        }


async def test_operator_token_ack_is_refused_too(sqlite_url: str) -> None:
    async with running_app(sqlite_url) as (client, _):
        _, answer = await post(client, "firing-single")
        incident_id = answer["incidents"][0]
        resp = await client.post(f"/api/incidents/{incident_id}/ack", headers=OPERATOR)
        assert resp.status == 409
        detail = await (await client.get(f"/api/incidents/{incident_id}", headers=API)).json()
        assert detail["owner"] is None
        assert [e["actor"]["kind"] for e in detail["events"] if e["type"] == "ack_refused"] == [
            "integration"
        ]


async def test_notes_are_events_and_never_change_ownership(database_url: str) -> None:
    async with running_app(database_url) as (client, _):
        _, answer = await post(client, "firing-single")
        incident_id = answer["incidents"][0]
        resp = await client.post(
            f"/api/incidents/{incident_id}/notes",
            headers=API,
            json={"text": "Acknowledged, I am on it"},
        )
        assert resp.status == 201
        detail = await (await client.get(f"/api/incidents/{incident_id}", headers=API)).json()
        [note] = [e for e in detail["events"] if e["type"] == "note"]
        assert note["detail"] == "Acknowledged, I am on it"
        assert note["actor"]["kind"] == "agent"
        assert note["counted"] is False
        assert detail["status"] == "triggered" and detail["owner"] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"text": ""}, 400),
        ({}, 400),
        ({"text": 5}, 400),
        ("not json", 400),
        ({"text": "x" * 5000}, 400),
    ],
)
async def test_bad_note_bodies(sqlite_url: str, body: Any, status: int) -> None:
    async with running_app(sqlite_url) as (client, _):
        _, answer = await post(client, "firing-single")
        incident_id = answer["incidents"][0]
        kwargs: dict[str, Any] = {"data": body} if isinstance(body, str) else {"json": body}
        resp = await client.post(f"/api/incidents/{incident_id}/notes", headers=API, **kwargs)
        assert resp.status == status
        assert "error" in await resp.json()


async def test_unknown_incident_is_404(sqlite_url: str) -> None:
    async with running_app(sqlite_url) as (client, _):
        for method, path in [
            ("GET", "/api/incidents/99"),
            ("POST", "/api/incidents/99/ack"),
            ("GET", "/api/incidents/abc"),
        ]:
            resp = await client.request(method, path, headers=API, json={"text": "x"})
            assert resp.status == 404


async def test_status_filters_and_order(sqlite_url: str) -> None:
    async with running_app(sqlite_url) as (client, _):
        await post(client, "firing-single")
        await post(client, "firing-group-multi")
        await post(client, "resolved-single")
        assert [i["title"] for i in await incidents(client)] == [
            "DiskFull storage",
            "HighErrorRate checkout-api",
        ]
        assert [i["status"] for i in await incidents(client, "?status=open")] == ["triggered"]
        assert [i["status"] for i in await incidents(client, "?status=resolved")] == ["resolved"]
        assert await incidents(client, "?status=acknowledged") == []
        bad = await client.get("/api/incidents?status=sleeping", headers=API)
        assert bad.status == 400
