"""The escalation engine's transactions on real SQLite and PostgreSQL, on a fake clock."""

from __future__ import annotations

from bot.adapters.db.clock import from_db, to_db
from bot.adapters.db.database import Database
from bot.adapters.db.tables import ScheduleOverride
from bot.adapters.engine import EscalationEngine
from bot.clock import FakeClock
from bot.core.ack import UserFacts
from bot.core.actors import Actor, ActorKind
from bot.service import ownership
from bot.service.escalation import escalate_now
from bot.service.ownership import load_for_update
from tests.conftest import shared_fixtures
from tests.service.escalation_support import (
    CONFIG,
    GAPPY,
    MIN,
    T0,
    events,
    incident,
    open_incident,
    outbox,
    pages,
)

BOB = UserFacts("U0BOB00001", "bob")


def engine(db: Database, clock: FakeClock | None = None) -> EscalationEngine:
    return EscalationEngine(db, CONFIG, clock or FakeClock(T0))


async def test_step_one_fires_when_the_incident_opens(database: Database) -> None:
    iid = await open_incident(database)
    assert await engine(database).tick(T0) == 1
    assert await pages(database, iid) == [(iid, 1, 0, "alice")]
    row = await incident(database, iid)
    assert (row.status, row.esc_step, row.esc_loop) == ("triggered", 1, 0)
    assert from_db(row.next_due_at) == T0 + 5 * MIN  # type: ignore[arg-type]
    [escalated] = await events(database, iid, "escalated")
    assert escalated.data["step"] == 1 and escalated.actor_kind == "system"
    [dm] = await outbox(database, iid, "dm")
    assert dm.dedup_key == f"page:{iid}:1:0:alice" and dm.channel == "U0ALICE001"
    assert (
        dm.payload["template"] == "page" and "on call for schedule primary" in dm.payload["reason"]
    )
    [thread] = await outbox(database, iid, "thread")
    assert thread.payload["template"] == "step_paged"
    assert thread.payload["people"] == [{"name": "alice", "slack_id": "U0ALICE001"}]
    [check] = await outbox(database, iid, "runbook_check")
    assert check.payload == {"person": "alice", "slack_id": "U0ALICE001", "reason": "paged"}
    assert len(await outbox(database, iid, "incident_update")) == 1


async def test_every_step_and_pass_fires_once_then_stops(database: Database) -> None:
    iid = await open_incident(database)
    e = engine(database)
    for minute in range(0, 60):  # ticking every minute, and twice at each instant
        await e.tick(T0 + minute * MIN)
        await e.tick(T0 + minute * MIN)
    assert await pages(database, iid) == [
        (iid, 1, 0, "alice"),
        (iid, 2, 0, "carol"),
        (iid, 2, 0, "C0SRELEAD"),
        (iid, 1, 1, "alice"),
        (iid, 2, 1, "carol"),
        (iid, 2, 1, "C0SRELEAD"),
    ]
    times = [e.at for e in await events(database, iid, "escalated")]
    assert times == [to_db(T0 + m * MIN) for m in (0, 5, 15, 20)]
    row = await incident(database, iid)
    assert (row.status, row.esc_step, row.esc_loop, row.next_due_at) == ("triggered", 2, 1, None)
    [channel] = [r for r in await outbox(database, iid, "channel") if ":2:0:" in r.dedup_key]
    assert channel.channel == "C0SRELEAD" and channel.payload["template"] == "channel_page"


async def test_late_start_fires_overdue_step_once(database: Database) -> None:
    iid = await open_incident(database)
    e = engine(database)
    await e.tick(T0)
    # the process was down from 00:01 to 00:47: steps 2 and (1, pass 2) fell due meanwhile
    assert await e.tick(T0 + 47 * MIN) == 1
    assert await pages(database, iid) == [
        (iid, 1, 0, "alice"),
        (iid, 2, 0, "carol"),
        (iid, 2, 0, "C0SRELEAD"),
    ]
    row = await incident(database, iid)
    assert from_db(row.next_due_at) == T0 + 57 * MIN  # type: ignore[arg-type]


