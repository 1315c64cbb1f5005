"""A real Bolt AsyncApp on a real aiohttp server, a real database, and the fake Slack
Web API: everything but Slack itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.adapters.db.clock import to_db
from bot.adapters.db.database import Database
from bot.adapters.db.tables import Alert, Event, Incident, Outbox
from bot.adapters.slack.app import build_bolt_app, mount, web_client
from bot.adapters.slack.deps import SlackDeps
from bot.adapters.slack.identity import Identity
from bot.adapters.slack.metrics import SlackMetrics
from bot.adapters.slack.sender import OutboxSender
from bot.clock import FakeClock
from bot.config import AckSettings, Config, Person
from bot.core.escalation import Policy, Step, policy_to_snapshot
from bot.core.routing import Route
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_signing import SECRET, signed_headers

T = TypeVar("T")

ALICE, BOB, CAROL = "U0ALICE001", "U0BOB00001", "U0CAROL001"
BOT_USER, APP_USER, SLACKBOT = "U0GRAFANA1", "U0APPUSER1", "USLACKBOT"
GUEST_MULTI, GUEST_SINGLE, DELETED = "U0GUEST001", "U0GUEST002", "U0GONE0001"
CHANNEL = "C0INCID001"

POLICY = Policy(
    "default",
    (
        Step(("user:alice",), timedelta(minutes=5)),
        Step(("user:bob", "channel:C0SRELEAD"), timedelta(minutes=10)),
    ),
    repeat=1,
    ack_timeout=timedelta(minutes=30),
)


def make_config(*, allow_guests: bool = False, who: str = "anyone") -> Config:
    return Config(
        path=Path("nightshift.yaml"),
        slack_channel=CHANNEL,
        ack=AckSettings(allow_guests=allow_guests, who=who),
        people={
            "alice": Person("alice", ALICE),
            "bob": Person("bob", BOB),
            "carol": Person("carol", CAROL),
            "carol.contractor": Person("carol.contractor", GUEST_MULTI),
        },
        policies={"default": POLICY},
        routes=(Route({}, CHANNEL, "default"),),
    )


async def eventually(probe: Callable[[], Awaitable[T]], timeout: float = 15.0) -> T:  # noqa: ASYNC109
    """Wait for background listener work (Bolt runs it after answering Slack)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


class Harness:
    def __init__(self, db: Database, slack: FakeSlack, config: Config) -> None:
        self.db = db
        self.slack = slack
        self.clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
        self.client = web_client("xoxb-test-token", slack.url, timeout=2)
        self.metrics = SlackMetrics()
        self.engine_wakes = 0
        self.deps = SlackDeps(
            db=db,
            config=config,
            clock=self.clock,
            identity=Identity(self.client, ttl=60.0),
            metrics=self.metrics,
            wake_engine=self._wake_engine,
        )
        self.bolt = build_bolt_app(
            self.deps, token="xoxb-test-token", signing_secret=SECRET, client=self.client
        )
        self.sender = OutboxSender(self.deps, self.client)
        self.http: TestClient[Any, Any] | None = None

    def _wake_engine(self) -> None:
        self.engine_wakes += 1

    async def start(self) -> Harness:
        app = web.Application()
        mount(app, self.bolt)
        self.http = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await self.http.start_server()
        return self

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()

    # --- requests -------------------------------------------------------------------

    async def post(self, body: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        assert self.http is not None
        response = await self.http.post(
            "/slack/events", data=body.encode(), headers=headers or signed_headers(body)
        )
        return response.status, await response.text()

    # --- state ----------------------------------------------------------------------

    async def incident(
        self,
        *,
        posted: bool = True,
        status: str = "triggered",
        owner: str | None = None,
        **fields: Any,
    ) -> Incident:
        now = self.clock.now()
        async with self.db.transaction() as session:
            incident = Incident(
                receiver="slack",
                group_key=f'{{}}:{{alertname="X{now.timestamp()}"}}',
                open_key=None if status == "resolved" else f"k{id(fields)}{now.timestamp()}",
                title="HighErrorRate checkout",
                severity="critical",
                status=status,
                labels={"alertname": "HighErrorRate", "service": "checkout"},
                channel=CHANNEL,
                policy_name="default",
                policy_snapshot=policy_to_snapshot(POLICY),
                esc_step=1,
                next_due_at=to_db(now + timedelta(minutes=5)),
                opened_at=to_db(now),
                owner_slack_id=owner,
                owner_name="alice" if owner else None,
                acked_at=to_db(now) if owner else None,
                acked_via="button" if owner else None,
                **fields,
            )
            if posted:
                incident.slack_channel = CHANNEL
            session.add(incident)
            await session.flush()
            if posted:
                incident.slack_ts = f"1795309901.{incident.id:06d}"
                self.slack.messages[(CHANNEL, incident.slack_ts)] = {
                    "type": "message",
                    "ts": incident.slack_ts,
                    "text": incident.title,
                }
            session.add(
                Alert(
                    incident_id=incident.id or 0,
                    fingerprint="f1",
                    status="firing",
                    starts_at=to_db(now),
                )
            )
        return incident

    async def get(self, incident_id: int) -> Incident:
        async with self.db.transaction() as session:
            found = await session.get(Incident, incident_id)
        assert found is not None
        return found

    async def events(self, incident_id: int, type: str | None = None) -> list[Event]:
        async with self.db.transaction() as session:
            query = select(Event).where(Event.incident_id == incident_id)
            if type:
                query = query.where(Event.type == type)
            return list((await session.exec(query.order_by(col(Event.id)))).all())

    async def outbox(self, incident_id: int | None = None, kind: str | None = None) -> list[Outbox]:
        async with self.db.transaction() as session:
            query = select(Outbox)
            if incident_id is not None:
                query = query.where(Outbox.incident_id == incident_id)
            if kind:
                query = query.where(Outbox.kind == kind)
            return list((await session.exec(query.order_by(col(Outbox.id)))).all())
