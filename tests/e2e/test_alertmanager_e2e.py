"""A real Alertmanager delivering to a real `nightshift serve`, including a SIGKILL mid-flight."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shared_fixtures
from tests.e2e.conftest import E2E_API_TOKEN, E2E_TOKEN, repo_config
from tests.support.processes import AlertmanagerProcess, ServeProcess, http_json, wait_for


def am_alert(
    name: str, service: str, instance: str, *, ends: datetime | None = None
) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": {
            "alertname": name,
            "service": service,
            "instance": instance,
            "severity": "critical",
        },
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": "2026-11-22T01:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph",
    }
    if ends is not None:
        alert["endsAt"] = ends.isoformat().replace("+00:00", "Z")
    return alert


def incidents(bot: ServeProcess) -> list[dict[str, Any]]:
    status, body = http_json(bot.url + "/api/incidents", token=E2E_API_TOKEN)
    assert status == 200, body
    result: list[dict[str, Any]] = body["incidents"]
    return result


def for_group(bot: ServeProcess, name: str) -> list[dict[str, Any]]:
    return [i for i in incidents(bot) if i["labels"].get("alertname") == name]


def test_fire_group_resolve_and_survive_sigkill(
    alertmanager_bin: str,
    serve_env: dict[str, str],
    tmp_path: Path,
    processes: list[Any],
) -> None:
    bot = ServeProcess(serve_env, repo_config(), tmp_path)
    processes.append(bot.start())
    am = AlertmanagerProcess(
        alertmanager_bin, tmp_path, bot.url + "/alerts/alertmanager", E2E_TOKEN
    )
    processes.append(am.start())

    # two alerts of one group become one incident with two alerts
    am.post_alerts(
        [
            am_alert("HighErrorRate", "checkout-api", "a"),
            am_alert("HighErrorRate", "checkout-api", "b"),
        ]
    )
    [incident] = wait_for(
        lambda: [i for i in for_group(bot, "HighErrorRate") if len(i["alerts"]) == 2] or None
    )
    assert incident["status"] == "triggered"
    assert incident["receiver"] == "bot-webhook"

    # resolving both in Alertmanager resolves the incident
    past = datetime.now(UTC) - timedelta(seconds=1)
    am.post_alerts(
        [
            am_alert("HighErrorRate", "checkout-api", "a", ends=past),
            am_alert("HighErrorRate", "checkout-api", "b", ends=past),
        ]
    )
    wait_for(lambda: all(i["status"] == "resolved" for i in for_group(bot, "HighErrorRate")))

    # the bot dies hard while Alertmanager holds a new alert; Alertmanager keeps retrying
    bot.kill()
    am.post_alerts([am_alert("DiskFull", "storage", "db-1")])
    wait_for(lambda: "DiskFull" in (am_pending_groups(am) or ""), timeout=10)
    processes.append(bot.start())
    [disk] = wait_for(lambda: for_group(bot, "DiskFull") or None, timeout=30)
    assert disk["status"] == "triggered"

    # repeated deliveries after the restart still leave exactly one incident
    wait_for(lambda: metric(bot, "nightshift_webhook_deliveries_total") >= 1)
    assert len(for_group(bot, "DiskFull")) == 1
    assert len(for_group(bot, "HighErrorRate")) == 1


def am_pending_groups(am: AlertmanagerProcess) -> str:
    status, body = http_json(am.url + "/api/v2/alerts/groups")
    return str(body) if status == 200 else ""


def metric(bot: ServeProcess, name: str) -> float:
    _, text = http_json(bot.url + "/metrics")
    for line in str(text).splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_sigterm_drains_and_exits_zero(
    loop: str, serve_env: dict[str, str], tmp_path: Path, processes: list[Any]
) -> None:
    bot = ServeProcess({**serve_env, "NIGHTSHIFT_EVENT_LOOP": loop}, repo_config(), tmp_path)
    processes.append(bot.start())
    firing = json.loads((shared_fixtures() / "alertmanager" / "firing-single.json").read_text())
    status, body = http_json(
        bot.url + "/alerts/alertmanager", method="POST", body=firing, token=E2E_TOKEN
    )
    assert status == 200 and len(body["incidents"]) == 1
    started = datetime.now(UTC)
    assert bot.terminate(timeout=12) == 0
    assert (datetime.now(UTC) - started).total_seconds() < 10
    assert f"event loop: {loop}" in bot.log()
    assert "stopped" in bot.log()
