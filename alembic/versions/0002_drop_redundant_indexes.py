"""drop indexes that other indexes already cover

Every intake delivery inserts into incidents and alerts; these indexes only cost writes.
incidents.status is the prefix of ix_incidents_due (status, next_due_at); alerts.incident_id
is the prefix of uq_alert_identity (incident_id, fingerprint, starts_at); and no query looks
alerts up by fingerprint without their incident.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_incidents_status", table_name="incidents")
    op.drop_index("ix_alerts_incident_id", table_name="alerts")
    op.drop_index("ix_alerts_fingerprint", table_name="alerts")


def downgrade() -> None:
    op.create_index("ix_alerts_fingerprint", "alerts", ["fingerprint", "starts_at"])
    op.create_index("ix_alerts_incident_id", "alerts", ["incident_id"])
    op.create_index("ix_incidents_status", "incidents", ["status"])
