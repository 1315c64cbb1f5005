"""Escalation engine: lateness, idle CPU and memory with 10,000 open incidents.

Inserts N open incidents whose first step falls due at staggered times over --spread
seconds, starts the real EscalationEngine (APScheduler tick, real clock) and records each
incident's lateness (commit time minus due time). Then measures CPU while nothing is due
(the next steps are minutes away) and the process's resident memory.

Usage: python bench/escalation.py [--incidents 10000] [--spread 60]
                                  [--database-url URL | --postgres]
(--postgres starts a throwaway local PostgreSQL cluster, fsync off, like the tests.)
Targets: p99 lateness < 1 s, idle CPU near zero, RSS < 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from bot.adapters.db.clock import to_db
from bot.adapters.db.database import Database
from bot.adapters.db.migrate import upgrade
from bot.adapters.db.tables import Incident
from bot.adapters.engine import EscalationEngine
from bot.clock import SystemClock
from bot.config import Config, Person
from bot.core.escalation import Policy, Step, policy_to_snapshot
from bot.core.schedule import Rotation, Schedule
from bot.service.escalation import Advanced

POLICY = Policy(
    "bench",
    (
        Step(("schedule:primary",), timedelta(minutes=5)),
        Step(("user:carol", "channel:C0SRELEAD"), timedelta(minutes=10)),
    ),
    repeat=1,
    ack_timeout=timedelta(minutes=30),
)
CONFIG = Config(
    path=Path("bench.yaml"),
    slack_channel="C0INCID001",
    people={
        "alice": Person("alice", "U0ALICE001"),
        "bob": Person("bob", "U0BOB00001"),
        "carol": Person("carol", "U0CAROL001"),
    },
    schedules={
        "primary": Schedule(
            "primary",
            "Europe/Berlin",
            Rotation(timedelta(days=1), datetime(2026, 1, 1, 9), ("alice", "bob")),
        )
    },
    policies={"bench": POLICY},
)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def seed(db: Database, count: int, first_due: datetime, spread: float) -> None:
    snapshot = policy_to_snapshot(POLICY)
    rows = []
    for i in range(count):
        due = first_due + timedelta(seconds=spread * i / count)
        rows.append(
            {
                "receiver": "bench",
                "group_key": f"g{i}",
                "open_key": f"bench\ng{i}",
                "title": f"bench incident {i}",
                "status": "triggered",
                "labels": {},
                "annotations": {},
                "truncated_alerts": 0,
                "channel": "C0INCID001",
                "policy_name": "bench",
                "policy_snapshot": snapshot,
                "esc_step": 0,
                "esc_loop": 0,
                "next_due_at": to_db(due),
                "opened_at": to_db(due),
                "version": 0,
            }
        )
    for start in range(0, count, 2000):
        async with db.transaction() as session:
            connection = await session.connection()
            await connection.execute(insert(Incident), rows[start : start + 2000])


async def measure_idle(seconds: float) -> float:
    cpu, wall = cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    return 100 * (cpu_seconds() - cpu) / (time.monotonic() - wall)


async def run(args: argparse.Namespace, url: str) -> None:
    db = Database(url)
    lateness: list[float] = []
    done = asyncio.Event()

    def fired(_item: Advanced, late: float) -> None:
        lateness.append(late)
        if len(lateness) >= args.incidents:
            done.set()

    engine = EscalationEngine(db, CONFIG, SystemClock(), on_fired=fired)
    lead = 5.0  # seconds before the first due time: an idle stretch with incidents open
    first_due = datetime.now(UTC) + timedelta(seconds=lead + 3)
    await seed(db, args.incidents, first_due, args.spread)
    print(
        f"seeded {args.incidents} open incidents, due over {args.spread:.0f} s "
        f"({args.incidents / args.spread:.0f}/s) on {'PostgreSQL' if db.is_postgres else 'SQLite'}"
    )
    engine.start()
    await asyncio.sleep(1.0)
    idle_before = await measure_idle(lead - 1.5)
    started = time.monotonic()
    await asyncio.wait_for(done.wait(), timeout=args.spread + 300)
    busy = time.monotonic() - started
    idle_after = await measure_idle(args.idle)
    await engine.stop()
    await db.dispose()

    print(f"fired step 1 of {len(lateness)} incidents in {busy:.1f} s")
    print(
        "lateness (commit time - due time): "
        f"p50 {statistics.median(lateness) * 1000:.0f} ms, "
        f"p99 {percentile(lateness, 0.99) * 1000:.0f} ms, "
        f"max {max(lateness) * 1000:.0f} ms"
    )
    print(
        f"idle CPU with {args.incidents} open incidents and nothing due: "
        f"{idle_before:.2f}% before the first due time, {idle_after:.2f}% after the last "
        f"(over {args.idle:.0f} s)"
    )
    print(f"resident memory: {rss_mb():.0f} MB now, {peak_rss_mb():.0f} MB peak")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument(
        "--spread", type=float, default=60.0, help="seconds over which steps fall due"
    )
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measurement")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--postgres", action="store_true", help="a throwaway local cluster")
    args = parser.parse_args()
    if args.postgres:
        from tests.support.binaries import postgres_bindir
        from tests.support.postgres import running_cluster

        bindir = postgres_bindir()
        if bindir is None:
            sys.exit("PostgreSQL server binaries not found")
        with running_cluster(bindir) as cluster:
            url = cluster.url(cluster.create_database())
            upgrade(url)
            asyncio.run(run(args, url))
        return
    url = args.database_url
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='nightshift-bench-')}/bench.db"
    upgrade(url)  # alembic runs its own event loop: before ours starts
    asyncio.run(run(args, url))


if __name__ == "__main__":
    main()
