"""`nightshift migrate` on both databases; the models and migrations never drift."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def migrate(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": url},
        timeout=120,
    )


def test_migrate_then_no_drift(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    result = migrate(url)
    assert result.returncode == 0, result.stderr
    assert migrate(url).returncode == 0  # idempotent
    check = subprocess.run(
        [sys.executable, "-m", "alembic", "check"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": url},
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr


def test_migrate_postgres(pg_cluster: object) -> None:
    from tests.support.postgres import PostgresCluster

    assert isinstance(pg_cluster, PostgresCluster)
    url = pg_cluster.url(pg_cluster.create_database())
    result = migrate(url)
    assert result.returncode == 0, result.stderr
    tables = pg_cluster.psql(
        "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
        "WHERE schemaname='public'",
        database=url.rsplit("/", 1)[1],
    )
    assert "incidents" in tables and "outbox" in tables and "events" in tables


def test_migrate_failure_exits_1(tmp_path: Path) -> None:
    result = migrate(f"sqlite:///{tmp_path}/no/such/dir/x.db")
    assert result.returncode == 1
    assert "migrate failed" in result.stderr


def test_database_at_first_revision_upgrades_keeping_rows(tmp_path: Path) -> None:
    """0002 drops covered indexes from a database that already holds incidents."""
    url = f"sqlite:///{tmp_path}/old.db"
    alembic = [sys.executable, "-m", "alembic"]
    env = {**os.environ, "DATABASE_URL": url}

    def run(*args: str) -> None:
        done = subprocess.run(
            [*alembic, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def indexes() -> set[str]:
        with sqlite3.connect(tmp_path / "old.db") as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            return {name for (name,) in rows if not name.startswith("sqlite_")}

    run("upgrade", "0001")
    covered = {"ix_incidents_status", "ix_alerts_incident_id", "ix_alerts_fingerprint"}
    assert covered <= indexes()
    with sqlite3.connect(tmp_path / "old.db") as conn:
        conn.execute(
            "INSERT INTO incidents (receiver, group_key, title, status, labels, annotations,"
            " truncated_alerts, policy_snapshot, esc_step, esc_loop, opened_at, version)"
            " VALUES ('r', 'g', 't', 'triggered', '{}', '{}', 0, '{}', 0, 0, '2026-12-01', 1)"
        )
    assert migrate(url).returncode == 0
    assert not covered & indexes()
    assert "ix_incidents_due" in indexes()
    with sqlite3.connect(tmp_path / "old.db") as conn:
        assert conn.execute("SELECT count(*) FROM incidents").fetchone() == (1,)
    run("downgrade", "0001")
    assert covered <= indexes()
