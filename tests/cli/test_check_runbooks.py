"""`nightshift check` reports runbook and directory problems as path:line: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import main

CONFIG = """\
people:
  alice: {slack: U0ALICE001}
policies:
  default:
    steps:
      - {notify: ["user:alice"], wait: 5m}
routes:
  - {match: {service: checkout-api}, policy: default}
directory: {provider: file, file: directory.yaml}
runbooks: runbooks
"""

BAD = """\
---
id: storage-disk-full
title: Disk full
match: {alertname: DiskFull, service: storage}
---
## Look at the disk
requires: grafana:dashboards:view, ssh
{{ instance }}
"""


def test_check_reports_runbook_and_directory_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "disk.md").write_text(BAD)
    (tmp_path / "directory.yaml").write_text("users:\n  alice: {grants: ['deploy']}\n")
    (tmp_path / "nightshift.yaml").write_text(CONFIG)
    assert main(["check", "--config", str(tmp_path / "nightshift.yaml")]) == 1
    err = capsys.readouterr().err
    rb, directory = tmp_path / "runbooks" / "disk.md", tmp_path / "directory.yaml"
    assert f"{rb}:7: grant 'ssh' is not system:resource:action" in err
    assert f"{rb}:8: unknown template variable 'instance'" in err
    assert f"{rb}:4: no route can reach runbook 'storage-disk-full'" in err
    assert f"{directory}:2: grant 'deploy' is not system:resource:action" in err


def test_shipped_config_and_runbooks_check_clean(capsys: pytest.CaptureFixture[str]) -> None:
    repo = Path(__file__).resolve().parents[2]
    assert main(["check", "--config", str(repo / "nightshift.yaml")]) == 0
