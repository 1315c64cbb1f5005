"""Escalation engine metrics, registered on the process registry passed in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)


class EscalationMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.lateness = Histogram(
            "nightshift_escalation_lateness_seconds",
            "Fire time minus due time of escalation steps and ack timeouts",
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.steps = Counter(
            "nightshift_escalation_steps", "Escalation steps that paged someone", registry=r
        )
        self.gaps = Counter(
            "nightshift_escalation_gaps", "Escalation steps that reached nobody", registry=r
        )
        self.notifications = Counter(
            "nightshift_escalation_notifications",
            "People and channels paged (one per target per step)",
            registry=r,
        )
        self.ack_timeouts = Counter(
            "nightshift_escalation_ack_timeouts",
            "Acknowledgements that timed out without resolution",
            registry=r,
        )
        self.tick_seconds = Histogram(
            "nightshift_escalation_tick_seconds",
            "Time spent in one engine tick",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
            registry=r,
        )
        self.errors = Counter(
            "nightshift_escalation_errors", "Engine ticks or incidents that failed", registry=r
        )
