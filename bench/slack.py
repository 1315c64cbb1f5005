"""Slack-side latency: alert in -> chat.postMessage, and button click -> owner committed ->
chat.update, through the real stack (aiohttp server, Alertmanager webhook route, Bolt
AsyncApp with signed requests, the outbox sender) against the in-process fake Slack Web API.

One incident at a time (latency, not throughput). Each incident gets its own channel so
the ~1 message/second/channel pacing, which is deliberate, does not show up as latency.
Usage: python bench/slack.py [--incidents N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from sqlmodel import select

from bot.adapters.alertmanager import AlertmanagerWebhook
from bot.adapters.db.database import Database
from bot.adapters.db.migrate import upgrade
from bot.adapters.db.tables import Incident
from bot.adapters.slack.app import build_bolt_app, mount, web_client
from bot.adapters.slack.deps import SlackDeps
from bot.adapters.slack.identity import Identity
from bot.adapters.slack.metrics import SlackMetrics
from bot.adapters.slack.sender import OutboxSender
from bot.clock import SystemClock
from bot.config import Config, Person
from bot.core.escalation import Policy, Step
from bot.core.routing import Route
from bot.metrics import Metrics
from bot.service.intake import IntakeService
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_signing import SECRET, block_action, signed_headers

TOKEN = "bench-am-token"


def config(n: int) -> Config:
    policy = Policy(
        "default", (Step(("user:alice",), timedelta(minutes=5)),), 0, timedelta(minutes=30)
    )
    return Config(
        path=Path("bench.yaml"),
        slack_channel="C0BENCH000",
        people={"alice": Person("alice", "U0ALICE001")},
        policies={"default": policy},
        routes=tuple(Route({"n": str(i)}, f"C0BENCH{i:03d}", "default") for i in range(n)),
    )


def delivery(i: int, run: str) -> bytes:
    labels = {"alertname": "BenchAlert", "service": "checkout", "n": str(i), "severity": "critical"}
    return json.dumps(
        {
            "version": "4",
            "status": "firing",
            "receiver": "bench",
            "groupKey": f'{{}}:{{alertname="BenchAlert", run="{run}", n="{i}"}}',
            "truncatedAlerts": 0,
            "groupLabels": {"n": str(i)},
            "commonLabels": labels,
            "commonAnnotations": {"summary": "bench"},
            "externalURL": "http://am.invalid",
            "alerts": [
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": {},
                    "startsAt": "2026-11-22T02:14:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "",
                    "fingerprint": f"{i:016x}",
                }
            ],
        }
    ).encode()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"{name:<42} n={len(ms):<4} p50={pct(ms, 0.5):7.1f} ms  p99={pct(ms, 0.99):7.1f} ms"
        f"  max={max(ms):7.1f} ms"
    )


async def main(n: int, database_url: str | None, postgres: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        url = database_url or f"sqlite:///{tmp}/bench.db"
        if postgres and not database_url:
            from tests.support.binaries import postgres_bindir
            from tests.support.postgres import running_cluster

            bindir = postgres_bindir()
            assert bindir, "PostgreSQL binaries not found"
            cluster = stack.enter_context(running_cluster(bindir))
            cluster.psql("CREATE DATABASE bench")
            url = cluster.url("bench")
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        async with FakeSlack() as slack:
            cfg = config(n)
            clock = SystemClock()
            client = web_client("xoxb-bench", slack.url, timeout=5)
            committed: list[float] = []
            deps = SlackDeps(
                db=db, config=cfg, clock=clock, identity=Identity(client), metrics=SlackMetrics()
            )
            sender = OutboxSender(deps, client, poll_interval=0.5)

            def wake_sender() -> None:  # called right after an ownership commit
                committed.append(time.perf_counter())
                sender.wake()

            deps.wake_sender = wake_sender
            intake = IntakeService(
                db, cfg, clock, Metrics(), on_change=lambda r: sender.wake([r.channel])
            )
            app = web.Application()
            app.add_routes(AlertmanagerWebhook(intake, Metrics(), [TOKEN]).routes())
            mount(
                app, build_bolt_app(deps, token="xoxb-bench", signing_secret=SECRET, client=client)
            )
            server = TestServer(app, host="127.0.0.1", port=0)
            await server.start_server()
            stop = asyncio.Event()
            worker = asyncio.create_task(sender.run(stop))
            run = str(int(time.time()))
            to_post: list[float] = []
            click_ack: list[float] = []
            click_commit: list[float] = []
            click_update: list[float] = []
            try:
                async with ClientSession() as http:
                    hook = server.make_url("/alerts/alertmanager")
                    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
                    for i in range(n):
                        start = time.perf_counter()
                        async with http.post(hook, data=delivery(i, run), headers=auth) as r:
                            assert r.status == 200, await r.text()
                        await slack.wait_for("chat.postMessage", i + 1)
                        to_post.append(time.perf_counter() - start)
                    # wait until every ts is stored, then click each incident's button
                    while True:
                        async with db.transaction() as session:
                            rows = (await session.exec(select(Incident))).all()
                        if all(r.slack_ts for r in rows):
                            break
                        await asyncio.sleep(0.05)
                    events = server.make_url("/slack/events")
                    for k, incident in enumerate(sorted(rows, key=lambda r: r.id or 0)):
                        body = block_action(
                            "incident_ack",
                            str(incident.id),
                            channel_id=incident.slack_channel or "",
                            message_ts=incident.slack_ts or "",
                            response_url=slack.response_url(),
                        )
                        start = time.perf_counter()
                        async with http.post(
                            events, data=body.encode(), headers=signed_headers(body)
                        ) as r:
                            assert r.status == 200
                        click_ack.append(time.perf_counter() - start)
                        await slack.wait_for("chat.update", k + 1)
                        click_update.append(time.perf_counter() - start)
                        click_commit.append(committed[k] - start)
            finally:
                stop.set()
                await worker
                await server.close()
                await db.dispose()
            owners = sum(
                1
                for m in slack.calls_to("chat.update")
                if "Owned by <@U0ALICE001>" in json.dumps(m.args["blocks"])
            )
    kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"bench/slack.py: {n} incidents one at a time, {kind}, fake Slack Web API in-process")
    print(report("alert in -> chat.postMessage", to_post))
    print(report("button click -> HTTP 200 (Slack's 3 s)", click_ack))
    print(report("button click -> owner committed", click_commit))
    print(report("button click -> chat.update", click_update))
    print(f"chat.update showing the new owner: {owners}/{n}")
    target = pct(to_post, 0.99) < 0.1 and pct(click_update, 0.99) < 0.1
    print(f"target p99 < 100 ms for both: {'met' if target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="start a throwaway PostgreSQL cluster (initdb/pg_ctl) and use it",
    )
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.incidents, args.database_url, args.postgres)))
