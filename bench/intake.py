"""Intake throughput and latency: `nightshift serve` on SQLite vs a bare aiohttp+sqlite3 handler.

Same run, same machine, 50 concurrent connections, every request a distinct alert group
(so every request opens an incident). Usage: python bench/intake.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loadgen import LoadResult, run_load

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO.parent / "shared" / "fixtures" / "alertmanager" / "firing-single.json"
TOKEN = "bench-token"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def template() -> dict[str, object]:
    if FIXTURE.exists():
        data: dict[str, object] = json.loads(FIXTURE.read_text())
        return data
    return {
        "receiver": "bench",
        "status": "firing",
        "version": "4",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "",
        "truncatedAlerts": 0,
        "groupKey": "",
        "alerts": [],
    }


def body_for(run: str) -> object:
    base = template()

    def make(index: int) -> bytes:
        payload = dict(base)
        payload["groupKey"] = f'{{}}:{{alertname="Bench", run="{run}", n="{index}"}}'
        payload["groupLabels"] = {"alertname": "Bench", "n": str(index)}
        payload["commonLabels"] = {"alertname": "Bench", "n": str(index), "severity": "warning"}
        payload["alerts"] = [
            {
                "status": "firing",
                "labels": {"alertname": "Bench", "n": str(index)},
                "annotations": {},
                "startsAt": "2026-11-22T01:11:41.052Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": f"{index:016x}",
            }
        ]
        return json.dumps(payload).encode()

    return make


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


def start(cmd: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    wait_ready(url)
    return proc


def measure(url: str, total: int, concurrency: int, run: str) -> LoadResult:
    make = body_for(run)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    # warm up (connections, caches) outside the measurement
    asyncio.run(
        run_load(
            url + "/alerts/alertmanager", make, total=100, concurrency=concurrency, headers=headers
        )
    )  # type: ignore[arg-type]
    shifted = lambda i: make(i + 1_000_000)  # noqa: E731 - distinct groups after warm-up
    return asyncio.run(
        run_load(
            url + "/alerts/alertmanager",
            shifted,
            total=total,
            concurrency=concurrency,
            headers=headers,
        )
    )


def serve_and_measure(config: Path, db: Path, args: argparse.Namespace) -> LoadResult:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "DATABASE_URL": f"sqlite:///{db}",
        "ALERTMANAGER_TOKEN": TOKEN,
        "SLACK_BOT_TOKEN": "",
        "SLACK_SIGNING_SECRET": "",
        "PYTHONPATH": str(REPO),
    }
    cmd = [sys.executable, "-m", "bot", "serve", "--config", str(config), "--port", str(port)]
    serve = start(cmd, env, url)
    try:
        return measure(url, args.requests, args.concurrency, db.stem)
    finally:
        serve.terminate()
        serve.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="nightshift-bench-"))
    # The shipped config pages someone for every new incident: step 1 fires in the intake
    # transaction, and the runbook check and Slack messages (rendered in dry-run) follow in
    # the same process.
    # A config whose routes name no policy shows the cost of intake and posting alone.
    no_paging = workdir / "no-paging.yaml"
    no_paging.write_text("slack: {channel: C0INCID001}\nroutes:\n  - {match: {}}\n")
    configs = {"no policy": no_paging, "paging": REPO / "nightshift.yaml"}

    print(
        f"intake benchmark: {args.requests} requests, {args.concurrency} connections, "
        f"distinct groups, SQLite WAL; {args.rounds} rounds, each measuring the bare handler "
        "and nightshift back to back (this machine's speed drifts, so ratios are per round)"
    )
    # The baseline runs on the standard event loop; the same handler on uvloop
    # (which `serve` uses) gives the ratio with the event loop held equal.
    baselines = ("asyncio", "uvloop")
    # baseline loop -> config -> ratio per round
    ratios = {loop: {name: list[float]() for name in configs} for loop in baselines}
    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no}")
        rates = {}
        for loop in baselines:
            bare = bare_measure(workdir / f"bare-{loop}-{round_no}.db", loop, args)
            rates[loop] = bare.rate
            print("  " + bare.line(f"bare aiohttp+sqlite3 ({loop})"))
        for name, config in configs.items():
            db = workdir / f"{name.replace(' ', '-')}-{round_no}.db"
            result = serve_and_measure(config, db, args)
            for loop in baselines:
                ratios[loop][name].append(result.rate / rates[loop])
            ratio = ratios["asyncio"][name][-1]
            print("  " + result.line(f"nightshift ({name})") + f"   {ratio:.2f}x")
    print(f"throughput vs the bare handler, median of rounds: {summarize(ratios['asyncio'])}")
    print(f"vs the bare handler on uvloop: {summarize(ratios['uvloop'])}")


def summarize(ratios: dict[str, list[float]]) -> str:
    return ", ".join(
        f"{statistics.median(values):.2f}x {name} (range {min(values):.2f}-{max(values):.2f})"
        for name, values in ratios.items()
    )


def bare_measure(db: Path, loop: str, args: argparse.Namespace) -> LoadResult:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    script = REPO / "bench" / "bare_handler.py"
    handler = [sys.executable, str(script), str(db), str(port), loop]
    bare = start(handler, {}, url)
    try:
        return measure(url, args.requests, args.concurrency, db.stem)
    finally:
        bare.terminate()
        bare.wait()


if __name__ == "__main__":
    main()
