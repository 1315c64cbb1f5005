"""The manifest declares what the app actually uses."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_manifest_matches_the_app() -> None:
    manifest = yaml.safe_load((ROOT / "slack-manifest.yaml").read_text())
    commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert commands == {"/incident", "/oncall", "/runbook"}
    urls = [c["url"] for c in manifest["features"]["slash_commands"]]
    urls += [
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
    ]
    assert all(url.endswith("/slack/events") for url in urls)
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"message.channels", "message.groups", "reaction_added"} <= events
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {
        "chat:write",
        "commands",
        "users:read",
        "im:write",
        "channels:history",
        "reactions:read",
    } <= scopes
    # every command and event the listeners register is declared
    source = "\n".join(p.read_text() for p in (ROOT / "bot/adapters/slack").glob("*.py"))
    assert set(re.findall(r'@app\.command\("(/\w+)"\)', source)) <= commands
    assert "reaction_added" in re.findall(r'@app\.event\("(\w+)"\)', source)
