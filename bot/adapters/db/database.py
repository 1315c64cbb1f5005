"""Engine and transactions: one writer connection on SQLite, a pool on PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.writer_lock import WriterLock

SQLITE_BUSY_TIMEOUT_MS = 5000
T = TypeVar("T")
# Errors that mean "the database cannot take the work now" (locked, gone, disk full), from
# SQLAlchemy or, on the prepared fast path, straight from sqlite3: callers answer 503.
UNAVAILABLE = (OperationalError, sqlite3.OperationalError)


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


def sync_sqlite_url(url: str) -> str:
    return make_url(url).set(drivername="sqlite+pysqlite").render_as_string(hide_password=False)


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
        self.sync_engine: Engine | None = None
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
            # Hot write paths (intake) run whole batches of Core statements in one thread hop
            # on this connection; the asyncio lock below keeps it the only writer at a time.
            self.sync_engine = create_engine(
                sync_sqlite_url(url),
                poolclass=QueuePool,
                pool_size=1,
                max_overflow=0,
                connect_args={"check_same_thread": False},
            )
            event.listen(self.sync_engine, "connect", _sqlite_pragmas)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._writer = WriterLock()

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

    async def run_sync(self, work: Callable[[Connection], T]) -> T:
        """Run `work` with a Core connection inside one transaction, committed on return."""
        results = await self.run_sync_batch([work])
        result = results[0]
        if isinstance(result, BaseException):
            raise result
        return result

    async def run_sync_batch(
        self, works: list[Callable[[Connection], T]]
    ) -> list[T | BaseException]:
        """Group commit: on SQLite all works share one transaction and one thread hop.

        If any work fails, the batch is rolled back and each work re-run in a transaction of
        its own, so one bad delivery never takes the others down with it. Each entry of the
        result is the work's return value or the exception it raised.
        """
        if self.sync_engine is None:
            return [await self._run_async(work) for work in works]
        engine = self.sync_engine
        async with self._writer.hold(urgent=True):
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(self._thread, _run_batch, engine, works)
            except (*UNAVAILABLE, OSError) as exc:
                raise DatabaseUnavailable(str(exc)) from exc

    async def _run_async(self, work: Callable[[Connection], T]) -> T | BaseException:
        try:
            async with self.engine.begin() as conn:
                return await conn.run_sync(work)
        except (OperationalError, OSError, ConnectionError) as exc:
            raise DatabaseUnavailable(str(exc)) from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise DatabaseUnavailable(str(exc)) from exc
            return exc
        except Exception as exc:
            return exc

    @asynccontextmanager
    async def _serialized(self) -> AsyncIterator[None]:
        if self.is_postgres:
            yield
        else:
            async with self._writer.hold():
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
        if self.sync_engine is not None:
            self.sync_engine.dispose()
            self._thread.shutdown(wait=True)


def _run_batch(engine: Engine, works: list[Callable[[Connection], T]]) -> list[T | BaseException]:
    try:
        with engine.begin() as conn:
            return [work(conn) for work in works]
    except UNAVAILABLE:
        raise
    except Exception:
        if len(works) == 1:
            return [_run_alone(engine, works[0])]
        return [_run_alone(engine, work) for work in works]


def _run_alone(engine: Engine, work: Callable[[Connection], T]) -> T | BaseException:
    try:
        with engine.begin() as conn:
            return work(conn)
    except UNAVAILABLE:
        raise
    except Exception as exc:
        return exc
