"""`nightshift migrate` on both databases; the models and migrations never drift."""

from __future__ import annotations

import os
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
