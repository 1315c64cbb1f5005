"""The runbooks a running server uses, re-read when a file in the folder changes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from bot.adapters.runbooks import load_runbooks
from bot.core.runbook import Runbook, pick_runbook

log = logging.getLogger(__name__)

# How often the folder is looked at for changes: intake asks on every new incident, and
# listing the folder each time was a measurable share of a webhook's cost.
RESCAN_S = 2.0


class RunbookLibrary:
    def __init__(
        self,
        directory: Path | None,
        *,
        rescan_s: float = RESCAN_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.rescan_s = rescan_s
        self.monotonic = monotonic
        self._signature: tuple[tuple[str, float, int], ...] | None = None
        self._checked_at: float | None = None
        self._runbooks: list[Runbook] = []

    def _current_signature(self) -> tuple[tuple[str, float, int], ...]:
        if self.directory is None or not self.directory.is_dir():
            return ()
        entries = []
        for path in sorted(self.directory.glob("*.md")):
            try:
                stat = path.stat()
            except OSError:
                continue
            entries.append((path.name, stat.st_mtime, stat.st_size))
        return tuple(entries)

    def all(self) -> list[Runbook]:
        now = self.monotonic()
        if self._checked_at is not None and now - self._checked_at < self.rescan_s:
            return list(self._runbooks)
        self._checked_at = now
        signature = self._current_signature()
        if signature != self._signature:
            self._signature = signature
            if self.directory is None or not signature:
                self._runbooks = []
            else:
                self._runbooks, problems = load_runbooks(self.directory)
                for problem in problems:
                    log.warning("runbook: %s", problem)
        return list(self._runbooks)

    def get(self, runbook_id: str | None) -> Runbook | None:
        if not runbook_id:
            return None
        return next((r for r in self.all() if r.id == runbook_id), None)

    def find(self, labels: Mapping[str, str]) -> Runbook | None:
        return pick_runbook(self.all(), labels)

    def find_id(self, labels: Mapping[str, str]) -> str | None:
        """For intake: the id of the runbook an incident with these labels follows."""
        runbook = self.find(labels)
        return runbook.id if runbook else None
