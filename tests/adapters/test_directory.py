import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from textwrap import dedent

import pytest
from aiohttp import web

from bot.adapters.directory import (
    CommandProvider,
    Directory,
    FileProvider,
    HttpProvider,
    build_directory,
)
from bot.adapters.directory_check import check_directory
from bot.config import Config, DirectorySettings, Person
from bot.core.runbook import RunbookStep, Verdict, check_step

ALICE = Person("alice", slack="U0ALICE001", email="alice@example.com")
ROLLBACK = "deploy:ai-agent:rollback"
TRACES = "traces:agent:read"

DIRECTORY_YAML = dedent(
    """\
    groups:
      sre: {members: [alice, bob], grants: ["grafana:dashboards:view", "k8s:prod/*:restart"]}
      ai: {members: [alice], grants: ["traces:*:read"]}
    users:
      carol: {grants: ["deploy:ai-agent:rollback", "not a grant"]}
      alice: {grants: ["sso:ai-workspace"]}
    """
)


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_file_provider_unions_groups_and_users(tmp_path: Path) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text(DIRECTORY_YAML)
    directory = Directory(FileProvider(path), cache_ttl=0)
    alice = await directory.grants(ALICE, [ROLLBACK])
    assert alice.granted == frozenset(
        {"grafana:dashboards:view", "k8s:prod/*:restart", "traces:*:read", "sso:ai-workspace"}
    )
    carol = await directory.grants(Person("carol"), [ROLLBACK])
    assert carol.granted == frozenset({ROLLBACK})  # the malformed grant is ignored
    nobody = await directory.grants(Person("zed"), [ROLLBACK])
    assert nobody.granted == frozenset()  # known to hold nothing: "cannot", not "unverified"
    assert sorted(directory.people()) == ["alice", "bob", "carol"]


async def test_file_provider_missing_or_broken_file_is_could_not_verify(tmp_path: Path) -> None:
    directory = Directory(FileProvider(tmp_path / "absent.yaml"))
    answer = await directory.grants(ALICE, [ROLLBACK])
    assert answer.granted is None and answer.error and "absent.yaml" in answer.error
    broken = tmp_path / "broken.yaml"
    broken.write_text("groups: [unclosed\n")
    answer = await Directory(FileProvider(broken)).grants(ALICE, [ROLLBACK])
    assert answer.granted is None
    step = RunbookStep(1, "Roll back", (ROLLBACK,))
    assert check_step(step, answer.granted).verdict is Verdict.UNVERIFIED


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n" + dedent(body))
    path.chmod(0o755)
    return path


ASK_SCRIPT = """\
import json, sys
question = json.load(sys.stdin)
with open(sys.argv[1], "a") as log:
    log.write(json.dumps(question) + "\\n")
held = {"alice": ["deploy:ai-agent:*"], "bob": []}.get(question["person"]["name"], [])
from fnmatch import fnmatchcase
print(json.dumps({"granted": [g for g in question["grants"]
                              if any(fnmatchcase(g, h) for h in held)]}))
"""


async def test_command_provider_asks_a_real_script_and_caches(tmp_path: Path) -> None:
    log = tmp_path / "questions.jsonl"
    ask = script(tmp_path, "ask.py", ASK_SCRIPT)
    ticker = Ticker()
    directory = Directory(
        CommandProvider([str(ask), str(log)], timeout=5), cache_ttl=30, monotonic=ticker
    )
    answer = await directory.grants(ALICE, [TRACES, ROLLBACK])
    assert answer.granted == frozenset({ROLLBACK})
    question = json.loads(log.read_text().splitlines()[0])
    assert question == {
        "person": {"name": "alice", "slack": "U0ALICE001", "email": "alice@example.com"},
        "grants": [ROLLBACK, TRACES],
    }
    await directory.grants(ALICE, [ROLLBACK, TRACES])  # same question: from the cache
    assert len(log.read_text().splitlines()) == 1
    ticker.now += 31
    await directory.grants(ALICE, [ROLLBACK, TRACES])  # expired: asked again
    assert len(log.read_text().splitlines()) == 2
    bob = await directory.grants(Person("bob"), [ROLLBACK])
    assert bob.granted == frozenset()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("import sys\nsys.stderr.write('LDAP down')\nsys.exit(3)\n", "exited 3: LDAP down"),
        ("print('not json')\n", "invalid JSON"),
        ('print(\'{"granted": "everything"}\')\n', "not a list of grants"),
    ],
)
async def test_command_provider_failures_are_could_not_verify(
    tmp_path: Path, body: str, fragment: str
) -> None:
    bad = script(tmp_path, "bad.py", "import sys\nsys.stdin.read()\n" + body)
    answer = await Directory(CommandProvider([str(bad)], timeout=5)).grants(ALICE, [ROLLBACK])
    assert answer.granted is None
    assert answer.error is not None and fragment in answer.error


async def test_command_provider_timeout_kills_the_process(tmp_path: Path) -> None:
    marker = tmp_path / "finished"
    slow = script(
        tmp_path,
        "slow.py",
        f"import time\ntime.sleep(5)\nopen({str(marker)!r}, 'w').write('x')\n",
    )
    directory = Directory(CommandProvider([str(slow)], timeout=0.3), timeout=0.3)
    answer = await directory.grants(ALICE, [ROLLBACK])
    assert answer.granted is None
    assert answer.error is not None and "timed out" in answer.error
    await asyncio.sleep(0)
    assert not marker.exists()


async def test_command_provider_missing_executable(tmp_path: Path) -> None:
    provider = CommandProvider([str(tmp_path / "nope")], timeout=1)
    answer = await Directory(provider).grants(ALICE, [ROLLBACK])
    assert answer.granted is None and answer.error and "cannot run" in answer.error


