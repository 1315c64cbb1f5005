"""`nightshift serve`: the HTTP server plus the background workers, drained on SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from typing import Any

from aiohttp import web

from bot.adapters.db.database import is_sqlite_url
from bot.adapters.db.instance_lock import AnotherInstanceRunning, acquire_instance_lock
from bot.adapters.db.migrate import upgrade
from bot.app import Nightshift
from bot.cli.common import add_config_option, config_path, load_or_report
from bot.cli.event_loop import loop_factory
from bot.config import Config
from bot.settings import Settings

log = logging.getLogger("nightshift")

GC_YOUNG_THRESHOLD = 10_000
SHUTDOWN_TIMEOUT_S = 8.0  # in-flight requests get this long; the contract allows 10 s in all


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the HTTP server and escalation engine")
    add_config_option(parser)
    parser.add_argument("--host", default=None, help="listen address (default $HOST)")
    parser.add_argument("--port", type=int, default=None, help="listen port (default $PORT)")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # the engine's tick runs every second; APScheduler would log each run at INFO
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
        loop_name, new_loop = loop_factory(settings.event_loop)
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 1
    config = load_or_report(args)
    if config is None:
        print(f"{config_path(args)}: invalid config, not starting", file=sys.stderr)
        return 1
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    try:
        with acquire_instance_lock(settings.database_url):
            if is_sqlite_url(settings.database_url):
                upgrade(settings.database_url)  # the embedded database migrates itself
            log.info("event loop: %s", loop_name)
            with asyncio.Runner(loop_factory=new_loop) as runner:
                runner.run(_serve(settings, config, host, port))
    except AnotherInstanceRunning as exc:
        print(f"not starting: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(settings: Settings, config: Config, host: str, port: int) -> None:
    nightshift = Nightshift(settings, config)
    # no access log: one log line per webhook costs more than the rest of the request
    runner = web.AppRunner(
        nightshift.build(),
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        handle_signals=False,
        access_log=None,
    )
    await runner.setup()
    # Everything loaded so far lives as long as the process: keep it out of the cyclic
    # collector's way, so a full collection under load scans what requests allocate only.
    gc.collect()
    gc.freeze()
    # Requests in flight hold thousands of container objects, all freed by reference
    # counting; at the default young threshold (700) a burst of 10,000 webhooks ran ~150
    # collections (44 ms) that found next to nothing. At 10,000 it ran none.
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)
    await web.TCPSite(runner, host, port).start()
    for address in runner.addresses:  # the real port, also when asked for port 0
        log.info("listening on http://%s:%s", host, address[1])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: refusing new intake, finishing in-flight requests")
    nightshift.stop_accepting()
    await runner.cleanup()
    log.info("stopped")
