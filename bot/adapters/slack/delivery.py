"""One Slack call (or two, for a DM) per outbox row, and what its failure means.

Posts carry metadata naming their outbox row. When a post's outcome is unknown (a
timeout, a dropped connection, a crash mid-send) the next attempt first looks for that
metadata in the channel or thread and adopts the existing message instead of posting
again: a timeout after a successful post never posts twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.render import Message

METADATA_EVENT = "nightshift_outbox"
# ok:false errors worth retrying; everything else from Slack is permanent for that row
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)


@dataclass(frozen=True)
class Failure(Exception):
    reason: str  # ratelimited | server_error | timeout | connection | slack_error
    detail: str
    transient: bool
    uncertain: bool = False  # the message may have been posted
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def classify(exc: BaseException, *, posting: bool) -> Failure:
    if isinstance(exc, SlackApiError):
        status = int(getattr(exc.response, "status_code", 200) or 200)
        error = str(exc.response.get("error") if hasattr(exc.response, "get") else "") or ""
        if status == 429:
            headers = getattr(exc.response, "headers", {}) or {}
            raw = headers.get("Retry-After") or headers.get("retry-after") or "1"
            try:
                wait = max(1.0, float(raw))
            except ValueError:
                wait = 1.0
            return Failure("ratelimited", f"HTTP 429, Retry-After {raw}", True, retry_after=wait)
        if status >= 500:
            return Failure(
                "server_error", f"HTTP {status} {error}".strip(), True, uncertain=posting
            )
        return Failure("slack_error", error or f"HTTP {status}", error in TRANSIENT_ERRORS)
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return Failure("timeout", "no answer from Slack in time", True, uncertain=posting)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return Failure("connection", repr(exc)[:300], True, uncertain=posting)
    return Failure("unexpected", repr(exc)[:300], True, uncertain=posting)


def metadata(outbox_id: int, incident_id: int | None) -> dict[str, Any]:
    return {
        "event_type": METADATA_EVENT,
        "event_payload": {"outbox_id": outbox_id, "incident_id": incident_id or 0},
    }


class Slack:
    """The few Web API calls the sender makes, each turning errors into a Failure."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post(
        self,
        outbox_id: int,
        incident_id: int | None,
        channel: str,
        message: Message,
        thread_ts: str | None = None,
        *,
        check_first: bool = False,
    ) -> str:
        """Post and return the message ts; with `check_first`, adopt an earlier copy."""
        if check_first:
            found = await self.find_posted(outbox_id, channel, thread_ts)
            if found:
                return found
        try:
            response = await self.client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                thread_ts=thread_ts,
                metadata=metadata(outbox_id, incident_id),
                unfurl_links=False,
                unfurl_media=False,
            )
        except Exception as exc:
            raise classify(exc, posting=True) from exc
        return str(response["ts"])

    async def update(self, channel: str, ts: str, message: Message) -> None:
        try:
            await self.client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks
            )
        except Exception as exc:
            raise classify(exc, posting=False) from exc

    async def open_dm(self, user_id: str) -> str:
        try:
            response = await self.client.conversations_open(users=user_id)
        except Exception as exc:
            raise classify(exc, posting=False) from exc
        return str(response["channel"]["id"])

    async def find_posted(self, outbox_id: int, channel: str, thread_ts: str | None) -> str | None:
        try:
            if thread_ts:
                response = await self.client.conversations_replies(
                    channel=channel, ts=thread_ts, limit=200, include_all_metadata=True
                )
            else:
                response = await self.client.conversations_history(
                    channel=channel, limit=100, include_all_metadata=True
                )
        except Exception as exc:
            raise classify(exc, posting=False) from exc
        for message in response.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == METADATA_EVENT and payload.get("outbox_id") == outbox_id:
                return str(message["ts"])
        return None
