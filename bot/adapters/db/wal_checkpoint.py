"""WAL checkpoints for the intake connection, in a thread of their own.

The intake connection runs on the event loop with automatic checkpoints off: a checkpoint
copies pages back into the database file and fsyncs it, which must not stall the loop.
After a commit, a PASSIVE checkpoint (it never waits for readers or writers) runs in a
worker thread on a connection of its own, one at a time and at most once per interval.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S = 1.0


class WalCheckpointer:
    def __init__(self, path: str | None, interval: float = CHECKPOINT_INTERVAL_S) -> None:
        self.path = path if path and path != ":memory:" else None
        self.interval = interval
        self.runs = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-ckpt")
        self._conn: sqlite3.Connection | None = None
        self._running: asyncio.Future[None] | None = None
        self._last = float("-inf")

    def committed(self) -> None:
        """Called on the loop after each intake commit; starts a checkpoint when one is due."""
        if self.path is None or (self._running is not None and not self._running.done()):
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._last < self.interval:
            return
        self._last = loop.time()
        self._running = loop.run_in_executor(self._executor, self._checkpoint)

    def _checkpoint(self) -> None:
        assert self.path is not None
        try:
            if self._conn is None:
                # mode=rw: a database file that has gone away is never created again here
                uri = f"{Path(self.path).resolve().as_uri()}?mode=rw"
                self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.runs += 1
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint failed; tried again after a later commit: %s", exc)

    async def close(self) -> None:
        if self._running is not None:
            await asyncio.wait([self._running])
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
