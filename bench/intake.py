"""Intake throughput and latency: `nightshift serve` on SQLite vs a bare aiohttp+sqlite3 handler.

Same run, same machine, 50 concurrent connections, every request a distinct alert group
(so every request opens an incident). Usage: python bench/intake.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="nightshift-bench-"))

    bare_port = free_port()
    bare_url = f"http://127.0.0.1:{bare_port}"
    bare = start(
        [
            sys.executable,
            str(REPO / "bench" / "bare_handler.py"),
            str(workdir / "bare.db"),
            str(bare_port),
        ],
        {},
        bare_url,
    )
    try:
        baseline = measure(bare_url, args.requests, args.concurrency, "bare")
    finally:
        bare.terminate()
        bare.wait()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "DATABASE_URL": f"sqlite:///{workdir / 'nightshift.db'}",
        "ALERTMANAGER_TOKEN": TOKEN,
        "SLACK_BOT_TOKEN": "",
        "SLACK_SIGNING_SECRET": "",
        "PYTHONPATH": str(REPO),
    }
    serve = start(
        [
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--config",
            str(REPO / "nightshift.yaml"),
            "--port",
            str(port),
        ],
        env,
        url,
    )
    try:
        ours = measure(url, args.requests, args.concurrency, "nightshift")
    finally:
        serve.terminate()
        serve.wait()

    print(
        f"intake benchmark: {args.requests} requests, {args.concurrency} connections, "
        "distinct groups, SQLite WAL"
    )
    print(baseline.line("bare aiohttp+sqlite3"))
    print(ours.line("nightshift serve"))
    print(f"ratio: {ours.rate / baseline.rate:.2f}x of the bare handler's throughput")


if __name__ == "__main__":
    main()
