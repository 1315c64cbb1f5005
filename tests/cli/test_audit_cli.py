"""`nightshift audit`: schedule-aware, text / markdown / JSON, exit 0 / 1 / 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import main

REPO = Path(__file__).resolve().parents[2]

CONFIG = """\
people:
  alice: {slack: U0ALICE001}
  bob:   {slack: U0BOB00001}
  carol: {slack: U0CAROL001}
  dave:  {slack: U0DAVE0001}
  erin:  {slack: U0ERIN0001}
schedules:
  primary:
    timezone: Europe/Berlin
    # handoffs Mondays 09:00 Berlin; summer time ends Sunday 2026-10-25
    rotation: {every: 1w, start: "2026-10-19T09:00", members: [alice, bob]}
    overrides:
      - {person: carol, from: "2026-10-27T18:00", to: "2026-10-28T09:00"}
policies:
  default:
    steps:
      - {notify: ["schedule:primary"], wait: 5m}
      - {notify: ["user:dave"], wait: 10m}
  checkout:
    steps:
      - {notify: ["user:erin"], wait: 5m}
routes:
  - {match: {service: checkout-api}, policy: checkout}
  - {match: {}, policy: default}
directory: {provider: file, file: directory.yaml}
runbooks: runbooks
"""

RUNBOOK = """\
---
id: checkout-errors
title: Checkout API returning 5xx
match: {alertname: HighErrorRate, service: checkout-api}
---
## Look at the dashboard
requires: grafana:dashboards:view
Open it.

## Roll back checkout-api
requires: deploy:checkout-api:rollback
`deployctl rollback checkout-api`
"""

OPEN_RUNBOOK = """\
---
id: say-hello
title: Anyone can do this
match: {alertname: Hello}
---
## Say hello
No access needed.
"""

DIRECTORY = """\
groups:
  everyone: {members: [alice, bob, carol, dave, erin], grants: ["grafana:*:view"]}
users:
  alice: {grants: ["deploy:*:*"]}
  dave: {grants: ["deploy:checkout-api:rollback"]}
"""

AT = ["--at", "2026-10-24T00:00:00Z", "--days", "4"]


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "checkout-errors.md").write_text(RUNBOOK)
    (tmp_path / "runbooks" / "say-hello.md").write_text(OPEN_RUNBOOK)
    (tmp_path / "directory.yaml").write_text(DIRECTORY)
    (tmp_path / "nightshift.yaml").write_text(CONFIG)
    return tmp_path / "nightshift.yaml"


def nightshift(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )


def test_json_gaps_across_rotation_override_and_dst(setup: Path) -> None:
    done = nightshift("audit", "--config", str(setup), *AT, "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["checked"] == {"runbooks": 2, "people": 5, "steps": 3}
    gaps = [
        (
            g["runbook"],
            g["step"],
            g["step_title"],
            g["person"],
            g["on_call"],
            g["missing"],
            g["can_do"],
        )
        for g in report["gaps"]
    ]
    rollback, missing = "Roll back checkout-api", ["deploy:checkout-api:rollback"]
    assert gaps == [
        (
            "checkout-errors", 2, rollback, "bob",
            # Monday 09:00 Berlin is 08:00 UTC after the DST change, until carol's override
            [{"from": "2026-10-26T08:00:00Z", "to": "2026-10-27T17:00:00Z"}],
            missing, ["alice", "dave"],
        ),
        (
            "checkout-errors", 2, rollback, "carol",
            [{"from": "2026-10-27T17:00:00Z", "to": "2026-10-28T00:00:00Z"}],
            missing, ["alice", "dave"],
        ),
        (
            # only the checkout route pages erin, and nobody else is on that path
            "checkout-errors", 2, rollback, "erin",
            [{"from": "2026-10-24T00:00:00Z", "to": "2026-10-28T00:00:00Z"}],
            missing, [],
        ),
    ]  # fmt: skip
    assert report["gaps"][2]["elsewhere"] == ["alice", "dave"]
    assert report["on_call"]["alice"] == [
        {"from": "2026-10-24T00:00:00Z", "to": "2026-10-26T08:00:00Z"}
    ]


def test_no_gaps_exits_zero(setup: Path) -> None:
    done = nightshift("audit", "--config", str(setup), *AT, "--runbook", "say-hello")
    assert done.returncode == 0, done.stderr
    # both routes can carry alertname=Hello: everyone either policy pages is considered
    assert "Checked 1 runbook, 5 people, 1 step: 0 gaps." in done.stdout
    assert "alice: 2026-10-24 00:00 UTC to 2026-10-26 08:00 UTC" in done.stdout


def test_usage_and_config_errors_exit_two(setup: Path, tmp_path: Path) -> None:
    assert nightshift("audit", "--config", str(setup), "--runbook", "nope").returncode == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("policies: [nope\n")
    done = nightshift("audit", "--config", str(broken))
    assert done.returncode == 2
    assert f"{broken}:" in done.stderr


def test_text_and_markdown_reports(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--config", str(setup), *AT]) == 1
    text = capsys.readouterr().out
    assert "Runbook access audit: 2026-10-24 00:00 UTC to 2026-10-28 00:00 UTC" in text
    assert "checkout-errors step 2: Roll back checkout-api" in text
    assert "  - bob CANNOT: missing deploy:checkout-api:rollback" in text
    assert "on call: 2026-10-26 08:00 UTC to 2026-10-27 17:00 UTC" in text
    assert "can do it on the escalation path: alice, dave" in text

    assert main(["audit", "--config", str(setup), *AT, "--format", "markdown"]) == 1
    markdown = capsys.readouterr().out
    assert markdown.startswith("# Runbook access audit")
    assert (
        "| `checkout-errors` | 2. Roll back checkout-api | erin | cannot | "
        "`deploy:checkout-api:rollback` | 2026-10-24 00:00 UTC – 2026-10-28 00:00 UTC | "
        "nobody | alice, dave |"
    ) in markdown


@pytest.mark.parametrize(
    "args",
    [["--at", "yesterday"], ["--days", "0"], ["--format", "yaml"], ["--days", "x"]],
)
def test_bad_arguments_exit_two(setup: Path, args: list[str]) -> None:
    try:
        code = main(["audit", "--config", str(setup), *args])
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    assert code == 2


def test_a_failing_directory_is_a_gap_never_a_pass(
    setup: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = setup.read_text().replace(
        "directory: {provider: file, file: directory.yaml}",
        "directory: {provider: command, command: [/bin/false]}",
    )
    setup.write_text(config)
    assert main(["audit", "--config", str(setup), *AT, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert {g["verdict"] for g in report["gaps"]} == {"unverified"}
    assert set(report["unverified"]) == {"alice", "bob", "carol", "dave", "erin"}


def test_shipped_example_config_audits(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "audit",
            "--config",
            str(REPO / "nightshift.yaml"),
            "--format",
            "json",
            "--at",
            "2026-11-24T00:00:00Z",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == (1 if report["gaps"] else 0)
    assert report["checked"]["runbooks"] >= 3
    assert any(g["runbook"] == "agent-regression" for g in report["gaps"])


def test_a_broken_runbook_is_a_config_error(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (setup.parent / "runbooks" / "broken.md").write_text("no front matter\n")
    assert main(["audit", "--config", str(setup), *AT, "--runbook", "say-hello"]) == 2
    err = capsys.readouterr().err
    assert "broken.md:1: runbook must start with YAML front matter ('---')" in err