async def test_a_step_reaching_nobody_is_a_gap_and_the_next_fires_at_once(
    database: Database,
) -> None:
    iid = await open_incident(database, GAPPY)
    await engine(database).tick(T0)
    [gap] = await events(database, iid, "escalation_gap")
    assert gap.data["step"] == 1
    assert "no one was reachable" in gap.detail
    assert "schedule:daytime: nobody on call" in gap.detail
    assert "nobody has no Slack id" in gap.detail
    assert await pages(database, iid) == [(iid, 2, 0, "bob")]
    row = await incident(database, iid)
    assert (row.esc_step, row.next_due_at) == (2, None)  # the last step of the only pass
    assert row.status == "triggered"


async def test_slack_overrides_win_over_the_rotation(database: Database) -> None:
    async with database.transaction() as session:
        session.add(
            ScheduleOverride(
                schedule="primary",
                person="dave",
                starts_at=to_db(T0 - 60 * MIN),
                ends_at=to_db(T0 + 60 * MIN),
                created_by="U0BOB00001",
                created_at=to_db(T0),
            )
        )
    iid = await open_incident(database)
    await engine(database).tick(T0)
    assert await pages(database, iid) == [(iid, 1, 0, "dave")]


async def test_ack_stops_then_times_out_and_restarts(database: Database) -> None:
    iid = await open_incident(database)
    e = engine(database)
    await e.tick(T0)
    outcome = await ownership.acknowledge(
        database, CONFIG, iid, BOB.id, BOB, "button", T0 + 2 * MIN
    )
    assert outcome.result == "counted"
    for minute in range(3, 32):
        await e.tick(T0 + minute * MIN)
    assert await pages(database, iid) == [(iid, 1, 0, "alice")]  # nothing while owned
    await e.tick(T0 + 32 * MIN)  # 30 minutes after the ack
    row = await incident(database, iid)
    assert (row.status, row.owner_slack_id, row.esc_step, row.esc_loop) == ("triggered", None, 1, 0)
    [timeout] = await events(database, iid, "ack_timeout")
    assert timeout.data["previous_owner_slack_id"] == "U0BOB00001" and timeout.counted
    assert await pages(database, iid) == [(iid, 1, 0, "alice"), (iid, 1, 0, "alice")]
    keys = [r.dedup_key for r in await outbox(database, iid, "dm")]
    assert keys == [
        f"page:{iid}:1:0:alice",
        f"ack_timeout:{iid}:r1:U0BOB00001",  # the previous owner is told
        f"page:{iid}:1:0:alice:r1",  # and whoever is on call now
    ]
    await e.tick(T0 + 37 * MIN)
    assert (await pages(database, iid))[-1] == (iid, 2, 0, "C0SRELEAD")


async def test_refused_acks_never_pause_escalation(database: Database) -> None:
    iid = await open_incident(database)
    e = engine(database)
    await e.tick(T0)
    bot_user = UserFacts("B0GRAFANA1", "triage-agent", is_bot=True)
    outcome = await ownership.acknowledge(
        database, CONFIG, iid, bot_user.id, bot_user, "button", T0 + MIN
    )
    assert outcome.result == "refused"
    await e.tick(T0 + 5 * MIN)
    assert [p[1] for p in await pages(database, iid)] == [1, 2, 2]


async def test_resolution_stops_everything(database: Database) -> None:
    iid = await open_incident(database)
    e = engine(database)
    await e.tick(T0)
    outcome = await ownership.resolve(database, CONFIG, iid, BOB.id, BOB, "button", T0 + MIN)
    assert outcome.result == "counted"
    for minute in range(2, 60, 3):
        assert await e.tick(T0 + minute * MIN) == 0
    assert len(await pages(database, iid)) == 1


async def test_escalate_now_jumps_to_the_next_step(database: Database) -> None:
    iid = await open_incident(database)
    e = engine(database)
    await e.tick(T0)
    human = Actor(ActorKind.HUMAN, "U0BOB00001", "bob")
    async with database.transaction() as session:
        row = await load_for_update(session, database, iid)
        assert row is not None
        await escalate_now(session, row, CONFIG, human, T0 + MIN)
    assert await pages(database, iid) == [
        (iid, 1, 0, "alice"),
        (iid, 2, 0, "carol"),
        (iid, 2, 0, "C0SRELEAD"),
    ]
    [_, manual] = await events(database, iid, "escalated")
    assert manual.actor_kind == "human" and manual.actor_name == "bob"
    row = await incident(database, iid)
    assert from_db(row.next_due_at) == T0 + 11 * MIN  # type: ignore[arg-type]
    assert await e.tick(T0 + 5 * MIN) == 0  # the old due time is gone


