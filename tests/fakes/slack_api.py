"""A fake Slack Web API for tests: a real aiohttp server on 127.0.0.1, port 0.

Usage::

    async with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.url)   # or SLACK_API_URL
        ...
        call = await slack.wait_for("chat.postMessage")        # waits for the 1st such call
        assert call.args["channel"] == "C0INCID001"

What it does:

* Records every call as `Call(method, args, status)` in `slack.calls` (args = query string
  + form body + JSON body merged; `chat.postMessage` blocks stay lists/dicts).
* Answers from the fixtures in ../shared/fixtures/slack/web-api: `auth.test`,
  `users.info` by user id (alice U0ALICE001, bob U0BOB00001, bot U0GRAFANA1, USLACKBOT,
  guests U0GUEST001 / U0GUEST002, deleted U0GONE0001; plus an app user U0APPUSER1; any
  other id answers `user_not_found`). `slack.add_user({...})` adds more.
* Keeps messages: `chat.postMessage` gets a fresh `ts` per message, `chat.update` edits,
  `conversations.history` / `conversations.replies` list them (with metadata),
  `conversations.open` answers
  `D` + user id, `chat.postEphemeral` is recorded. `slack.messages[(channel, ts)]`.
* `response_url`: POSTs to `slack.response_url(name)` are recorded as method
  `response_url` (args include `_name`).
* Scripted trouble, consumed one call at a time, per method ("*" = any method):
  `slack.fail(method, status=500)`, `slack.fail(method, status=429, retry_after=3)`,
  `slack.fail(method, error="channel_not_found")` (HTTP 200, ok:false),
  `slack.fail(method, delay=2.0)` (does the work, then answers late: a client timeout
  after a successful post). `times=N` repeats it N times.
* `slack.down = True` answers 503 to everything (Slack outage) until set back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

FIXTURES = Path("/work/shared/fixtures/slack/web-api")
_LOCAL = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "slack" / "web-api"
if _LOCAL.exists():
    FIXTURES = _LOCAL

APP_USER: dict[str, Any] = {
    "id": "U0APPUSER1",
    "team_id": "T0ACME0001",
    "name": "triage-agent",
    "deleted": False,
    "real_name": "Triage Agent",
    "tz": "Europe/Berlin",
    "profile": {"display_name": "triage-agent", "real_name": "Triage Agent"},
    "is_bot": False,
    "is_app_user": True,
    "is_restricted": False,
    "is_ultra_restricted": False,
}


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    status: int = 200
    at: float = field(default_factory=time.monotonic)


@dataclass
class Trouble:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        for path in sorted(FIXTURES.glob("users.info-*.json")):
            body = json.loads(path.read_text())
            if body.get("ok"):
                self.users[body["user"]["id"]] = body["user"]
        self.users[APP_USER["id"]] = dict(APP_USER)
        self.down = False
        self._trouble: dict[str, deque[Trouble]] = defaultdict(deque)
        self._ts = 1795309901_000000
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle --------------------------------------------------------------------

    async def start(self, port: int = 0) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        app.router.add_post("/response/{name}", self._response_url)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "r") -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    # --- scripting and inspection ---------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        for _ in range(times):
            self._trouble[method].append(Trouble(status, error, retry_after, delay))

    def add_user(self, user: dict[str, Any]) -> None:
        self.users[user["id"]] = user

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.status == 200]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 15.0) -> Call:  # noqa: ASYNC109
        """The `count`-th successful call to `method`, waiting for it if needed."""

        async def enough() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.calls_to(method)) >= count)

        await asyncio.wait_for(enough(), timeout)
        return self.calls_to(method)[count - 1]

    # --- the API ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _args(request)
        if self.down:
            return await self._record(
                method,
                args,
                web.json_response({"ok": False, "error": "service_unavailable"}, status=503),
                503,
            )
        trouble = self._next_trouble(method)
        if trouble and trouble.status != 200:
            headers = {"Retry-After": str(trouble.retry_after)} if trouble.retry_after else {}
            error = "ratelimited" if trouble.status == 429 else "internal_error"
            return await self._record(
                method,
                args,
                web.json_response(
                    {"ok": False, "error": error}, status=trouble.status, headers=headers
                ),
                trouble.status,
            )
        if trouble and trouble.error:
            return await self._record(
                method, args, web.json_response({"ok": False, "error": trouble.error}), 200
            )
        body = self._answer(method, args)
        response = await self._record(method, args, web.json_response(body), 200)
        if trouble and trouble.delay:
            await asyncio.sleep(trouble.delay)
        return response

    def _next_trouble(self, method: str) -> Trouble | None:
        for key in (method, "*"):
            if self._trouble[key]:
                return self._trouble[key].popleft()
        return None

    async def _record(
        self, method: str, args: dict[str, Any], response: web.Response, status: int
    ) -> web.Response:
        async with self._changed:
            self.calls.append(Call(method, args, status))
            self._changed.notify_all()
        return response

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return load_fixture("auth.test.json")
        if method == "users.info":
            user = self.users.get(str(args.get("user")))
            return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}
        if method == "chat.postMessage":
            channel = str(args["channel"])
            self._ts += 1
            ts = f"{self._ts // 1_000_000}.{self._ts % 1_000_000:06d}"
            message = {
                "type": "message",
                "user": "U0INCBOT01",
                "bot_id": "B0INCBOT01",
                "ts": ts,
                "text": args.get("text", ""),
                "blocks": args.get("blocks", []),
                "thread_ts": args.get("thread_ts"),
                "metadata": args.get("metadata"),
            }
            self.messages[(channel, ts)] = message
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
            key = (str(args["channel"]), str(args["ts"]))
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            self.messages[key].update(text=args.get("text", ""), blocks=args.get("blocks", []))
            return {"ok": True, "channel": key[0], "ts": key[1], "text": args.get("text", "")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": "1795309962.000500"}
        if method == "conversations.open":
            users = str(args.get("users", ""))
            return {"ok": True, "channel": {"id": "D" + users.split(",")[0][1:]}}
        if method == "conversations.replies":
            channel, parent = str(args.get("channel")), str(args.get("ts"))
            found = [
                m
                for (c, ts), m in self.messages.items()
                if c == channel and (ts == parent or m.get("thread_ts") == parent)
            ]
            return {"ok": True, "messages": sorted(found, key=lambda m: m["ts"]), "has_more": False}
        if method == "conversations.history":
            channel = str(args.get("channel"))
            found = [
                m
                for (c, _ts), m in self.messages.items()
                if c == channel and not m.get("thread_ts")
            ]
            return {
                "ok": True,
                "messages": sorted(found, key=lambda m: m["ts"], reverse=True),
                "has_more": False,
            }
        return {"ok": True}

    async def _response_url(self, request: web.Request) -> web.Response:
        args = await _args(request)
        args["_name"] = request.match_info["name"]
        return await self._record("response_url", args, web.Response(text="ok"), 200)


async def _args(request: web.Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query)
    raw = await request.read()
    if not raw:
        return args
    if request.content_type == "application/json":
        body = json.loads(raw)
        if isinstance(body, dict):
            args.update(body)
    else:
        args.update(parse_qsl(raw.decode()))
    for key in ("blocks", "metadata"):
        if isinstance(args.get(key), str):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(args[key])
    return args
