"""Finding the real binaries the slower tests drive, or explaining why a test cannot run."""

from __future__ import annotations

import glob
import os
import shutil

import pytest

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def require_e2e() -> bool:
    return os.environ.get("NIGHTSHIFT_REQUIRE_E2E") == "1"


def missing(reason: str) -> None:
    """Skip with the reason, or fail when NIGHTSHIFT_REQUIRE_E2E=1 (CI)."""
    if require_e2e():
        pytest.fail(f"{reason} (NIGHTSHIFT_REQUIRE_E2E=1 makes this a failure)")
    pytest.skip(reason)


def postgres_bindir() -> str | None:
    """Debian keeps initdb/pg_ctl/psql together under /usr/lib/postgresql/N/bin."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if candidates:
        return os.path.dirname(candidates[0])
    found = shutil.which("initdb")
    return os.path.dirname(found) if found else None


def alertmanager_binary() -> str | None:
    if os.path.exists(ALERTMANAGER):
        return ALERTMANAGER
    return shutil.which("alertmanager") or shutil.which("prometheus-alertmanager")
