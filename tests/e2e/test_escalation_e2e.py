"""Escalation across real `nightshift serve` processes with second-scale policies:
a SIGKILL while a step is due, a second serve on one SQLite file, and two replicas on
one PostgreSQL sharing 100 incidents."""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shared_fixtures
from tests.e2e.conftest import E2E_API_TOKEN, E2E_TOKEN
from tests.support.processes import ServeProcess, http_json, wait_for

pytestmark = pytest.mark.e2e

CONFIG = """\
slack:
  channel: C0INCID001
people:
  alice: {slack: U0ALICE001}
  bob:   {slack: U0BOB00001}
  carol: {slack: U0CAROL001}
schedules:
  primary:
    timezone: UTC
    rotation: {every: 1d, start: "2026-01-01T00:00", members: [alice]}
policies:
  default:
    steps:
      - {notify: ["schedule:primary"], wait: %(wait)s}
      - {notify: ["user:bob", "channel:C0SRELEAD"], wait: %(wait)s}
      - {notify: ["user:carol"], wait: 1h}
routes:
  - {match: {}, policy: default}
"""
# every (step, target) a full run of the policy pages, in order
EXPECTED = [(1, "alice"), (2, "bob"), (2, "C0SRELEAD"), (3, "carol")]


def write_config(tmp_path: Path, wait: str) -> Path:
    path = tmp_path / "nightshift.yaml"
    path.write_text(CONFIG % {"wait": wait})
    return path


def webhook(n: int) -> bytes:
    body: dict[str, Any] = json.loads(
        (shared_fixtures() / "alertmanager" / "firing-single.json").read_text()
    )
    body = copy.deepcopy(body)
    name = f"EscalationE2E{n}"
    body["groupKey"] = f'{{}}:{{alertname="{name}"}}'
    body["groupLabels"] = {"alertname": name}
    body["commonLabels"]["alertname"] = name
    body["alerts"][0]["labels"]["alertname"] = name
    body["alerts"][0]["fingerprint"] = f"{n:016x}"
    return json.dumps(body).encode()


def fire(bot: ServeProcess, n: int) -> int:
    import urllib.request

    request = urllib.request.Request(
        bot.url + "/alerts/alertmanager", data=webhook(n), method="POST"
    )
    request.add_header("Authorization", f"Bearer {E2E_TOKEN}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as resp:
        incident_id: int = json.loads(resp.read())["incidents"][0]
    return incident_id


def notified(bot: ServeProcess, incident_id: int) -> list[tuple[int, int, str]]:
    status, body = http_json(f"{bot.url}/api/incidents/{incident_id}", token=E2E_API_TOKEN)
    assert status == 200, body
    return [
        (e["data"]["step"], e["data"]["loop"], e["data"]["target"])
        for e in body["events"]
        if e["type"] == "notified"
    ]


def at_least(bot: ServeProcess, incident_id: int, n: int) -> list[tuple[int, int, str]] | None:
    pages = notified(bot, incident_id)
    return pages if len(pages) >= n else None


def steps_of(pages: list[tuple[int, int, str]]) -> list[tuple[int, str]]:
    return [(step, target) for step, _loop, target in pages]


def test_sigkill_while_a_step_is_due_fires_it_once_after_restart(
    serve_env: dict[str, str], tmp_path: Path, processes: list[Any]
) -> None:
    config = write_config(tmp_path, "2s")
    bot = ServeProcess(serve_env, config, tmp_path)
    processes.append(bot.start())
    incident = fire(bot, 1)
    wait_for(lambda: notified(bot, incident), timeout=5)  # step 1 fires when it opens

    # a second serve on the same SQLite file refuses to start, and says why
    second = ServeProcess(serve_env, config, tmp_path)
    processes.append(second)
    second.start(wait=False)
    assert second.proc is not None and second.proc.wait(30) != 0
    assert "already uses this SQLite database" in second.log()

    bot.kill()  # SIGKILL; step 2 falls due while nothing runs
    time.sleep(3)
    bot.start()
    # right after start, not a poll interval later
    assert steps_of(wait_for(lambda: at_least(bot, incident, 3), timeout=2)) == EXPECTED[:3]

    # killed again at the very moment step 3 falls due: fired or not, it fires once
    _, body = http_json(f"{bot.url}/api/incidents/{incident}", token=E2E_API_TOKEN)
    due = datetime.fromisoformat(body["escalation"]["next_at"].replace("Z", "+00:00"))
    time.sleep(max(0.0, due.timestamp() - time.time()))
    bot.kill()
    bot.start()
    wait_for(lambda: at_least(bot, incident, 4), timeout=5)
    time.sleep(1.5)  # a double page would have landed by now
    assert steps_of(notified(bot, incident)) == EXPECTED


def test_two_replicas_on_one_postgres_page_everyone_exactly_once(
    pg_url: str, tmp_path: Path, processes: list[Any]
) -> None:
    config = write_config(tmp_path, "1s")
    env = {
        "DATABASE_URL": pg_url,
        "ALERTMANAGER_TOKEN": E2E_TOKEN,
        "NIGHTSHIFT_API_TOKENS": f"e2e:operator:{E2E_API_TOKEN}",
        "SLACK_BOT_TOKEN": "",
        "SLACK_SIGNING_SECRET": "",
        "SLACK_APP_TOKEN": "",
    }
    replicas = [ServeProcess(env, config, tmp_path) for _ in range(2)]
    for replica in replicas:
        processes.append(replica.start())
    # 100 incidents, opened through both replicas at once
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda n: fire(replicas[n % 2], n), range(100)))
    assert len(set(ids)) == 100

    def all_paged() -> dict[int, list[tuple[int, int, str]]] | None:
        pages = {i: notified(replicas[i % 2], i) for i in ids}
        return pages if all(len(p) >= 4 for p in pages.values()) else None

    wait_for(all_paged, timeout=30, every=0.5)
    time.sleep(1.5)  # let any double page land before counting
    pages = {i: notified(replicas[0], i) for i in ids}
    doubled = {i: p for i, p in pages.items() if max(Counter(p).values()) > 1}
    assert doubled == {}
    assert {i: steps_of(p) for i, p in pages.items()} == {i: EXPECTED for i in ids}
    assert all("Traceback" not in r.log() for r in replicas)
