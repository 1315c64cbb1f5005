"""An Alertmanager incident follows the runbook its labels match (the shipped examples)."""

from __future__ import annotations

from typing import Any

from tests.conftest import shared_fixtures
from tests.support.server import AGENT_TOKEN, AM_TOKEN, running_app

AM = shared_fixtures() / "alertmanager"


async def test_incidents_name_their_runbook(sqlite_url: str) -> None:
    async with running_app(sqlite_url) as (client, _):
        for name in ("firing-single", "firing-group-multi"):
            response = await client.post(
                "/alerts/alertmanager",
                data=(AM / f"{name}.json").read_bytes(),
                headers={"Authorization": f"Bearer {AM_TOKEN}"},
            )
            assert response.status == 200
        listing = await client.get(
            "/api/incidents", headers={"Authorization": f"Bearer {AGENT_TOKEN}"}
        )
        incidents: list[dict[str, Any]] = (await listing.json())["incidents"]
    runbooks = {i["labels"]["alertname"]: i["runbook"] for i in incidents}
    assert runbooks == {"HighErrorRate": "checkout-errors", "DiskFull": "storage-disk-full"}
