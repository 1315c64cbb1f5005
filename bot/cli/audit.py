"""`nightshift audit`: can everyone who may be paged execute the runbooks they may get?

Exit 0 when there are no gaps, 1 when there are (usable in a runbooks repository's
CI), 2 for a usage or config error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from bot.adapters.directory import build_directory
from bot.cli.common import add_config_option, load_or_report
from bot.service.runbook_audit import FORMATS, UnknownRunbook, parse_at, render_audit, run_audit

USAGE_ERROR = 2


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit", help="check runbook steps against the permissions of everyone on call"
    )
    add_config_option(parser)
    parser.add_argument("--at", help="window start, ISO 8601 (default: now)")
    parser.add_argument("--days", type=float, default=7.0, help="window length (default: 7)")
    parser.add_argument("--runbook", help="audit only this runbook id")
    parser.add_argument("--format", choices=FORMATS, default="text")


def run(args: argparse.Namespace) -> int:
    try:
        start = parse_at(args.at) if args.at else datetime.now(UTC)
    except ValueError:
        print(f"nightshift audit: --at {args.at!r} is not an ISO 8601 time", file=sys.stderr)
        return USAGE_ERROR
    if not args.days > 0:
        print("nightshift audit: --days must be positive", file=sys.stderr)
        return USAGE_ERROR
    config = load_or_report(args)
    if config is None:
        return USAGE_ERROR
    directory = build_directory(config.directory, config.path.parent)
    try:
        report = asyncio.run(run_audit(config, directory, start, args.days, args.runbook))
    except UnknownRunbook as exc:
        print(f"nightshift audit: no runbook with id {exc.args[0]!r}", file=sys.stderr)
        return USAGE_ERROR
    for problem in report.problems:
        print(problem, file=sys.stderr)
    sys.stdout.write(render_audit(report, args.format))
    if any(p.severity == "error" for p in report.problems):
        # a runbook that does not parse was left out: never report that as a clean audit
        print("nightshift audit: fix the runbook errors above", file=sys.stderr)
        return USAGE_ERROR
    return 1 if report.result.gaps else 0
