"""Escalation policies and the pure rules that advance an incident through them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Step:
    targets: tuple[str, ...]  # "schedule:NAME" | "user:NAME" | "channel:ID"
    wait: timedelta


@dataclass(frozen=True)
class Policy:
    name: str
    steps: tuple[Step, ...]
    repeat: int = 0
    ack_timeout: timedelta | None = None


def policy_to_snapshot(policy: Policy) -> dict[str, object]:
    """The JSON copy stored on an incident when it opens; config edits never touch it."""
    return {
        "name": policy.name,
        "steps": [
            {"targets": list(step.targets), "wait_s": step.wait.total_seconds()}
            for step in policy.steps
        ],
        "repeat": policy.repeat,
        "ack_timeout_s": policy.ack_timeout.total_seconds() if policy.ack_timeout else None,
    }


def policy_from_snapshot(snapshot: dict[str, object]) -> Policy:
    steps = snapshot.get("steps", [])
    ack_timeout = snapshot.get("ack_timeout_s")
    repeat = snapshot.get("repeat", 0)
    assert isinstance(steps, list)
    return Policy(
        name=str(snapshot.get("name", "")),
        steps=tuple(
            Step(targets=tuple(s["targets"]), wait=timedelta(seconds=float(s["wait_s"])))
            for s in steps
        ),
        repeat=int(repeat) if isinstance(repeat, int | float | str) else 0,
        ack_timeout=timedelta(seconds=float(ack_timeout))
        if isinstance(ack_timeout, int | float)
        else None,
    )


# Statuses as stored on the incident.
TRIGGERED = "triggered"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"


@dataclass(frozen=True)
class EscalationState:
    status: str
    step: int  # 1-based step that fired last; 0 before the first
    loop: int  # 0-based pass
    next_due_at: datetime | None  # aware


@dataclass(frozen=True)
class Firing:
    """One step taken: `reached` is False when its targets resolved to nobody (a gap)."""

    step: int
    loop: int
    targets: tuple[str, ...]
    reached: bool


@dataclass(frozen=True)
class Advance:
    """What to do now: the steps taken in order, and the incident's new escalation state."""

    firings: tuple[Firing, ...]
    state: EscalationState
    ack_timed_out: bool = False

    @property
    def paged(self) -> tuple[Firing, ...]:
        return tuple(f for f in self.firings if f.reached)


Reaches = Callable[[Step], bool]


def is_due(state: EscalationState, now: datetime) -> bool:
    return (
        state.status in (TRIGGERED, ACKNOWLEDGED)
        and state.next_due_at is not None
        and state.next_due_at <= now
    )


def next_position(policy: Policy, step: int, loop: int) -> tuple[int, int] | None:
    """The step after (step, loop) while unowned, or None after the last step of the
    last pass. Step 0 means nothing has fired yet."""
    if not policy.steps:
        return None
    if step < len(policy.steps):
        return step + 1, loop
    if loop < policy.repeat:
        return 1, loop + 1
    return None


def advance(policy: Policy, state: EscalationState, now: datetime, reaches: Reaches) -> Advance:
    """The timer rule, applied when the incident's due time has come.

    triggered: fire the next step; its `wait` sets the next due time (counted from now, so a
    late step still leaves people the full wait). acknowledged: the ack timed out — back to
    triggered and restart at step 1. Nothing due: nothing changes.
    """
    if not is_due(state, now):
        return Advance((), state)
    if state.status == ACKNOWLEDGED:
        fresh = EscalationState(TRIGGERED, 0, 0, now)
        restarted = _fire_from(policy, fresh, next_position(policy, 0, 0), now, reaches)
        return Advance(restarted.firings, restarted.state, ack_timed_out=True)
    return _fire_from(policy, state, next_position(policy, state.step, state.loop), now, reaches)


def escalate_now(
    policy: Policy, state: EscalationState, now: datetime, reaches: Reaches
) -> Advance:
    """`/incident escalate`: take the next step at once. Past the last step of the last
    pass it keeps going with another pass, since a person asked for more help. An
    acknowledged incident keeps its owner and its ack-timeout due time."""
    if state.status == RESOLVED or not policy.steps:
        return Advance((), state)
    step, loop = state.step, state.loop
    position = (step + 1, loop) if step < len(policy.steps) else (1, loop + 1)
    result = _fire_from(policy, state, position, now, reaches, extra_pass=True)
    if state.status == ACKNOWLEDGED:
        kept = EscalationState(
            ACKNOWLEDGED, result.state.step, result.state.loop, state.next_due_at
        )
        return Advance(result.firings, kept)
    return result


def acknowledge(policy: Policy, state: EscalationState, now: datetime) -> EscalationState:
    """A counted human acknowledgement: no further steps; due again only for the timeout."""
    due = now + policy.ack_timeout if policy.ack_timeout else None
    return EscalationState(ACKNOWLEDGED, state.step, state.loop, due)


def _fire_from(
    policy: Policy,
    state: EscalationState,
    position: tuple[int, int] | None,
    now: datetime,
    reaches: Reaches,
    *,
    extra_pass: bool = False,
) -> Advance:
    """Fire `position`; a step that reaches nobody is a gap and the next one fires at once.
    After a whole pass of gaps at one instant every further step would be a gap too, so
    the escalation stops there instead of spinning through the remaining passes."""
    firings: list[Firing] = []
    step, loop = state.step, state.loop
    budget = len(policy.steps)
    while position is not None and budget > 0:
        budget -= 1
        step, loop = position
        current = policy.steps[step - 1]
        reached = reaches(current)
        firings.append(Firing(step, loop, current.targets, reached))
        position = _after(policy, step, loop, extra_pass)
        if reached:
            due = now + current.wait if position is not None else None
            return Advance(tuple(firings), EscalationState(state.status, step, loop, due))
    return Advance(tuple(firings), EscalationState(state.status, step, loop, None))


def _after(policy: Policy, step: int, loop: int, extra_pass: bool) -> tuple[int, int] | None:
    if extra_pass and loop > policy.repeat:
        # A manual pass beyond the policy's repeats runs to its end, then stops.
        return (step + 1, loop) if step < len(policy.steps) else None
    return next_position(policy, step, loop)
