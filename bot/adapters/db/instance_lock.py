"""One `serve` per SQLite file. SQLite has a single writer and no row locks to share the
escalation work, so a second process on the same file is refused up front. PostgreSQL
replicas coordinate through row locks and need no guard."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url


class AnotherInstanceRunning(RuntimeError):
    def __init__(self, lock_file: Path, pid: str) -> None:
        holder = f"process {pid}" if pid else "another process"
        super().__init__(
            f"another nightshift serve ({holder}) already uses this SQLite database: "
            f"{lock_file} is locked. Stop it first, or use PostgreSQL to run several replicas."
        )
        self.lock_file = lock_file
        self.pid = pid


def sqlite_file(database_url: str) -> Path | None:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite"):
        return None
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return None
    return Path(url.database).resolve()


@contextmanager
def acquire_instance_lock(database_url: str) -> Iterator[None]:
    """Hold an exclusive lock on `<dbfile>.lock` while serving; raise
    AnotherInstanceRunning if another process holds it. The kernel releases the lock when
    the process dies, even on SIGKILL, so a crash never leaves it stuck."""
    db_file = sqlite_file(database_url)
    if db_file is None:
        yield
        return
    lock_file = db_file.with_name(db_file.name + ".lock")
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
            raise AnotherInstanceRunning(lock_file, pid) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
