"""Group commit: concurrent write jobs share one transaction, each answered after the commit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

from bot.adapters.db.database import Database

T = TypeVar("T")
MAX_BATCH = 256

Work = Callable[[Connection], Any]


class GroupCommitter:
    """On SQLite, batches whatever queued up while the previous batch was committing.

    On PostgreSQL every job runs in its own transaction: the server already commits
    concurrent transactions in groups, and row locks do the coordination.
    """

    def __init__(self, db: Database, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self._pending: list[tuple[Work, asyncio.Future[Any]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, work: Callable[[Connection], T]) -> T:
        if self.db.sync_engine is None:
            return await self.db.run_sync(work)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                results = await self.db.run_sync_batch([work for work, _ in batch])
            except Exception as exc:  # the database itself failed: every job gets the error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
