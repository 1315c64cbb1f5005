"""`serve` picks its event loop from NIGHTSHIFT_EVENT_LOOP; a bad choice stops it at start."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from bot.__main__ import main
from bot.cli.event_loop import loop_factory
from bot.settings import Settings


def run_in(factory_choice: str) -> str:
    _, factory = loop_factory(factory_choice)
    with asyncio.Runner(loop_factory=factory) as runner:
        return type(runner.get_loop()).__module__


def test_auto_prefers_uvloop_when_installed() -> None:
    name, factory = loop_factory("auto")
    assert (name, factory) == ("uvloop", uvloop.new_event_loop)
    assert run_in("auto").startswith("uvloop")


def test_asyncio_is_the_standard_loop() -> None:
    assert loop_factory("asyncio")[0] == "asyncio"
    assert run_in("asyncio").startswith("asyncio")


def test_auto_falls_back_when_uvloop_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` fail
    assert loop_factory("auto")[0] == "asyncio"
    with pytest.raises(ValueError, match="uvloop is not installed"):
        loop_factory("uvloop")


def test_unknown_loop_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="NIGHTSHIFT_EVENT_LOOP must be one of"):
        loop_factory("trio")


def test_settings_read_the_choice() -> None:
    assert Settings.from_env({}).event_loop == "auto"
    assert Settings.from_env({"NIGHTSHIFT_EVENT_LOOP": "asyncio"}).event_loop == "asyncio"


def test_serve_with_an_unknown_loop_exits_1_before_listening(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NIGHTSHIFT_EVENT_LOOP", "trio")
    assert main(["serve", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "configuration error: NIGHTSHIFT_EVENT_LOOP must be one of auto, uvloop, asyncio" in err
