"""`nightshift check` on configs: every problem as path:line: message, exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config_loader import ConfigInvalid, check_config, load_config

REPO = Path(__file__).resolve().parents[2]

VALID = """\
slack:
  channel: C0INCID001
people:
  alice: {slack: U0ALICE001}
  bob: {slack: U0BOB00001}
schedules:
  primary:
    timezone: Europe/Berlin
    rotation: {every: 1w, start: "2026-11-02T09:00", members: [alice, bob]}
policies:
  default:
    steps:
      - {notify: ["schedule:primary"], wait: 5m}
      - {notify: ["user:bob", "channel:C0SRELEAD"], wait: 10m}
    repeat: 1
    ack_timeout: 30m
routes:
  - {match: {service: checkout}, channel: C0CHECKOUT, policy: default}
  - {match: {}, policy: default}
"""

BROKEN = [
    # (replace this, with that, expected line, expected message part)
    ("wait: 5m", "wait: 5 minutes", 13, "invalid duration"),
    ("timezone: Europe/Berlin", "timezone: Mars/Olympus", 8, "unknown time zone"),
    ('"schedule:primary"', '"schedule:secondary"', 13, "unknown schedule 'secondary'"),
    ('"user:bob"', '"user:robert"', 14, "unknown person 'robert'"),
    ('"channel:C0SRELEAD"', '"pager:C0SRELEAD"', 14, "must be schedule:NAME"),
    ("policy: default}\n  - {match: {}", "policy: nope}\n  - {match: {}", 18, "unknown policy"),
    ("members: [alice, bob]", "members: [alice, zed]", 9, "unknown person 'zed'"),
    ("repeat: 1", "repeat: -1", 15, "repeat"),
    ("ack_timeout: 30m", "ack_timeout: soon", 16, "invalid duration"),
    ("slack:\n", "slak:\n", 1, "unknown key"),
    ("every: 1w", "every: 90s", 9, "whole hours"),
    ('start: "2026-11-02T09:00"', 'start: "next monday"', 9, "invalid time"),
    ("routes:", 'audit: {channel: C0AUDIT, cron: "0 9 * * 9"}\nroutes:', 17, "invalid cron"),
    ("routes:", 'audit: {channel: C0AUDIT, cron: "0 9 * *"}\nroutes:', 17, "five fields"),
]


@pytest.mark.parametrize(("old", "new", "line", "message"), BROKEN, ids=[b[3] for b in BROKEN])
def test_problem_reported_with_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    assert old in VALID
    path = tmp_path / "nightshift.yaml"
    path.write_text(VALID.replace(old, new, 1))
    config, problems = check_config(path)
    assert config is None
    assert any(p.line == line and message in p.message for p in problems), problems
    with pytest.raises(ConfigInvalid):
        load_config(path)


def test_several_problems_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "nightshift.yaml"
    path.write_text(VALID.replace("wait: 5m", "wait: x").replace('"user:bob"', '"user:zz"'))
    _, problems = check_config(path)
    assert [p.line for p in problems] == [13, 14]
    assert str(problems[0]).startswith(f"{path}:13: ")


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = tmp_path / "nightshift.yaml"
    path.write_text("people:\n  alice: {slack: U1\nroutes: []\n")
    _, [problem] = check_config(path)
    assert problem.line in (2, 3) and "invalid YAML" in problem.message


def test_valid_config_builds_core_objects(tmp_path: Path) -> None:
    path = tmp_path / "nightshift.yaml"
    path.write_text(VALID)
    config = load_config(path)
    policy = config.policies["default"]
    assert [s.targets for s in policy.steps] == [
        ("schedule:primary",),
        ("user:bob", "channel:C0SRELEAD"),
    ]
    assert policy.repeat == 1 and policy.ack_timeout is not None
    assert policy.ack_timeout.total_seconds() == 1800
    assert config.schedules["primary"].rotation is not None
    assert config.routes[0].channel == "C0CHECKOUT"
    assert config.person_by_slack("U0BOB00001") == config.people["bob"]


def test_relative_paths_resolve_next_to_the_config(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "nightshift.yaml"
    path.parent.mkdir()
    path.write_text(VALID + "directory: {provider: file, file: dir.yaml}\nrunbooks: rb/\n")
    config = load_config(path)
    assert config.directory is not None and config.directory.file == path.parent / "dir.yaml"
    assert config.runbooks_dir == path.parent / "rb"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


def test_check_cli_exit_codes(tmp_path: Path) -> None:
    good = run_cli("check", "--config", str(REPO / "nightshift.yaml"))
    assert good.returncode == 0, good.stderr
    path = tmp_path / "nightshift.yaml"
    path.write_text(VALID.replace("wait: 5m", "wait: 5 minutes"))
    bad = run_cli("check", "--config", str(path))
    assert bad.returncode == 1
    assert f"{path}:13: policies.default.steps.0.wait: invalid duration" in bad.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    bad = run_cli("check", "--config", str(tmp_path / "nope.yaml"))
    assert bad.returncode == 1
    assert "cannot read config" in bad.stderr
