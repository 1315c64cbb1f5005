"""Prometheus metrics: one registry per process, one counter per thing counted."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.webhook_deliveries = Counter(
            "nightshift_webhook_deliveries", "Accepted Alertmanager deliveries", registry=r
        )
        self.webhook_duplicates = Counter(
            "nightshift_webhook_duplicate_deliveries",
            "Accepted deliveries that changed nothing (retries, repeats)",
            registry=r,
        )
        self.webhook_rejections = Counter(
            "nightshift_webhook_rejections",
            "Refused deliveries by reason",
            ["reason"],
            registry=r,
        )
        self.alerts = Counter(
            "nightshift_alerts", "Alert state changes taken in", ["status"], registry=r
        )
        self.incidents_opened = Counter(
            "nightshift_incidents_opened", "Incidents opened", registry=r
        )
        self.incidents_resolved = Counter(
            "nightshift_incidents_resolved", "Incidents resolved", ["by"], registry=r
        )
        self.intake_seconds = Histogram(
            "nightshift_intake_seconds",
            "Webhook handling time, commit included",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.api_requests = Counter(
            "nightshift_api_requests",
            "API requests by route and status",
            ["route", "status"],
            registry=r,
        )
