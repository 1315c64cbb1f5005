"""Shared fixtures: real SQLite and real PostgreSQL databases, migrated by alembic."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.adapters.db.database import Database
from bot.adapters.db.migrate import upgrade
from tests.support.binaries import missing, postgres_bindir
from tests.support.postgres import PostgresCluster, running_cluster


def shared_fixtures() -> Path:
    """../shared/fixtures next to the repository (as CI lays it out)."""
    here = Path(__file__).resolve().parents[1]
    for candidate in (here.parent / "shared" / "fixtures", Path("/work/shared/fixtures")):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("../shared/fixtures not found next to the repository")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    bindir = postgres_bindir()
    if bindir is None:
        missing("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    assert bindir is not None
    with running_cluster(bindir) as cluster:
        template = "nightshift_template"
        cluster.psql(f"CREATE DATABASE {template}")
        upgrade(cluster.url(template))
        cluster.template = template
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> str:
    """A fresh, migrated PostgreSQL database for one test."""
    return pg_cluster.url(pg_cluster.create_database(pg_cluster.template))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite database file for one test."""
    path = tmp_path / "nightshift.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    try:
        yield db
    finally:
        await db.dispose()
