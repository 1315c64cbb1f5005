"""`nightshift check`: validate the config and every runbook; problems as path:line: message."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from bot.adapters.directory_check import check_directory
from bot.adapters.runbooks import check_runbooks
from bot.cli.common import add_config_option, config_path
from bot.config_loader import check_config
from bot.core.problems import Problem
from bot.service.oncall import schedule_problems


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("check", help="validate config and runbooks")
    add_config_option(parser)


def run(args: argparse.Namespace) -> int:
    config, problems = check_config(config_path(args))
    if config is not None:
        problems += _deeper_problems(config)
    for problem in problems:
        print(problem, file=sys.stderr)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    if errors:
        print(f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)
        return 1
    print(f"config OK ({warnings} warning(s))")
    return 0


def _deeper_problems(config: Any) -> list[Problem]:
    """Checks that need the whole config: runbooks, schedule coverage."""
    problems: list[Problem] = []
    problems += schedule_problems(config, datetime.now(UTC))
    problems += check_runbooks(config)
    problems += check_directory(config)
    return problems
