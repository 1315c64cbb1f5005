"""Alertmanager notifications -> incident changes. Pure: the caller loads state and applies.

An incident is keyed by (receiver, groupKey) while open; each alert by fingerprint+startsAt.
Alertmanager retries and repeats byte-identical bodies, so every rule here is idempotent:
applying a notification twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

AlertKey = tuple[str, datetime]


@dataclass(frozen=True)
class AlertIn:
    fingerprint: str
    status: str  # firing | resolved
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None  # None while firing (Alertmanager sends the zero time)
    generator_url: str | None = None

    @property
    def key(self) -> AlertKey:
        return (self.fingerprint, self.starts_at)


@dataclass(frozen=True)
class Notification:
    receiver: str
    status: str  # firing | resolved
    group_key: str
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    alerts: tuple[AlertIn, ...]
    external_url: str | None = None
    truncated_alerts: int = 0

    @property
    def open_key(self) -> str:
        return f"{self.receiver}\n{self.group_key}"

    @property
    def labels(self) -> dict[str, str]:
        """Labels shared by the whole group: common labels plus the group labels."""
        return {**self.group_labels, **self.common_labels}


@dataclass(frozen=True)
class KnownAlert:
    fingerprint: str
    starts_at: datetime
    status: str

    @property
    def key(self) -> AlertKey:
        return (self.fingerprint, self.starts_at)


@dataclass
class IntakePlan:
    open_incident: bool = False
    new_alerts: list[AlertIn] = field(default_factory=list)
    changed_alerts: list[AlertIn] = field(default_factory=list)
    resolve_incident: bool = False
    truncated_alerts: int | None = None  # new value when it changed

    @property
    def changes_anything(self) -> bool:
        return bool(
            self.open_incident
            or self.new_alerts
            or self.changed_alerts
            or self.resolve_incident
            or self.truncated_alerts is not None
        )


def plan_delivery(
    notification: Notification,
    open_alerts: Sequence[KnownAlert] | None,
    open_truncated: int = 0,
    resolved_elsewhere: Collection[AlertKey] = (),
) -> IntakePlan:
    """Decide what a delivery changes.

    `open_alerts` is None when no incident is open for the key; `resolved_elsewhere` holds
    alert keys already seen in resolved incidents of the same key (a late redelivery of an old
    firing body must not open a new incident).
    """
    if open_alerts is None:
        return _plan_without_open(notification, resolved_elsewhere)
    known = {alert.key: alert for alert in open_alerts}
    plan = IntakePlan()
    for alert in notification.alerts:
        previous = known.get(alert.key)
        if previous is None:
            plan.new_alerts.append(alert)
        elif previous.status != alert.status:
            plan.changed_alerts.append(alert)
    plan.resolve_incident = notification.status == "resolved"
    if notification.truncated_alerts != open_truncated and not plan.resolve_incident:
        plan.truncated_alerts = notification.truncated_alerts
    return plan


def _plan_without_open(
    notification: Notification, resolved_elsewhere: Collection[AlertKey]
) -> IntakePlan:
    if notification.status == "resolved":
        return IntakePlan()  # nothing open to resolve: a late or repeated resolve
    firing = [a for a in notification.alerts if a.status == "firing"]
    if not firing or all(alert.key in resolved_elsewhere for alert in firing):
        return IntakePlan()
    return IntakePlan(
        open_incident=True,
        new_alerts=list(notification.alerts),
        truncated_alerts=notification.truncated_alerts or None,
    )


def incident_title(notification: Notification) -> str:
    """`HighErrorRate checkout-api`: the alert name, then the other group label values."""
    labels = notification.group_labels or notification.common_labels
    name = labels.get("alertname") or notification.common_labels.get("alertname", "alert")
    rest = [value for key, value in sorted(labels.items()) if key != "alertname"]
    return " ".join([name, *rest])[:500]
