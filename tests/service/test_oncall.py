"""`nightshift oncall` and the schedule warnings of `nightshift check`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.adapters.db.database import Database
from bot.config_loader import load_config
from bot.service.oncall import add_override, schedule_problems

CONFIG_YAML = """\
slack:
  channel: C0INCID001
people:
  alice: {slack: U0ALICE001}
  bob:   {slack: U0BOB00001}
  erin:  {email: erin@example.com}
schedules:
  primary:
    timezone: Europe/Berlin
    rotation: {every: 1w, start: "2026-11-02T09:00", members: [alice, bob]}
  weekdays:
    timezone: America/Los_Angeles
    rotation:
      every: 1d
      start: "2026-11-25T09:00"
      members:
        - alice
        - erin
policies:
  default:
    steps:
      - {notify: ["schedule:primary"], wait: 5m}
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "nightshift.yaml"
    path.write_text(CONFIG_YAML)
    return path


def test_schedule_problems(config_file: Path) -> None:
    config = load_config(config_file)
    problems = schedule_problems(config, datetime(2026, 11, 22, tzinfo=UTC))
    assert [str(p) for p in problems] == [
        f"{config_file}:11: warning: schedules.weekdays: nobody is on call from "
        "Sat 21 Nov 16:00 PST until Wed 25 Nov 09:00 PST",
        f"{config_file}:18: warning: schedules.weekdays.rotation.members.1: erin has no "
        "Slack id and cannot be paged",
    ]
    assert all(p.severity == "warning" for p in problems)
    # a later look: the rotation has started, only the missing Slack id is left
    assert len(schedule_problems(config, datetime(2026, 12, 1, tzinfo=UTC))) == 1


def test_cli_oncall(
    config_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'absent.db'}")
    args = [
        "oncall",
        "--config",
        str(config_file),
        "--at",
        "2026-11-22T12:00:00Z",
        "--tz",
        "Europe/Berlin",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "primary: alice on call now; next handoff Mon 23 Nov 09:00 CET to bob",
        "weekdays: nobody on call now; next handoff Wed 25 Nov 18:00 CET to alice",
    ]
    assert main([*args, "--schedule", "primary", "--tz", "America/Los_Angeles"]) == 0
    assert capsys.readouterr().out.strip() == (
        "primary: alice on call now; next handoff Mon 23 Nov 00:00 PST to bob"
    )
    assert main([*args, "--schedule", "nope"]) == 2
    assert not (tmp_path / "absent.db").exists()  # looking never creates a database


def test_cli_oncall_includes_overrides_from_slack(
    config_file: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = load_config(config_file)
    now = datetime(2026, 11, 22, 11, tzinfo=UTC)

    async def add() -> None:
        db = Database(sqlite_url)
        try:
            await add_override(
                db,
                config,
                "primary",
                "bob",
                now,
                datetime(2026, 11, 22, 14, tzinfo=UTC),
                "U0BOB00001",
                now,
            )
        finally:
            await db.dispose()

    asyncio.run(add())
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    code = main(
        [
            "oncall",
            "--config",
            str(config_file),
            "--schedule",
            "primary",
            "--at",
            "2026-11-22T12:00:00Z",
            "--tz",
            "UTC",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.strip() == (
        "primary: bob on call now; next handoff Sun 22 Nov 14:00 UTC to alice"
    )


def test_check_warns_about_schedules_but_passes(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--config", str(config_file)]) == 0
    err = capsys.readouterr().err
    assert "erin has no Slack id and cannot be paged" in err
