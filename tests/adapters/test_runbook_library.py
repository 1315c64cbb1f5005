"""The running server's runbooks: re-read when the folder changes, looked at every few seconds."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.runbook_library import RunbookLibrary

RUNBOOK = """\
---
id: {id}
title: Disk full
match: {{alertname: DiskFull}}
---
## Free space
Delete old logs.
"""


def test_changes_are_picked_up_after_the_rescan_interval(tmp_path: Path) -> None:
    (tmp_path / "disk.md").write_text(RUNBOOK.format(id="disk-full"))
    now = [100.0]
    library = RunbookLibrary(tmp_path, rescan_s=2.0, monotonic=lambda: now[0])
    assert library.find_id({"alertname": "DiskFull"}) == "disk-full"

    (tmp_path / "disk.md").write_text(RUNBOOK.format(id="disk-full-v2"))
    now[0] += 1.0  # within the interval: the folder is not looked at
    assert library.find_id({"alertname": "DiskFull"}) == "disk-full"
    now[0] += 1.5
    assert library.find_id({"alertname": "DiskFull"}) == "disk-full-v2"
    assert library.get("disk-full-v2") is not None
    assert library.find_id({"alertname": "Other"}) is None


def test_missing_folder_means_no_runbooks(tmp_path: Path) -> None:
    library = RunbookLibrary(tmp_path / "nope")
    assert library.all() == []
    assert library.find_id({"alertname": "DiskFull"}) is None
