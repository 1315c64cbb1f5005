"""Ownership transitions as pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.incident import (
    Acknowledge,
    Blocked,
    HandBack,
    Ownership,
    Refused,
    Resolve,
    decide_ack,
    decide_resolve,
    decide_unack,
    parse_incident_id,
)

NOW = datetime(2026, 11, 22, 2, 19, tzinfo=UTC)
TRIGGERED = Ownership("triggered")
OWNED = Ownership("acknowledged", "U0ALICE001", "alice")
RESOLVED = Ownership("resolved")


def test_ack_of_triggered_incident() -> None:
    decision = decide_ack(TRIGGERED, "U0ALICE001", "alice", "button", NOW, timedelta(minutes=30))
    assert decision == Acknowledge(
        "U0ALICE001", "alice", NOW, "button", NOW + timedelta(minutes=30)
    )
    without_timeout = decide_ack(TRIGGERED, "U0ALICE001", "alice", "command", NOW, None)
    assert isinstance(without_timeout, Acknowledge) and without_timeout.next_due_at is None


@pytest.mark.parametrize(
    ("current", "user", "code"),
    [
        (RESOLVED, "U0ALICE001", Blocked.ALREADY_RESOLVED),
        (OWNED, "U0ALICE001", Blocked.ALREADY_OWNER),
        (OWNED, "U0BOB00001", Blocked.OWNED_BY_OTHER),
    ],
)
def test_ack_refusals(current: Ownership, user: str, code: Blocked) -> None:
    decision = decide_ack(current, user, "x", "button", NOW, None)
    assert isinstance(decision, Refused) and decision.code == code and decision.message


def test_owned_by_other_names_the_owner() -> None:
    decision = decide_ack(OWNED, "U0BOB00001", "bob", "button", NOW, None)
    assert isinstance(decision, Refused) and "<@U0ALICE001>" in decision.message


@pytest.mark.parametrize(
    ("current", "user", "expected"),
    [
        (OWNED, "U0ALICE001", HandBack(NOW)),
        (OWNED, "U0BOB00001", Blocked.NOT_OWNER),
        (TRIGGERED, "U0ALICE001", Blocked.NOT_OWNED),
        (RESOLVED, "U0ALICE001", Blocked.ALREADY_RESOLVED),
    ],
)
def test_unack(current: Ownership, user: str, expected: object) -> None:
    decision = decide_unack(current, user, NOW)
    if isinstance(expected, Blocked):
        assert isinstance(decision, Refused) and decision.code == expected
    else:
        assert decision == expected


def test_resolve() -> None:
    assert decide_resolve(TRIGGERED, NOW) == Resolve(NOW)
    assert decide_resolve(OWNED, NOW) == Resolve(NOW)
    refused = decide_resolve(RESOLVED, NOW)
    assert isinstance(refused, Refused) and refused.code == Blocked.ALREADY_RESOLVED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("#42", 42),
        ("inc-42", 42),
        (" INC-7 ", 7),
        ("abc", None),
        ("", None),
        ("-1", None),
        ("4.2", None),
        ("1" * 20, None),
    ],
)
def test_parse_incident_id(text: str, expected: int | None) -> None:
    assert parse_incident_id(text) == expected
