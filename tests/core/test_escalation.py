"""The escalation rules, driven on a fake timeline: ticks, acks and manual escalations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.escalation import (
    ACKNOWLEDGED,
    RESOLVED,
    TRIGGERED,
    EscalationState,
    Policy,
    Step,
    acknowledge,
    advance,
    escalate_now,
    policy_from_snapshot,
    policy_to_snapshot,
)

T0 = datetime(2026, 11, 22, 2, 17, tzinfo=UTC)
M = timedelta(minutes=1)

TWO_STEPS = Policy(
    "default",
    (
        Step(("schedule:primary",), 5 * M),
        Step(("user:bob", "channel:C0SRELEAD"), 10 * M),
    ),
    repeat=1,
    ack_timeout=30 * M,
)


# the same policy with an ack timeout beyond the simulated two hours
LONG_ACK = Policy("default", TWO_STEPS.steps, repeat=1, ack_timeout=timedelta(hours=3))


def everyone(_step: Step) -> bool:
    return True


def nobody_at(*targets: str) -> Callable[[Step], bool]:
    def reaches(step: Step) -> bool:
        return not set(step.targets) & set(targets)

    return reaches


def simulate(
    policy: Policy,
    actions: list[tuple[int, str]],
    reaches: Callable[[Step], bool] = everyone,
    until: int = 120,
) -> tuple[list[tuple[int, int, int, bool]], EscalationState]:
    """Tick every minute from T0 (when the incident opens) to T0+until; `actions` are
    (minute, "ack" | "escalate" | "resolve") applied before that minute's tick.
    Returns (minute, step, loop, reached) per firing and the final state."""
    state = EscalationState(TRIGGERED, 0, 0, T0)
    fired: list[tuple[int, int, int, bool]] = []
    for minute in range(until + 1):
        now = T0 + minute * M
        for at, action in actions:
            if at != minute:
                continue
            if action == "ack":
                state = acknowledge(policy, state, now)
            elif action == "resolve":
                state = EscalationState(RESOLVED, state.step, state.loop, None)
            else:
                result = escalate_now(policy, state, now, reaches)
                fired += [(minute, f.step, f.loop, f.reached) for f in result.firings]
                state = result.state
        # like the engine, keep advancing while something is due at this instant
        while (result := advance(policy, state, now, reaches)).state != state:
            fired += [(minute, f.step, f.loop, f.reached) for f in result.firings]
            state = result.state
    return fired, state


@pytest.mark.parametrize(
    ("name", "policy", "actions", "reaches", "expected", "final"),
    [
        (
            "every step and both passes, then silence",
            TWO_STEPS,
            [],
            everyone,
            [(0, 1, 0, True), (5, 2, 0, True), (15, 1, 1, True), (20, 2, 1, True)],
            EscalationState(TRIGGERED, 2, 1, None),
        ),
        (
            "no repeat: one pass",
            Policy("p", TWO_STEPS.steps),
            [],
            everyone,
            [(0, 1, 0, True), (5, 2, 0, True)],
            EscalationState(TRIGGERED, 2, 0, None),
        ),
        (
            "repeat 2: three passes",
            Policy("p", (Step(("user:a",), 3 * M),), repeat=2),
            [],
            everyone,
            [(0, 1, 0, True), (3, 1, 1, True), (6, 1, 2, True)],
            EscalationState(TRIGGERED, 1, 2, None),
        ),
        (
            "an empty first step is a gap and the next step fires at once",
            TWO_STEPS,
            [],
            nobody_at("schedule:primary"),
            [(0, 1, 0, False), (0, 2, 0, True), (10, 1, 1, False), (10, 2, 1, True)],
            EscalationState(TRIGGERED, 2, 1, None),
        ),
        (
            "an empty last step ends the pass at once",
            TWO_STEPS,
            [],
            nobody_at("user:bob"),
            [(0, 1, 0, True), (5, 2, 0, False), (5, 1, 1, True), (10, 2, 1, False)],
            EscalationState(TRIGGERED, 2, 1, None),
        ),
        (
            "everything empty: one pass of gaps, then no due time",
            TWO_STEPS,
            [],
            nobody_at("schedule:primary", "user:bob"),
            [(0, 1, 0, False), (0, 2, 0, False)],
            EscalationState(TRIGGERED, 2, 0, None),
        ),
        (
            "zero wait fires the next step on the same tick",
            Policy("p", (Step(("user:a",), 0 * M), Step(("user:b",), 0 * M))),
            [],
            everyone,
            [(0, 1, 0, True), (0, 2, 0, True)],
            EscalationState(TRIGGERED, 2, 0, None),
        ),
        (
            "ack stops further steps",
            LONG_ACK,
            [(3, "ack")],
            everyone,
            [(0, 1, 0, True)],
            EscalationState(ACKNOWLEDGED, 1, 0, T0 + 183 * M),
        ),
        (
            "ack timeout restarts at step 1, pass 0",
            TWO_STEPS,
            [(3, "ack"), (40, "resolve")],
            everyone,
            [(0, 1, 0, True), (33, 1, 0, True), (38, 2, 0, True)],
            EscalationState(RESOLVED, 2, 0, None),
        ),
        (
            "ack without a timeout holds forever",
            Policy("p", TWO_STEPS.steps, repeat=1),
            [(3, "ack")],
            everyone,
            [(0, 1, 0, True)],
            EscalationState(ACKNOWLEDGED, 1, 0, None),
        ),
        (
            "ack on the due instant, before the tick: the step does not fire",
            LONG_ACK,
            [(5, "ack")],
            everyone,
            [(0, 1, 0, True)],
            EscalationState(ACKNOWLEDGED, 1, 0, T0 + 185 * M),
        ),
        (
            "ack just after the tick fired: that step stands, nothing after it",
            LONG_ACK,
            [(6, "ack")],
            everyone,
            [(0, 1, 0, True), (5, 2, 0, True)],
            EscalationState(ACKNOWLEDGED, 2, 0, T0 + 186 * M),
        ),
        (
            "resolve stops everything",
            TWO_STEPS,
            [(7, "resolve")],
            everyone,
            [(0, 1, 0, True), (5, 2, 0, True)],
            EscalationState(RESOLVED, 2, 0, None),
        ),
        (
            "escalate now jumps ahead and restarts the wait",
            TWO_STEPS,
            [(2, "escalate")],
            everyone,
            [(0, 1, 0, True), (2, 2, 0, True), (12, 1, 1, True), (17, 2, 1, True)],
            EscalationState(TRIGGERED, 2, 1, None),
        ),
        (
            "escalate after the last pass runs one more pass",
            TWO_STEPS,
            [(30, "escalate"), (31, "escalate")],
            everyone,
            [
                (0, 1, 0, True),
                (5, 2, 0, True),
                (15, 1, 1, True),
                (20, 2, 1, True),
                (30, 1, 2, True),
                (31, 2, 2, True),
            ],
            EscalationState(TRIGGERED, 2, 2, None),
        ),
        (
            "escalate while acknowledged keeps the owner's timeout",
            TWO_STEPS,
            [(3, "ack"), (4, "escalate"), (40, "resolve")],
            everyone,
            [(0, 1, 0, True), (4, 2, 0, True), (33, 1, 0, True), (38, 2, 0, True)],
            EscalationState(RESOLVED, 2, 0, None),
        ),
        (
            "escalate skips an empty step",
            TWO_STEPS,
            [(1, "escalate")],
            nobody_at("user:bob"),
            [(0, 1, 0, True), (1, 2, 0, False), (1, 1, 1, True), (6, 2, 1, False)],
            EscalationState(TRIGGERED, 2, 1, None),
        ),
    ],
)
def test_escalation_timeline(
    name: str,
    policy: Policy,
    actions: list[tuple[int, str]],
    reaches: Callable[[Step], bool],
    expected: list[tuple[int, int, int, bool]],
    final: EscalationState,
) -> None:
    fired, state = simulate(policy, actions, reaches)
    assert fired == expected, name
    assert state == final, name


def test_a_late_tick_fires_once_and_keeps_the_full_wait() -> None:
    state = EscalationState(TRIGGERED, 1, 0, T0 + 5 * M)
    late = T0 + 47 * M  # the process was down across several due times
    result = advance(TWO_STEPS, state, late, everyone)
    assert [(f.step, f.loop) for f in result.firings] == [(2, 0)]
    assert result.state == EscalationState(TRIGGERED, 2, 0, late + 10 * M)


def test_ack_timeout_is_reported() -> None:
    state = EscalationState(ACKNOWLEDGED, 2, 1, T0)
    result = advance(TWO_STEPS, state, T0, everyone)
    assert result.ack_timed_out
    assert [(f.step, f.loop) for f in result.firings] == [(1, 0)]
    assert result.state == EscalationState(TRIGGERED, 1, 0, T0 + 5 * M)


@pytest.mark.parametrize("status", [TRIGGERED, ACKNOWLEDGED, RESOLVED])
def test_nothing_happens_before_the_due_time(status: str) -> None:
    state = EscalationState(status, 1, 0, T0 + M)
    assert advance(TWO_STEPS, state, T0, everyone).firings == ()
    assert advance(TWO_STEPS, state, T0, everyone).state == state


def test_snapshot_round_trip() -> None:
    snapshot = policy_to_snapshot(TWO_STEPS)
    assert policy_from_snapshot(snapshot) == TWO_STEPS
    assert (
        policy_from_snapshot(policy_to_snapshot(Policy("p", TWO_STEPS.steps))).ack_timeout is None
    )
