"""Prometheus counters for the Slack side, registered on the process registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class SlackMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.sent = Counter(
            "nightshift_slack_sent", "Outbox rows delivered to Slack", ["kind"], registry=r
        )
        self.dry_run = Counter(
            "nightshift_slack_dry_run",
            "Outbox rows rendered and logged (dry-run)",
            ["kind"],
            registry=r,
        )
        self.send_errors = Counter(
            "nightshift_slack_send_errors",
            "Failed Slack calls by reason (retried unless the row failed)",
            ["reason"],
            registry=r,
        )
        self.failed = Counter(
            "nightshift_slack_outbox_failed", "Outbox rows given up on", ["kind"], registry=r
        )
        self.delayed = Counter(
            "nightshift_slack_outbox_delayed",
            "Outbox rows still failing after several attempts (retried until given up)",
            ["kind"],
            registry=r,
        )
        self.rate_limited = Counter(
            "nightshift_slack_rate_limited", "429 answers from Slack", registry=r
        )
        self.pending = Gauge(
            "nightshift_slack_outbox_pending", "Outbox rows waiting to be sent", registry=r
        )
        self.acks = Counter(
            "nightshift_ack_attempts",
            "Acknowledgement attempts by outcome and actor kind",
            ["outcome", "kind"],
            registry=r,
        )
        self.requests_refused = Counter(
            "nightshift_slack_requests_refused",
            "Slack requests refused before any listener ran",
            ["reason"],
            registry=r,
        )
        self.identity_lookups = Counter(
            "nightshift_slack_identity_lookups",
            "users.info lookups by result (hit = served from cache)",
            ["result"],
            registry=r,
        )
        self.send_seconds = Histogram(
            "nightshift_slack_send_seconds",
            "Slack Web API call time per outbox row",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
