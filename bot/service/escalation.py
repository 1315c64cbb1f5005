"""The transactional half of escalation: claim due incidents, let the core decide, and
write the new state, its events and its outbox rows in the same transaction.

PostgreSQL: due rows are claimed `FOR UPDATE SKIP LOCKED`, so replicas share the work and
an acknowledgement holding the row lock makes the tick pass it by. SQLite: the single
writer serializes everything. Either way a step fires once; the unique outbox keys
(incident, step, loop, target) would refuse a second copy even if it did not.

The tick runs Core statements on a plain connection (on SQLite, the prepared fast path on
the event loop, as intake does): with the ORM, loading and flushing incidents was most of
a busy tick's cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Executable, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.clock import from_db
from bot.adapters.db.prepared import StatementRunner
from bot.adapters.db.tables import EVENTS, INCIDENTS, OUTBOX, Incident
from bot.config import Config
from bot.core import escalation as core
from bot.core.actors import TIMER, Actor
from bot.incident_events import add_event
from bot.service.escalation_writer import EscalatingIncident, PageWriter, Rows
from bot.service.targets import DbOverrides, Reach, active_overrides, overrides_in_force

OPEN = (core.TRIGGERED, core.ACKNOWLEDGED)
Statements = dict[str, Executable]
_COLUMNS = (
    "id",
    "status",
    "esc_step",
    "esc_loop",
    "next_due_at",
    "owner_slack_id",
    "owner_name",
    "acked_at",
    "acked_via",
    "version",
    "policy_snapshot",
    "channel",
    "slack_channel",
)


@dataclass(frozen=True)
class Advanced:
    """One incident moved on by the timer, for metrics and logs."""

    incident_id: int
    due_at: datetime
    steps_fired: int
    gaps: int
    notified: int
    ack_timed_out: bool
    channels: frozenset[str | None] = frozenset()  # where its outbox rows go
    next_due_at: datetime | None = None


@cache
def statements(postgres: bool) -> Statements:
    """Built once and reused, like intake's (and prepared on SQLite)."""
    table = INCIDENTS
    is_open = or_(*(table.c.status == status for status in OPEN))  # no expanding IN
    due = select(*(table.c[name] for name in _COLUMNS)).where(
        table.c.next_due_at <= bindparam("now"), is_open
    )
    claim = due.order_by(table.c.next_due_at).limit(bindparam("limit"))
    one = due.where(table.c.id == bindparam("incident_id"))
    if postgres:
        claim, one = claim.with_for_update(skip_locked=True), one.with_for_update(skip_locked=True)
    return {
        "claim": claim,
        "claim_one": one,
        "due_ids": select(table.c.id)
        .where(table.c.next_due_at <= bindparam("now"), is_open)
        .order_by(table.c.next_due_at)
        .limit(bindparam("limit")),
        "next_due": select(func.min(table.c.next_due_at).label("due")).where(is_open),
        "restarts": select(func.count().label("n")).where(
            EVENTS.c.incident_id == bindparam("incident_id"), EVENTS.c.type == "ack_timeout"
        ),
        "update_incident": update(table).where(table.c.id == bindparam("b_incident")),
        "postpone": update(table)
        .where(table.c.id == bindparam("b_incident"), table.c.next_due_at <= bindparam("b_now"))
        .values(next_due_at=bindparam("until")),
        "insert_events": insert(EVENTS),
        "insert_outbox": insert(OUTBOX),
    }


def advance_due(
    conn: Connection, config: Config, now: datetime, limit: int, *, postgres: bool
) -> list[Advanced]:
    """Claim up to `limit` due incidents and advance each one, in the caller's transaction."""
    return _claim_and_advance(conn, "claim", {"limit": limit}, config, now, postgres)


def advance_one(
    conn: Connection, config: Config, incident_id: int, now: datetime, *, postgres: bool
) -> list[Advanced]:
    """Advance one incident if it is still due (and, on PostgreSQL, not locked)."""
    params = {"incident_id": incident_id}
    return _claim_and_advance(conn, "claim_one", params, config, now, postgres)


def _claim_and_advance(
    conn: Connection,
    claim: str,
    params: dict[str, Any],
    config: Config,
    now: datetime,
    postgres: bool,
) -> list[Advanced]:
    db = StatementRunner(conn, statements(postgres))
    claimed = db.rows(claim, {"now": now, **params})
    return _advance(db, [escalating(row) for row in claimed], config, now)


def due_ids(conn: Connection, now: datetime, limit: int) -> list[int]:
    db = StatementRunner(conn, statements(False))
    return [row.id for row in db.rows("due_ids", {"now": now, "limit": limit})]


