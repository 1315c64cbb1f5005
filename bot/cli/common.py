"""Bits every subcommand shares: the --config option and loading it."""

from __future__ import annotations

import argparse
import os
import sys

from bot.config import Config
from bot.config_loader import ConfigInvalid, load_config


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        help="config file (default: $NIGHTSHIFT_CONFIG or ./nightshift.yaml)",
    )


def config_path(args: argparse.Namespace) -> str:
    return str(args.config or os.environ.get("NIGHTSHIFT_CONFIG") or "./nightshift.yaml")


def load_or_report(args: argparse.Namespace) -> Config | None:
    """The config, or None after printing every problem to stderr."""
    try:
        return load_config(config_path(args))
    except ConfigInvalid as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None
