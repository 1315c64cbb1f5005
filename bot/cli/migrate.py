"""`nightshift migrate`: alembic upgrade head on DATABASE_URL."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.adapters.db.migrate import upgrade
from bot.settings import Settings


def add_parser(subparsers: Any) -> None:
    subparsers.add_parser("migrate", help="apply database migrations (alembic upgrade head)")


def run(_args: argparse.Namespace) -> int:
    try:
        url = Settings.from_env().database_url
        upgrade(url)
    except Exception as exc:  # report any failure as exit 1, as the contract says
        print(f"migrate failed: {exc}", file=sys.stderr)
        return 1
    print("database is at the latest schema")
    return 0
