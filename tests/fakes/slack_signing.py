"""Build and sign Slack requests the way Slack does (see fixtures/slack/README.md).

    body = slash_command("/incident", "ack 42", user_id="U0ALICE001",
                         response_url=slack.response_url("cmd"))
    headers = signed_headers(body, SECRET)               # fresh timestamp
    await http.post("/slack/events", data=body, headers=headers)

`block_action(...)` builds the `payload=` form of a button click, `event_callback(...)`
the JSON envelope of an Events API event. Sign the exact bytes you send.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

SECRET = "test-signing-secret-0123456789abcdef"
_counter = itertools.count(1)


def signature(body: str | bytes, secret: str, timestamp: str) -> str:
    raw = body.encode() if isinstance(body, str) else body
    base = b"v0:" + timestamp.encode() + b":" + raw
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: str | bytes,
    secret: str = SECRET,
    *,
    timestamp: int | None = None,
    content_type: str | None = None,
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    text = body.decode() if isinstance(body, bytes) else body
    if content_type is None:
        content_type = (
            "application/json" if text.startswith("{") else ("application/x-www-form-urlencoded")
        )
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(body, secret, ts),
        "Content-Type": content_type,
    }


def slash_command(
    command: str,
    text: str,
    *,
    user_id: str = "U0ALICE001",
    user_name: str = "alice",
    channel_id: str = "C0INCID001",
    response_url: str = "https://hooks.slack.invalid/cmd",
) -> str:
    n = next(_counter)
    return urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": "T0ACME0001",
            "team_domain": "acme-ops",
            "channel_id": channel_id,
            "channel_name": "incidents",
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": "A0INCBOT01",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"{n}.2222222222.{n:032x}",
        }
    )


def block_action(
    action_id: str,
    value: str,
    *,
    user_id: str = "U0ALICE001",
    user_name: str = "alice",
    channel_id: str = "C0INCID001",
    message_ts: str = "1795309901.123456",
    response_url: str = "https://hooks.slack.invalid/act",
) -> str:
    n = next(_counter)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": "T0ACME0001"},
        "api_app_id": "A0INCBOT01",
        "token": "deprecated-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": f"{n}.2222222222.{n:032x}",
        "team": {"id": "T0ACME0001", "domain": "acme-ops"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "incidents"},
        "message": {
            "type": "message",
            "user": "U0INCBOT01",
            "bot_id": "B0INCBOT01",
            "ts": message_ts,
            "text": "incident",
            "blocks": [],
        },
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": f"blk-{n}",
                "value": value,
                "type": "button",
                "action_ts": f"{int(time.time())}.{n:06d}",
                "text": {"type": "plain_text", "text": action_id},
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def event_callback(event: dict[str, Any], *, event_id: str | None = None) -> str:
    n = next(_counter)
    return json.dumps(
        {
            "token": "deprecated-verification-token",
            "team_id": "T0ACME0001",
            "api_app_id": "A0INCBOT01",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{n:010d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": "T0ACME0001",
                    "user_id": "U0INCBOT01",
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
    )


def message_event(
    text: str,
    *,
    user: str | None = "U0ALICE001",
    bot_id: str | None = None,
    subtype: str | None = None,
    channel: str = "C0INCID001",
    thread_ts: str | None = None,
    ts: str | None = None,
) -> dict[str, Any]:
    n = next(_counter)
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "channel_type": "channel",
        "text": text,
        "ts": ts or f"17953100{n:02d}.{n:06d}",
        "team": "T0ACME0001",
    }
    if user:
        event["user"] = user
    if bot_id:
        event["bot_id"] = bot_id
    if subtype:
        event["subtype"] = subtype
    if thread_ts:
        event["thread_ts"] = thread_ts
    event["event_ts"] = event["ts"]
    return event


def reaction_event(reaction: str, *, user: str, channel: str, item_ts: str) -> dict[str, Any]:
    n = next(_counter)
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": reaction,
        "item": {"type": "message", "channel": channel, "ts": item_ts},
        "item_user": "U0INCBOT01",
        "event_ts": f"17953200{n:02d}.{n:06d}",
    }