def postpone(conn: Connection, incident_id: int, now: datetime, until: datetime) -> None:
    """Move an incident that fails to advance out of the way of the others, unless it has
    moved on meanwhile (acknowledged, resolved, or advanced by another replica)."""
    db = StatementRunner(conn, statements(False))
    db.run("postpone", {"b_incident": incident_id, "b_now": now, "until": until})


def next_due(conn: Connection) -> datetime | None:
    """The earliest due time of any open incident (aware), to plan the next tick."""
    rows = StatementRunner(conn, statements(False)).rows("next_due", {})
    value = rows[0].due if rows else None
    return from_db(value) if isinstance(value, datetime) else None


def _advance(
    db: StatementRunner, incidents: list[EscalatingIncident], config: Config, now: datetime
) -> list[Advanced]:
    if not incidents:
        return []
    overrides = overrides_in_force(db.conn, now)
    rows = Rows()
    advanced = []
    reaches: dict[core.Step, Reach] = {}
    for incident in incidents:
        restarts = _restarts(db, incident.id)
        writer = PageWriter(incident, config, now, overrides, TIMER, restarts, reaches)
        advanced.append(_advance_incident(writer))
        rows.extend(writer.rows)
    changes = [{"b_incident": i.id, **i.changes()} for i in incidents]
    db.run("update_incident", changes)
    _write(db, rows)
    return advanced


def fire_on_open(
    conn: Connection,
    incident: EscalatingIncident,
    policy: core.Policy,
    config: Config,
    now: datetime,
) -> tuple[Advanced, Rows]:
    """Step 1 of an incident that opens now, in the transaction that opens it: the first
    page is never late, and an alert storm leaves the engine nothing to catch up on.
    Its events and outbox rows are the caller's to write."""
    overrides = overrides_in_force(conn, now)
    writer = PageWriter(incident, config, now, overrides, TIMER, restarts=0, policy=policy)
    return _advance_incident(writer, update_message=False), writer.rows


def _advance_incident(writer: PageWriter, *, update_message: bool = True) -> Advanced:
    incident = writer.incident
    due_at = incident.next_due_at
    assert due_at is not None
    result = core.advance(writer.policy, incident.state, writer.now, writer.reaches)
    if result.ack_timed_out:
        writer.ack_timed_out()
    writer.apply(result, update_message=update_message)
    return Advanced(
        incident.id,
        due_at,
        len(result.paged),
        len(result.firings) - len(result.paged),
        writer.notified,
        result.ack_timed_out,
        frozenset(row["channel"] for row in writer.rows.outbox),
        incident.next_due_at,
    )


def _write(db: StatementRunner, rows: Rows) -> None:
    db.run("insert_events", rows.events)
    db.run("insert_outbox", rows.outbox)


def escalating(row: Any) -> EscalatingIncident:
    """The escalation columns of an incident row (Core row or ORM object)."""
    due, acked = row.next_due_at, row.acked_at
    return EscalatingIncident(
        id=row.id,
        status=row.status,
        esc_step=row.esc_step,
        esc_loop=row.esc_loop,
        next_due_at=from_db(due) if due else None,
        owner_slack_id=row.owner_slack_id,
        owner_name=row.owner_name,
        acked_at=from_db(acked) if acked else None,
        acked_via=row.acked_via,
        version=row.version,
        policy_snapshot=row.policy_snapshot or {},
        channel=row.slack_channel or row.channel,
    )


async def escalate_now(
    session: AsyncSession, incident: Incident, config: Config, actor: Actor, now: datetime
) -> None:
    """`/incident escalate ID`: the next step fires now. The caller has loaded (and on
    PostgreSQL locked) the incident; a resolved incident is left alone."""
    if incident.status not in OPEN:
        return
    overrides: DbOverrides = await active_overrides(session, now)
    state = escalating(incident)
    restarts = await session.run_sync(lambda sync: _restarts(_runner(sync), state.id))
    writer = PageWriter(state, config, now, overrides, actor, restarts)
    result = core.escalate_now(writer.policy, state.state, now, writer.reaches)
    if not result.firings:
        add_event(
            session,
            incident,
            "escalated",
            actor,
            counted=False,
            now=now,
            detail="escalation requested, but the policy has no steps to take",
        )
        return
    writer.apply(result)
    for name, value in state.changes().items():
        setattr(incident, name, value)
    session.add(incident)
    await session.run_sync(lambda sync: _write(_runner(sync), writer.rows))


def _runner(session: Session) -> StatementRunner:
    """The ORM session's own connection and transaction, for the Core statements."""
    return StatementRunner(session.connection(), statements(False))


def _restarts(db: StatementRunner, incident_id: int) -> int:
    """How many ack timeouts the incident has had."""
    return int(db.rows("restarts", {"incident_id": incident_id})[0].n)
