"""End-to-end fixtures: a real Alertmanager binary and real `nightshift serve` processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.binaries import alertmanager_binary, missing
from tests.support.processes import AlertmanagerProcess, ServeProcess

E2E_TOKEN = "e2e-am-token"
E2E_API_TOKEN = "e2e-api-token"


@pytest.fixture
def alertmanager_bin() -> str:
    binary = alertmanager_binary()
    if binary is None:
        missing("prometheus-alertmanager binary not installed")
    assert binary is not None
    return binary


@pytest.fixture
def serve_env(sqlite_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": sqlite_url,
        "ALERTMANAGER_TOKEN": E2E_TOKEN,
        "NIGHTSHIFT_API_TOKENS": f"e2e:operator:{E2E_API_TOKEN}",
        "SLACK_BOT_TOKEN": "",
        "SLACK_SIGNING_SECRET": "",
        "SLACK_APP_TOKEN": "",
    }


@pytest.fixture
def processes() -> Iterator[list[ServeProcess | AlertmanagerProcess]]:
    """Everything started goes in here and is stopped at the end, whatever happened."""
    started: list[ServeProcess | AlertmanagerProcess] = []
    yield started
    for proc in reversed(started):
        if isinstance(proc, ServeProcess):
            proc.kill()
        else:
            proc.stop()


def repo_config() -> Path:
    return Path(__file__).resolve().parents[2] / "nightshift.yaml"
