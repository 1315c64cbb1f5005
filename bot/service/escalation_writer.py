"""The rows one escalation advance writes: the incident's new state, `escalated`/
`notified`/gap/`ack_timeout` events and the outbox rows (pages, channel pages, thread
entries, runbook checks, the incident message update). The writer only collects them; the
caller writes a whole batch inside its transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.adapters.db.clock import iso
from bot.config import Config
from bot.core import escalation as core
from bot.core.actors import TIMER, Actor
from bot.core.durations import format_duration
from bot.incident_events import event_values
from bot.service.targets import DbOverrides, Reach, Recipient, resolve_step


@dataclass
class EscalatingIncident:
    """The columns of an incident that escalation reads and changes; datetimes aware UTC."""

    id: int
    status: str
    esc_step: int
    esc_loop: int
    next_due_at: datetime | None
    owner_slack_id: str | None
    owner_name: str | None
    acked_at: datetime | None
    acked_via: str | None
    version: int
    policy_snapshot: dict[str, Any]
    channel: str | None  # where its thread lives: the posted channel, else the routed one

    @classmethod
    def opened(
        cls,
        id: int,
        now: datetime,
        version: int,
        policy_snapshot: dict[str, Any],
        channel: str | None,
    ) -> EscalatingIncident:
        """An incident opening at `now`: unowned, nothing fired yet, step 1 due."""
        return cls(
            id=id,
            status=core.TRIGGERED,
            esc_step=0,
            esc_loop=0,
            next_due_at=now,
            owner_slack_id=None,
            owner_name=None,
            acked_at=None,
            acked_via=None,
            version=version,
            policy_snapshot=policy_snapshot,
            channel=channel,
        )

    @property
    def state(self) -> core.EscalationState:
        return core.EscalationState(self.status, self.esc_step, self.esc_loop, self.next_due_at)

    def changes(self) -> dict[str, Any]:
        """What an advance may have changed, as column values."""
        return {
            "status": self.status,
            "esc_step": self.esc_step,
            "esc_loop": self.esc_loop,
            "next_due_at": self.next_due_at,
            "owner_slack_id": self.owner_slack_id,
            "owner_name": self.owner_name,
            "acked_at": self.acked_at,
            "acked_via": self.acked_via,
            "version": self.version,
        }


class PageWriter:
    """Events and outbox rows for one incident's advance; `restarts` is how many ack
    timeouts it has had (it keeps the outbox keys of a restarted escalation distinct)."""

    def __init__(
        self,
        incident: EscalatingIncident,
        config: Config,
        now: datetime,
        overrides: DbOverrides,
        actor: Actor,
        restarts: int,
        reaches: dict[core.Step, Reach] | None = None,
        policy: core.Policy | None = None,
    ) -> None:
        self.incident = incident
        self.id = incident.id
        self.config = config
        self.now = now
        self.overrides = overrides
        self.actor = actor
        # `policy`, when given, is the one the snapshot was just taken from
        self.policy = (
            policy
            if policy is not None
            else core.policy_from_snapshot(incident.policy_snapshot or {})
        )
        self.notified = 0
        # who each step reaches at `now`; a batch shares one (the same steps, overrides, now)
        self._reach = {} if reaches is None else reaches
        self._round = restarts
        self.rows = Rows()

    def reaches(self, step: core.Step) -> bool:
        return bool(self._resolve(step).recipients)

    def _resolve(self, step: core.Step) -> Reach:
        if step not in self._reach:
            self._reach[step] = resolve_step(step, self.config, self.overrides, self.now)
        return self._reach[step]

    def ack_timed_out(self) -> None:
        incident = self.incident
        owner_name, owner_id = incident.owner_name, incident.owner_slack_id
        acked_at = incident.acked_at
        held = f" for {format_duration(self.now - acked_at)}" if acked_at else ""
        self._round += 1
        incident.status = core.TRIGGERED
        incident.owner_slack_id = incident.owner_name = None
        incident.acked_at = incident.acked_via = None
        self._event(
            "ack_timeout",
            TIMER,
            counted=True,
            detail=f"acknowledged by {owner_name or 'someone'}{held} without resolution: "
            "unowned again, escalation restarts at step 1",
            data={"previous_owner": owner_name, "previous_owner_slack_id": owner_id},
        )
        suffix = self._suffix()
        self._outbox(
            "thread",
            f"thread:{self.id}:ack_timeout{suffix}",
            {
                "template": "ack_timeout",
                "previous_owner": owner_name,
                "previous_owner_slack_id": owner_id,
                "at": iso(self.now),
            },
        )
        if owner_id:
            self._outbox(
                "dm",
                f"ack_timeout:{self.id}{suffix}:{owner_id}",
                {
                    "template": "page",
                    "step": 1,
                    "loop": 0,
                    "target": owner_name or owner_id,
                    "reason": f"your acknowledgement of #{self.id} timed out{held} without "
                    "resolution; it is unowned again and escalation has restarted",
                },
                channel=owner_id,
            )

    def apply(self, result: core.Advance, *, update_message: bool = True) -> None:
        """Record the firings and the new state; `update_message=False` when the incident
        message is not posted yet (it will show the state as it is then)."""
        incident = self.incident
        for firing in result.firings:
            if firing.reached:
                self._paged(firing)
            else:
                self._gap(firing)
        incident.status = result.state.status
        incident.esc_step = result.state.step
        incident.esc_loop = result.state.loop
        incident.next_due_at = result.state.next_due_at
        if update_message:
            self._outbox("incident_update", f"update:{self.id}:{incident.version}", {})

    def _paged(self, firing: core.Firing) -> None:
        reach = self._resolve(self.policy.steps[firing.step - 1])
        suffix = self._suffix()
        names = [r.name if r.kind == "person" else f"#{r.name}" for r in reach.recipients]
        detail = f"{_where(firing)}: paged {', '.join(names)}"
        if reach.unreachable:
            detail += f" (not reachable: {'; '.join(reach.unreachable)})"
        self._event(
            "escalated",
            self.actor,
            counted=True,
            detail=detail,
            data={
                "step": firing.step,
                "loop": firing.loop,
                "targets": list(firing.targets),
                "paged": [r.name for r in reach.recipients],
                "unreachable": list(reach.unreachable),
            },
        )
        base = f"{self.id}:{firing.step}:{firing.loop}"
        for r in reach.recipients:
            reason = _reason(r, firing, self.policy.name)
            self._event(
                "notified",
                self.actor,
                counted=False,
                detail=f"{_where(firing)}: {reason}",
                data={
                    "step": firing.step,
                    "loop": firing.loop,
                    "target": r.name,
                    "via": r.via,
                    "slack_id": r.slack_id,
                },
            )
            self.notified += 1
            page = {
                "step": firing.step,
                "loop": firing.loop,
                "target": r.name,
                "via": r.via,
                "reason": reason,
            }
            if r.kind == "person":
                self._outbox(
                    "dm",
                    f"page:{base}:{r.name}{suffix}",
                    {"template": "page", **page},
                    channel=r.slack_id,
                )
                self._outbox(
                    "runbook_check",
                    f"runbook_check:{base}:{r.name}{suffix}",
                    {"person": r.name, "slack_id": r.slack_id, "reason": "paged"},
                )
            else:
                self._outbox(
                    "channel",
                    f"page:{base}:{r.name}{suffix}",
                    {"template": "channel_page", **page},
                    channel=r.slack_id,
                )
        self._outbox(
            "thread",
            f"thread:{self.id}:step_paged:{firing.step}:{firing.loop}{suffix}",
            {
                "template": "step_paged",
                "step": firing.step,
                "loop": firing.loop,
                "people": [{"name": r.name, "slack_id": r.slack_id} for r in reach.people],
                "channels": [r.slack_id for r in reach.channels],
                "unreachable": list(reach.unreachable),
                "actor": self.actor.name,
                "manual": self.actor != TIMER,
            },
        )

    def _gap(self, firing: core.Firing) -> None:
        reach = self._resolve(self.policy.steps[firing.step - 1])
        suffix = self._suffix()
        self._event(
            "escalation_gap",
            self.actor,
            counted=False,
            detail=f"{_where(firing)}: no one was reachable ({'; '.join(reach.unreachable)}); "
            "moving on to the next step",
            data={
                "step": firing.step,
                "loop": firing.loop,
                "targets": list(firing.targets),
                "unreachable": list(reach.unreachable),
            },
        )
        self._outbox(
            "thread",
            f"thread:{self.id}:step_gap:{firing.step}:{firing.loop}{suffix}",
            {
                "template": "step_paged",
                "step": firing.step,
                "loop": firing.loop,
                "people": [],
                "channels": [],
                "unreachable": list(reach.unreachable),
                "actor": self.actor.name,
                "manual": self.actor != TIMER,
            },
        )

    def _suffix(self) -> str:
        # After an ack timeout the same (step, loop) pages again: the restart count keeps
        # those outbox keys distinct from the first round's.
        return f":r{self._round}" if self._round else ""

    def _outbox(
        self, kind: str, key: str, payload: dict[str, Any], channel: str | None = None
    ) -> None:
        incident = self.incident
        self.rows.outbox.append(
            {
                "incident_id": self.id,
                "dedup_key": key,
                "kind": kind,
                "channel": channel or incident.channel,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "not_before": self.now,
                "created_at": self.now,
            }
        )

    def _event(
        self,
        type: str,
        actor: Actor,
        *,
        counted: bool,
        detail: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        """Like `bot.incident_events.add_event` (same row, same version bump), written
        with the batch's other rows in one insert."""
        self.rows.events.append(
            event_values(
                self.id, type, actor, counted=counted, now=self.now, detail=detail, data=data
            )
        )
        self.incident.version += 1


@dataclass
class Rows:
    """Events and outbox rows of a batch: multi-row inserts instead of thousands of ORM
    objects, which were most of a busy tick's cost."""

    events: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: Rows) -> None:
        self.events.extend(other.events)
        self.outbox.extend(other.outbox)


def _where(firing: core.Firing) -> str:
    return f"step {firing.step}" + (f" (pass {firing.loop + 1})" if firing.loop else "")


def _reason(recipient: Recipient, firing: core.Firing, policy: str) -> str:
    kind, _, name = str(recipient.via).partition(":")
    if kind == "schedule":
        why = f"on call for schedule {name}"
    elif kind == "user":
        why = "named in the policy"
    else:
        why = "a channel in the policy"
    return f"paged {recipient.name}: {why}, {_where(firing)} of policy {policy or 'default'}"
