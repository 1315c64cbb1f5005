"""The permission directory: who actually holds which grants.

One question, three providers: `file` (directory.yaml), `command` (an executable
that reads the question as JSON on stdin and prints the granted subset) and `http`
(an Open Policy Agent–style POST of `{"input": …}` answered by `{"result": …}`).
Answers are cached briefly. A provider that fails or times out yields "could not
verify" (`granted is None`), never "can do".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import yaml

from bot.config import DirectorySettings, Person
from bot.core.permissions import grant_error

log = logging.getLogger(__name__)


class DirectoryError(Exception):
    """The provider could not answer; the verdict becomes "could not verify"."""


class DirectoryTimeout(DirectoryError):
    """The provider did not answer in time: probably down for everyone, not one person."""


@dataclass(frozen=True)
class Answer:
    granted: frozenset[str] | None  # held grants (patterns allowed); None = could not verify
    error: str | None = None
    timed_out: bool = False


class Provider(Protocol):
    async def lookup(self, person: Person, required: Sequence[str]) -> frozenset[str]:
        """The grants `person` holds that bear on `required`; raises DirectoryError."""
        ...


def question(person: Person, required: Sequence[str]) -> dict[str, Any]:
    return {
        "person": {"name": person.name, "slack": person.slack, "email": person.email},
        "grants": list(required),
    }


def parse_granted(value: object) -> frozenset[str]:
    """A JSON answer: a list of grants, or an object with a `granted` list."""
    if isinstance(value, dict):
        value = value.get("granted")
    if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
        raise DirectoryError('answer is not a list of grants (or {"granted": [...]})')
    return frozenset(g for g in value if grant_error(g) is None)


class FileProvider:
    """directory.yaml: `groups: {sre: {members: [...], grants: [...]}}`, `users: {...}`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._loaded: tuple[float, dict[str, frozenset[str]]] | None = None

    def held(self) -> dict[str, frozenset[str]]:
        try:
            mtime = self.path.stat().st_mtime
        except OSError as exc:
            raise DirectoryError(f"cannot read {self.path}: {exc.strerror}") from exc
        if self._loaded is None or self._loaded[0] != mtime:
            self._loaded = (mtime, _read_directory_file(self.path))
        return self._loaded[1]

    async def lookup(self, person: Person, required: Sequence[str]) -> frozenset[str]:
        return self.held().get(person.name, frozenset())

    def people(self) -> list[str]:
        return list(self.held())


