"""Engine and transactions: one writer connection on SQLite, a pool on PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.db.wal_checkpoint import WalCheckpointer
from bot.adapters.db.writer_lock import WriterLock

SQLITE_BUSY_TIMEOUT_MS = 5000
# The intake connection runs on the event loop and never waits inside SQLite for a lock:
# it retries after these pauses (seconds) until the busy timeout has passed.
BUSY_RETRY_FIRST = 0.001
BUSY_RETRY_MAX = 0.05
T = TypeVar("T")
# Errors that mean "the database cannot take the work now" (locked, gone, disk full), from
# SQLAlchemy or, on the prepared fast path, straight from sqlite3: callers answer 503.
UNAVAILABLE = (OperationalError, sqlite3.OperationalError)


class DatabaseUnavailable(Exception):
    """The database could not be reached or refused the work; callers answer 503."""


def json_dumps(value: Any) -> str:
    """The JSON columns' encoder: orjson costs a tenth of json.dumps for the small mappings
    (labels, event data, outbox payloads) every delivery stores half a dozen of."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


JSON_CODEC: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": orjson.loads}


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


def _sqlite_loop_pragmas(dbapi_conn: Any, record: Any) -> None:
    """The connection used on the event loop: a lock held elsewhere fails at once (we wait
    with asyncio.sleep instead), and WAL checkpoints, which fsync, run in a thread."""
    _sqlite_pragmas(dbapi_conn, record)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY (or one of its extended codes): another connection holds the lock."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.is_postgres = not is_sqlite_url(url)
        self.sync_engine: Engine | None = None
        if self.is_postgres:
            self.engine: AsyncEngine = create_async_engine(
                async_url(url),
                pool_size=pool_size,
                max_overflow=5,
                pool_pre_ping=True,
                **JSON_CODEC,
            )
        else:
            # One connection: SQLite has one writer anyway, and pooled writers contend on
            # the file lock (seconds of tail latency under load).
            self.engine = create_async_engine(
                async_url(url),
                poolclass=AsyncAdaptedQueuePool,
                pool_size=1,
                max_overflow=0,
                **JSON_CODEC,
            )
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            # Intake runs whole batches of Core statements on this connection, on the event
            # loop thread (ADR 1); the asyncio lock below keeps it the only writer at a time.
            self.sync_engine = create_engine(
                sync_sqlite_url(url),
                poolclass=QueuePool,
                pool_size=1,
                max_overflow=0,
                connect_args={"check_same_thread": False},
                **JSON_CODEC,
            )
            event.listen(self.sync_engine, "connect", _sqlite_loop_pragmas)
            self.checkpointer = WalCheckpointer(make_url(url).database)
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

    async def run_sync(self, work: Callable[[Connection], T], *, urgent: bool = True) -> T:
        """Run `work` with a Core connection inside one transaction, committed on return."""
        results = await self.run_sync_batch([work], urgent=urgent)
        result = results[0]
        if isinstance(result, BaseException):
            raise result
        return result

    async def run_sync_batch(
        self, works: list[Callable[[Connection], T]], *, urgent: bool = True
    ) -> list[T | BaseException]:
        """Group commit: on SQLite all works share one transaction, run on the loop thread.

        If any work fails, the batch is rolled back and each work re-run in a transaction of
        its own, so one bad delivery never takes the others down with it. Each entry of the
        result is the work's return value or the exception it raised.

        Running here rather than in a thread saves a third of an intake's CPU (two threads
        contending for the GIL on every statement). It never blocks the loop on a lock: with
        busy_timeout=0 a lock held by another process fails at once, and the batch is
        retried after an asyncio.sleep until the usual busy timeout has passed.

        `urgent` work (intake, which Alertmanager waits on) takes the writer before the
        rest (ADR 1).
        """
        if self.sync_engine is None:
            return [await self._run_async(work) for work in works]
        engine = self.sync_engine
        loop = asyncio.get_running_loop()
        async with self._writer.hold(urgent=urgent):
            deadline = loop.time() + SQLITE_BUSY_TIMEOUT_MS / 1000
            pause = BUSY_RETRY_FIRST
            while True:
                try:
                    results = _run_batch(engine, works)
                except (*UNAVAILABLE, OSError) as exc:
                    if not is_busy(exc) or loop.time() + pause > deadline:
                        raise DatabaseUnavailable(str(exc)) from exc
                else:
                    self.checkpointer.committed()
                    return results
                await asyncio.sleep(pause)
                pause = min(pause * 2, BUSY_RETRY_MAX)

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
            await self.checkpointer.close()
            self.sync_engine.dispose()


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