class Opa:
    """A local OPA-shaped policy server: POST {"input": ...} -> {"result": [...]}."""

    def __init__(self) -> None:
        self.inputs: list[dict[str, object]] = []
        self.mode = "ok"
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.inputs.append(body["input"])
        if self.mode == "error":
            return web.json_response({"code": "internal_error"}, status=500)
        if self.mode == "slow":
            await self.release.wait()
        if self.mode == "garbage":
            return web.Response(text="<html>", content_type="text/html")
        if self.mode == "no-result":
            return web.json_response({})  # OPA's answer for an undefined rule
        person = body["input"]["person"]["name"]
        granted = [g for g in body["input"]["grants"] if person == "alice" and "deploy" in g]
        return web.json_response({"result": granted})


@pytest.fixture
async def opa() -> AsyncIterator[tuple[Opa, str]]:
    server = Opa()
    app = web.Application()
    app.router.add_post("/v1/data/nightshift/granted", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield server, f"http://127.0.0.1:{port}/v1/data/nightshift/granted"
    server.release.set()
    await runner.cleanup()


async def test_http_provider_opa_shape(opa: tuple[Opa, str]) -> None:
    server, url = opa
    directory = Directory(HttpProvider(url, timeout=2), cache_ttl=60)
    answer = await directory.grants(ALICE, [ROLLBACK, TRACES])
    assert answer.granted == frozenset({ROLLBACK})
    assert server.inputs == [
        {
            "person": {"name": "alice", "slack": "U0ALICE001", "email": "alice@example.com"},
            "grants": [ROLLBACK, TRACES],
        }
    ]
    await directory.grants(ALICE, [TRACES, ROLLBACK])
    assert len(server.inputs) == 1  # cached


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [("error", "HTTP 500"), ("garbage", "granted"), ("no-result", "no 'result'")],
)
async def test_http_provider_failures(opa: tuple[Opa, str], mode: str, fragment: str) -> None:
    server, url = opa
    server.mode = mode
    directory = Directory(HttpProvider(url, timeout=2))
    answer = await directory.grants(ALICE, [ROLLBACK])
    assert answer.granted is None
    assert answer.error is not None
    assert fragment in answer.error or mode == "garbage"
    # failures are not cached: once the server recovers, the next page gets an answer
    server.mode = "ok"
    assert (await directory.grants(ALICE, [ROLLBACK])).granted == frozenset({ROLLBACK})


async def test_http_provider_timeout(opa: tuple[Opa, str]) -> None:
    server, url = opa
    server.mode = "slow"
    directory = Directory(HttpProvider(url, timeout=0.2), timeout=0.2)
    answer = await directory.grants(ALICE, [ROLLBACK])
    assert answer.granted is None
    assert answer.error is not None and "timed out" in answer.error


async def test_http_provider_unreachable() -> None:
    # port 9 on loopback: nothing listens, the connection is refused at once
    directory = Directory(HttpProvider("http://127.0.0.1:9/", timeout=1))
    assert (await directory.grants(ALICE, [ROLLBACK])).granted is None


async def test_build_directory_from_settings(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(DIRECTORY_YAML)
    directory = build_directory(DirectorySettings(provider="file", file=path))
    many = await directory.grants_many([ALICE, Person("carol")], [ROLLBACK])
    assert many["carol"].granted == frozenset({ROLLBACK})
    unconfigured = await build_directory(None).grants(ALICE, [ROLLBACK])
    assert unconfigured.granted is None
    assert unconfigured.error == "no permission directory is configured"


def test_check_directory_reports_lines(tmp_path: Path) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text(
        dedent(
            """\
            groups:
              sre:
                members: [alice, mallory]
                grants: ["k8s:prod/*:restart", "deploy"]
            users:
              carol: {grants: ["a::b"], role: admin}
            teams: {}
            """
        )
    )
    config = Config(
        path=tmp_path / "nightshift.yaml",
        people={"alice": Person("alice"), "carol": Person("carol")},
        directory=DirectorySettings(provider="file", file=path),
    )
    assert [str(p) for p in check_directory(config)] == [
        f"{path}:3: warning: 'mallory' is not a person in the config",
        f"{path}:4: grant 'deploy' is not system:resource:action",
        f"{path}:6: grant 'a::b' has an empty segment; expected system:resource:action",
        f"{path}:6: unknown key 'role' in user 'carol'",
        f"{path}:7: unknown key 'teams' (expected groups, users)",
    ]
    path.write_text("groups: [unclosed\n")
    assert [p.message.split(":")[0] for p in check_directory(config)] == ["invalid YAML"]
    shipped = Path(__file__).resolve().parents[2] / "directory.yaml"
    config = Config(
        path=shipped.parent / "nightshift.yaml",
        people={n: Person(n) for n in ("alice", "bob", "carol", "dave")},
        directory=DirectorySettings(provider="file", file=shipped),
    )
    assert check_directory(config) == []


async def test_a_directory_that_is_down_is_not_asked_for_everyone(tmp_path: Path) -> None:
    log = tmp_path / "asked"
    slow = script(
        tmp_path,
        "slow.py",
        f"import time\nopen({str(log)!r}, 'a').write('x')\ntime.sleep(5)\n",
    )
    directory = Directory(CommandProvider([str(slow)], timeout=0.3), timeout=0.3, concurrency=4)
    people = [Person(f"p{i}") for i in range(40)]
    answers = await directory.grants_many(people, [ROLLBACK])
    assert all(a.granted is None and a.timed_out for a in answers.values())
    # the first wave timed out; nobody after it was asked (40 x 0.3 s would be 3 s serially)
    assert len(log.read_text()) <= 4