async def test_engine_wakes_and_fires_through_apscheduler(database: Database) -> None:
    import asyncio
    from datetime import UTC, datetime

    from bot.clock import SystemClock

    clock = SystemClock()
    e = EscalationEngine(database, CONFIG, clock, idle_poll=5.0)
    e.start()
    try:
        await asyncio.sleep(0.05)  # the first tick finds nothing
        iid = await open_incident(database, at=datetime.now(UTC))
        e.wake()
        for _ in range(100):
            if await pages(database, iid):
                break
            await asyncio.sleep(0.02)
        assert await pages(database, iid) == [(iid, 1, 0, "alice")]
        assert e.metrics.lateness._sum.get() < 1.0  # type: ignore[attr-defined]
    finally:
        await e.stop()


async def test_step_one_fires_in_the_transaction_that_opens_the_incident(
    database_url: str,
) -> None:
    from tests.support.server import AM_TOKEN, START, running_app

    body = (shared_fixtures() / "alertmanager" / "firing-single.json").read_bytes()
    async with running_app(database_url) as (client, app):
        await app.engine.stop()  # no tick can be what pages here
        await app.slack.stop()  # nor hold the row while a tick below claims it (PostgreSQL)
        response = await client.post(
            "/alerts/alertmanager", data=body, headers={"Authorization": f"Bearer {AM_TOKEN}"}
        )
        [iid] = (await response.json())["incidents"]
        assert await pages(app.db, iid) == [(iid, 1, 0, "alice")]  # committed with the open
        row = await incident(app.db, iid)
        wait = app.config.policies["default"].steps[0].wait
        assert (row.esc_step, from_db(row.next_due_at)) == (1, START + wait)  # type: ignore[arg-type]
        [opened, *_, escalated, notified] = await events(app.db, iid)
        assert (opened.type, escalated.type, notified.type) == ("opened", "escalated", "notified")
        assert row.version == len(await events(app.db, iid))
        # the message is posted with step 1 on it: no separate update is queued
        assert [r.kind for r in await outbox(app.db, iid) if "update" in r.kind] == []
        text = await (await client.get("/metrics")).text()
        assert "nightshift_escalation_lateness_seconds_count 1.0" in text
        assert "nightshift_escalation_notifications_total 1.0" in text
        assert await app.engine.tick(START) == 0  # nothing left due: no second page
        assert await app.engine.tick(START + wait) == 1
        assert [p[1:] for p in await pages(app.db, iid)] == [
            (1, 0, "alice"),
            (2, 0, "carol"),
            (2, 0, "C0SRELEAD"),
        ]


async def test_an_incident_that_cannot_advance_is_postponed_and_the_others_fire(
    database: Database,
) -> None:
    from sqlmodel import update

    from bot.adapters.db.tables import Incident
    from bot.adapters.engine import QUARANTINE

    poison = await open_incident(database, key="poison")
    healthy = [await open_incident(database, key=f"ok{n}") for n in range(3)]
    async with database.transaction() as session:  # a snapshot the core cannot read
        broken = {"name": "broken", "steps": [{"targets": ["user:bob"]}]}
        await session.exec(  # type: ignore[call-overload]
            update(Incident).where(Incident.id == poison).values(policy_snapshot=broken)
        )
    e = engine(database)
    assert await e.tick(T0) == 3
    assert e.metrics.errors._value.get() == 2  # type: ignore[attr-defined]  # batch, then it
    assert sorted(i for i, *_ in await pages(database)) == healthy
    row = await incident(database, poison)
    assert from_db(row.next_due_at) == T0 + QUARANTINE  # type: ignore[arg-type]
    assert (row.esc_step, await events(database, poison, "escalated")) == (0, [])
    assert await e.tick(T0 + MIN) == 0  # out of the way until the quarantine ends


async def test_postponing_leaves_an_incident_that_moved_on_alone(database: Database) -> None:
    from functools import partial

    from bot.adapters.engine import QUARANTINE
    from bot.service.escalation import postpone

    iid = await open_incident(database)
    await engine(database).tick(T0)  # step 1 fired: due again in 5 minutes
    later = partial(postpone, incident_id=iid, now=T0, until=T0 + QUARANTINE)
    await database.run_sync(later)
    assert from_db((await incident(database, iid)).next_due_at) == T0 + 5 * MIN  # type: ignore[arg-type]
