"""Engine and transactions: one writer connection on SQLite, a pool on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlmodel.ext.asyncio.session import AsyncSession

SQLITE_BUSY_TIMEOUT_MS = 5000


class DatabaseUnavailable(Exception):
    """The database could not be reached or refused the work; callers answer 503."""


def async_url(url: str) -> str:
    """Map the contract's `sqlite:///` / `postgresql://` URLs to the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    return url


def is_sqlite_url(url: str) -> bool:
    return make_url(url).drivername.startswith("sqlite")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.is_postgres = not is_sqlite_url(url)
        if self.is_postgres:
            self.engine: AsyncEngine = create_async_engine(
                async_url(url), pool_size=pool_size, max_overflow=5, pool_pre_ping=True
            )
        else:
            # One connection: SQLite has one writer anyway, and pooled writers contend on
            # the file lock (seconds of tail latency under load).
            self.engine = create_async_engine(
                async_url(url), poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0
            )
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._writer = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on exit, rolled back on error."""
        async with self._serialized():
            try:
                async with (
                    AsyncSession(self.engine, expire_on_commit=False) as session,
                    session.begin(),
                ):
                    yield session
            except (OperationalError, OSError, ConnectionError) as exc:
                raise DatabaseUnavailable(str(exc)) from exc
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    raise DatabaseUnavailable(str(exc)) from exc
                raise

    @asynccontextmanager
    async def _serialized(self) -> AsyncIterator[None]:
        if self.is_postgres:
            yield
        else:
            async with self._writer:
                yield

    async def ping(self) -> bool:
        try:
            async with self.transaction() as session:
                await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        except (DatabaseUnavailable, OSError, DBAPIError):
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
