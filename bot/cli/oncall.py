"""`nightshift oncall`: who is on call now (or `--at` a time) per schedule, and the next
handoff. Overrides made from Slack are included when the database is reachable."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime, tzinfo
from typing import Any

from bot.adapters.db.database import Database
from bot.adapters.db.instance_lock import sqlite_file
from bot.adapters.db.tables import ScheduleOverride
from bot.cli.common import add_config_option, load_or_report
from bot.service.oncall import describe, load_overrides, on_call_now, parse_at, viewer_zone
from bot.settings import DEFAULT_DATABASE_URL


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("oncall", help="who is on call now or at a time")
    add_config_option(parser)
    parser.add_argument("--schedule", default=None, help="only this schedule")
    parser.add_argument("--at", default=None, help="ISO 8601 time (default: now; no offset = UTC)")
    parser.add_argument(
        "--tz", default=None, help="show times in this IANA zone (default: $TZ or local)"
    )


def run(args: argparse.Namespace) -> int:
    config = load_or_report(args)
    if config is None:
        return 1
    try:
        at = parse_at(args.at, datetime.now(UTC))
    except ValueError:
        print(f"--at {args.at!r}: not an ISO 8601 time", file=sys.stderr)
        return 2
    if args.schedule and args.schedule not in config.schedules:
        known = ", ".join(sorted(config.schedules)) or "none"
        print(f"no schedule {args.schedule!r} (schedules: {known})", file=sys.stderr)
        return 2
    overrides = asyncio.run(_db_overrides(at, args.schedule))
    entries = on_call_now(config, at, overrides, args.schedule)
    print(describe(entries, config, _zone(args.tz), at))
    return 0


def _zone(name: str | None) -> tzinfo:
    name = name or os.environ.get("TZ")
    if name:
        return viewer_zone(name)
    return datetime.now().astimezone().tzinfo or UTC


async def _db_overrides(at: datetime, schedule: str | None) -> list[ScheduleOverride]:
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    db_file = sqlite_file(url)
    if db_file is not None and not db_file.exists():
        return []  # no database yet: nothing was overridden from Slack
    db = Database(url)
    try:
        return await load_overrides(db, at, schedule)
    except Exception as exc:  # the config alone still answers the question
        print(f"note: overrides from Slack not included ({exc})", file=sys.stderr)
        return []
    finally:
        await db.dispose()
