"""Helpers for the escalation store tests: a config in code, incidents, and readers."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from bot.adapters.db.clock import to_db
from bot.adapters.db.database import Database
from bot.adapters.db.tables import Event, Incident, Outbox
from bot.config import Config, Person
from bot.core.escalation import Policy, Step, policy_to_snapshot
from bot.core.schedule import Override, Rotation, Schedule

T0 = datetime(2026, 11, 22, 2, 17, tzinfo=UTC)  # a Sunday night; alice's rotation week
MIN = timedelta(minutes=1)

PEOPLE = {
    name: Person(name, slack)
    for name, slack in [
        ("alice", "U0ALICE001"),
        ("bob", "U0BOB00001"),
        ("carol", "U0CAROL001"),
        ("dave", "U0DAVE0001"),
        ("nobody", None),
    ]
}
PRIMARY = Schedule(
    "primary",
    "Europe/Berlin",
    Rotation(timedelta(weeks=1), datetime(2026, 11, 16, 9), ("alice", "bob")),
)
# only covers office hours on one day: empty at T0
DAYTIME = Schedule(
    "daytime",
    "Europe/Berlin",
    None,
    (
        Override(
            "dave", datetime(2026, 11, 23, 9, tzinfo=UTC), datetime(2026, 11, 23, 17, tzinfo=UTC)
        ),
    ),
)
DEFAULT = Policy(
    "default",
    (Step(("schedule:primary",), 5 * MIN), Step(("user:carol", "channel:C0SRELEAD"), 10 * MIN)),
    repeat=1,
    ack_timeout=30 * MIN,
)
GAPPY = Policy(
    "gappy",
    (Step(("schedule:daytime", "user:nobody"), 5 * MIN), Step(("user:bob",), 10 * MIN)),
)

CONFIG = Config(
    path=Path("nightshift.yaml"),
    slack_channel="C0INCID001",
    people=PEOPLE,
    schedules={"primary": PRIMARY, "daytime": DAYTIME},
    policies={"default": DEFAULT, "gappy": GAPPY},
)


async def open_incident(
    db: Database, policy: Policy = DEFAULT, at: datetime = T0, key: str = "g"
) -> int:
    """An incident as the intake leaves it: step 0, due now, the policy snapshotted."""
    async with db.transaction() as session:
        incident = Incident(
            receiver="bot",
            group_key=key,
            open_key=f"bot\n{key}",
            title=f"incident {key}",
            channel="C0INCID001",
            policy_name=policy.name,
            policy_snapshot=policy_to_snapshot(policy),
            next_due_at=to_db(at),
            opened_at=to_db(at),
        )
        session.add(incident)
        await session.flush()
        assert incident.id is not None
        return incident.id


async def incident(db: Database, incident_id: int) -> Incident:
    async with db.transaction() as session:
        row = (await session.exec(select(Incident).where(Incident.id == incident_id))).one()
        return row


async def events(db: Database, incident_id: int, *types: str) -> list[Event]:
    async with db.transaction() as session:
        query = select(Event).where(Event.incident_id == incident_id).order_by(col(Event.id))
        rows = list((await session.exec(query)).all())
    return [e for e in rows if not types or e.type in types]


async def pages(db: Database, incident_id: int | None = None) -> list[tuple[Any, ...]]:
    """(incident, step, loop, target) of every `notified` event, in order."""
    async with db.transaction() as session:
        query = select(Event).where(Event.type == "notified").order_by(col(Event.id))
        if incident_id is not None:
            query = query.where(Event.incident_id == incident_id)
        rows = (await session.exec(query)).all()
    return [(e.incident_id, e.data["step"], e.data["loop"], e.data["target"]) for e in rows]


async def outbox(db: Database, incident_id: int, kind: str | None = None) -> list[Outbox]:
    async with db.transaction() as session:
        query = select(Outbox).where(Outbox.incident_id == incident_id).order_by(col(Outbox.id))
        rows = list((await session.exec(query)).all())
    return [r for r in rows if kind is None or r.kind == kind]


def duplicates(items: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [item for item, n in Counter(items).items() if n > 1]