def _read_directory_file(path: Path) -> dict[str, frozenset[str]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DirectoryError(f"cannot load {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise DirectoryError(f"{path}: expected a mapping with groups and users")
    held: dict[str, set[str]] = {}
    for group in _mapping(data.get("groups")).values():
        grants = _strings(_mapping(group).get("grants"))
        for member in _strings(_mapping(group).get("members")):
            held.setdefault(member, set()).update(grants)
    for name, user in _mapping(data.get("users")).items():
        held.setdefault(str(name), set()).update(_strings(_mapping(user).get("grants")))
    return {
        name: frozenset(g for g in grants if grant_error(g) is None)
        for name, grants in held.items()
    }


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


class CommandProvider:
    """Runs an executable: the question as JSON on stdin, the granted subset as JSON on stdout."""

    def __init__(self, argv: Sequence[str], timeout: float, cwd: Path | None = None) -> None:
        if not argv:
            raise ValueError("directory.command is empty")
        self.argv = tuple(argv)
        self.timeout = timeout
        self.cwd = cwd  # the config's folder, so `./bin/ask-ldap` works as written

    async def lookup(self, person: Person, required: Sequence[str]) -> frozenset[str]:
        payload = json.dumps(question(person, required)).encode()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.cwd,
            )
        except OSError as exc:
            raise DirectoryError(f"cannot run {self.argv[0]}: {exc.strerror or exc}") from exc
        try:
            out, err = await asyncio.wait_for(proc.communicate(payload), self.timeout)
        except TimeoutError as exc:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise DirectoryTimeout(f"{self.argv[0]} timed out after {self.timeout:g}s") from exc
        if proc.returncode != 0:
            detail = err.decode(errors="replace").strip()[:200]
            why = f"{self.argv[0]} exited {proc.returncode}"
            raise DirectoryError(f"{why}: {detail}" if detail else why)
        try:
            return parse_granted(json.loads(out or b"null"))
        except json.JSONDecodeError as exc:
            raise DirectoryError(f"{self.argv[0]} printed invalid JSON: {exc}") from exc


class HttpProvider:
    """POSTs `{"input": question}`; reads `{"result": [...]}` (OPA's data API shape)."""

    def __init__(self, url: str, timeout: float, headers: Mapping[str, str] | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.headers = dict(headers or {})

    async def lookup(self, person: Person, required: Sequence[str]) -> frozenset[str]:
        body = {"input": question(person, required)}
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(self.url, json=body, headers=self.headers) as response,
            ):
                if response.status != 200:
                    raise DirectoryError(f"{self.url} answered HTTP {response.status}")
                answer = await response.json(content_type=None)
        except TimeoutError as exc:
            raise DirectoryTimeout(f"{self.url} timed out after {self.timeout:g}s") from exc
        except (aiohttp.ClientError, json.JSONDecodeError, ValueError) as exc:
            raise DirectoryError(f"{self.url}: {exc}") from exc
        if not isinstance(answer, dict) or "result" not in answer:
            raise DirectoryError(f"{self.url}: answer has no 'result'")
        return parse_granted(answer["result"])


class UnconfiguredProvider:
    async def lookup(self, person: Person, required: Sequence[str]) -> frozenset[str]:
        raise DirectoryError("no permission directory is configured")


class Directory:
    """The one interface the rest of the bot uses, with a short TTL cache over a provider."""

    def __init__(
        self,
        provider: Provider,
        *,
        timeout: float = 5.0,
        cache_ttl: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        concurrency: int = 8,
    ) -> None:
        self.provider = provider
        self.timeout = timeout
        self.cache_ttl = cache_ttl
        self._monotonic = monotonic
        self._cache: dict[tuple[str, frozenset[str]], tuple[float, frozenset[str]]] = {}
        self._concurrency = concurrency

    async def grants(self, person: Person, required: Iterable[str]) -> Answer:
        wanted = frozenset(required)
        hit = self.cached(person, wanted)
        if hit is not None:
            return hit
        key = (person.name, wanted)
        now = self._monotonic()
        try:
            # a belt over the providers' own timeouts: a stuck provider never blocks a page
            granted = await asyncio.wait_for(
                self.provider.lookup(person, sorted(wanted)), self.timeout + 1.0
            )
        except DirectoryError as exc:
            # callers show it where it matters (thread, report); a log line per person is noise
            log.info("directory: could not verify %s: %s", person.name, exc)
            return Answer(None, str(exc), timed_out=isinstance(exc, DirectoryTimeout))
        except TimeoutError:
            return Answer(None, f"directory timed out after {self.timeout:g}s", timed_out=True)
        # failures are not cached: the next page asks again
        self._cache[key] = (now + self.cache_ttl, granted)
        return Answer(granted)

    async def grants_many(
        self, people: Iterable[Person], required: Iterable[str]
    ) -> dict[str, Answer]:
        """Everyone's answer. After one timeout the rest are not asked (but still served
        from the cache): a directory that is down would otherwise stall for
        people / concurrency × timeout."""
        wanted = frozenset(required)
        limit = asyncio.Semaphore(self._concurrency)
        down: list[str] = []

        async def one(person: Person) -> tuple[str, Answer]:
            async with limit:
                if down:
                    hit = self.cached(person, wanted)
                    return person.name, hit or Answer(None, down[0], timed_out=True)
                answer = await self.grants(person, wanted)
                if answer.timed_out:
                    down.append(answer.error or "directory timed out")
                return person.name, answer

        pairs = await asyncio.gather(*(one(p) for p in people))
        return dict(pairs)

    def cached(self, person: Person, required: frozenset[str]) -> Answer | None:
        hit = self._cache.get((person.name, required))
        if hit is not None and hit[0] > self._monotonic():
            return Answer(hit[1])
        return None

    def people(self) -> list[str]:
        """People the directory itself names (file provider only), for "who else can"."""
        if isinstance(self.provider, FileProvider):
            with contextlib.suppress(DirectoryError):
                return self.provider.people()
        return []


def build_directory(
    settings: DirectorySettings | None,
    base: Path | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Directory:
    """The configured directory; `base` is the config's folder (cwd for `command`)."""
    if settings is None:
        return Directory(UnconfiguredProvider(), monotonic=monotonic)
    provider: Provider
    if settings.provider == "file" and settings.file is not None:
        provider = FileProvider(settings.file)
    elif settings.provider == "command" and settings.command:
        provider = CommandProvider(settings.command, settings.timeout, base)
    elif settings.provider == "http" and settings.url:
        provider = HttpProvider(settings.url, settings.timeout)
    else:
        provider = UnconfiguredProvider()
    return Directory(
        provider, timeout=settings.timeout, cache_ttl=settings.cache_ttl, monotonic=monotonic
    )
