"""users.info with a short cache: the facts that decide whether a Slack user is a person.

A failed or unknown lookup answers None, which the ack rule treats as "not verified"
and refuses; nothing is ever counted on a guess.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.ack import UserFacts

log = logging.getLogger(__name__)


def facts_from_users_info(user: Mapping[str, Any]) -> UserFacts:
    profile = user.get("profile") or {}
    name = (
        profile.get("display_name")
        or user.get("name")
        or profile.get("real_name")
        or user.get("real_name")
        or str(user.get("id", ""))
    )
    return UserFacts(
        id=str(user.get("id", "")),
        name=str(name),
        is_bot=bool(user.get("is_bot")),
        is_app_user=bool(user.get("is_app_user")),
        deleted=bool(user.get("deleted")),
        is_restricted=bool(user.get("is_restricted")),
        is_ultra_restricted=bool(user.get("is_ultra_restricted")),
        tz=user.get("tz") if isinstance(user.get("tz"), str) else None,
    )


class Identity:
    def __init__(
        self,
        client: AsyncWebClient | None,
        *,
        ttl: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        on_lookup: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, UserFacts]] = {}
        self._on_lookup = on_lookup or (lambda _result: None)

    async def lookup(self, user_id: str) -> UserFacts | None:
        """The user's facts, or None when Slack cannot tell us (never cached)."""
        now = self._monotonic()
        hit = self._cache.get(user_id)
        if hit and hit[0] > now:
            self._on_lookup("hit")
            return hit[1]
        if self._client is None or not user_id:
            self._on_lookup("unavailable")
            return None
        try:
            response = await self._client.users_info(user=user_id)
        except SlackApiError as exc:
            log.warning("users.info %s refused: %s", user_id, exc.response.get("error"))
            self._on_lookup("error")
            return None
        except Exception as exc:  # connection errors, timeouts: unknown, never a person
            log.warning("users.info %s failed: %r", user_id, exc)
            self._on_lookup("error")
            return None
        user = response.get("user")
        if not isinstance(user, dict) or user.get("id") != user_id:
            self._on_lookup("error")
            return None
        facts = facts_from_users_info(user)
        self._cache[user_id] = (now + self._ttl, facts)
        if len(self._cache) > 5000:
            self._evict(now)
        self._on_lookup("miss")
        return facts

    def forget(self, user_id: str) -> None:
        self._cache.pop(user_id, None)

    def _evict(self, now: float) -> None:
        for key in [k for k, (exp, _f) in self._cache.items() if exp <= now]:
            del self._cache[key]
