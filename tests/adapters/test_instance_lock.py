"""One `serve` per SQLite file; none of that on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.adapters.db.instance_lock import AnotherInstanceRunning, acquire_instance_lock

REPO = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
from bot.adapters.db.instance_lock import acquire_instance_lock
with acquire_instance_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_holder_is_refused_with_the_file_and_pid(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nightshift.db'}"
    with acquire_instance_lock(url):
        with pytest.raises(AnotherInstanceRunning) as refused, acquire_instance_lock(url):
            pass
        message = str(refused.value)
        assert str(tmp_path / "nightshift.db.lock") in message
        assert f"process {os.getpid()}" in message
    with acquire_instance_lock(url):  # released on exit
        pass


def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nightshift.db'}"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"locked"
        expected = f"process {child.pid}"
        with pytest.raises(AnotherInstanceRunning, match=expected), acquire_instance_lock(url):
            pass
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    deadline = time.monotonic() + 5
    while True:
        try:
            with acquire_instance_lock(url):
                break
        except AnotherInstanceRunning:
            assert time.monotonic() < deadline
            time.sleep(0.05)


@pytest.mark.parametrize(
    "url", ["postgresql://u:p@127.0.0.1:1/db", "sqlite:///:memory:", "sqlite://"]
)
def test_no_guard_where_none_is_needed(url: str) -> None:
    with acquire_instance_lock(url), acquire_instance_lock(url):
        pass
