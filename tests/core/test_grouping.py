"""Grouping and resolve rules, table-driven, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.grouping import AlertIn, KnownAlert, Notification, incident_title, plan_delivery

T0 = datetime(2026, 11, 22, 1, 11, 54, tzinfo=UTC)
T1 = datetime(2026, 11, 22, 2, 0, 0, tzinfo=UTC)


def alert(fp: str, status: str = "firing", starts: datetime = T0) -> AlertIn:
    return AlertIn(fp, status, {"alertname": "DiskFull", "instance": fp}, {}, starts, None)


def note(status: str, *alerts: AlertIn, truncated: int = 0) -> Notification:
    return Notification(
        receiver="bot",
        status=status,
        group_key='{}:{alertname="DiskFull"}',
        group_labels={"alertname": "DiskFull", "service": "storage"},
        common_labels={"alertname": "DiskFull", "service": "storage", "severity": "warning"},
        common_annotations={},
        alerts=alerts,
        truncated_alerts=truncated,
    )


def known(fp: str, status: str = "firing", starts: datetime = T0) -> KnownAlert:
    return KnownAlert(fp, starts, status)


CASES = [
    # (name, notification, open alerts or None, resolved elsewhere, expected summary)
    ("new group opens", note("firing", alert("a")), None, set(), "open new=a"),
    ("redelivery changes nothing", note("firing", alert("a")), [known("a")], set(), "none"),
    (
        "new alert joins open incident",
        note("firing", alert("a"), alert("b")),
        [known("a")],
        set(),
        "new=b",
    ),
    (
        "partial resolve keeps it open",
        note("firing", alert("a"), alert("b", "resolved")),
        [known("a"), known("b")],
        set(),
        "changed=b",
    ),
    (
        "group resolved resolves incident",
        note("resolved", alert("a", "resolved")),
        [known("a"), known("b", "resolved")],
        set(),
        "changed=a resolve",
    ),
    (
        "repeated resolve of open incident still resolves",
        note("resolved", alert("a", "resolved")),
        [known("a", "resolved")],
        set(),
        "resolve",
    ),
    (
        "resolve with nothing open is ignored",
        note("resolved", alert("a", "resolved")),
        None,
        set(),
        "none",
    ),
    (
        "late firing redelivery after resolve is ignored",
        note("firing", alert("a")),
        None,
        {("a", T0)},
        "none",
    ),
    (
        "new firing after resolve opens a new incident",
        note("firing", alert("a", starts=T1)),
        None,
        {("a", T0)},
        "open new=a",
    ),
    (
        "truncation recorded on open",
        note("firing", alert("a"), truncated=3),
        None,
        set(),
        "open new=a truncated=3",
    ),
    (
        "truncation change recorded",
        note("firing", alert("a"), truncated=2),
        [known("a")],
        set(),
        "truncated=2",
    ),
]


def summarize(plan: object) -> str:
    from bot.core.grouping import IntakePlan

    assert isinstance(plan, IntakePlan)
    parts = []
    if plan.open_incident:
        parts.append("open")
    if plan.new_alerts:
        parts.append("new=" + ",".join(a.fingerprint for a in plan.new_alerts))
    if plan.changed_alerts:
        parts.append("changed=" + ",".join(a.fingerprint for a in plan.changed_alerts))
    if plan.resolve_incident:
        parts.append("resolve")
    if plan.truncated_alerts is not None:
        parts.append(f"truncated={plan.truncated_alerts}")
    return " ".join(parts) or "none"


@pytest.mark.parametrize(
    ("name", "notification", "open_alerts", "elsewhere", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_plan_delivery(
    name: str,
    notification: Notification,
    open_alerts: list[KnownAlert] | None,
    elsewhere: set[tuple[str, datetime]],
    expected: str,
) -> None:
    plan = plan_delivery(notification, open_alerts, resolved_elsewhere=elsewhere)
    assert summarize(plan) == expected
    assert plan.changes_anything == (expected != "none")


def test_open_key_is_receiver_and_group_key_only() -> None:
    n = note("firing", alert("a"))
    assert n.open_key == 'bot\n{}:{alertname="DiskFull"}'


def test_title_uses_alertname_then_group_labels() -> None:
    assert incident_title(note("firing", alert("a"))) == "DiskFull storage"
