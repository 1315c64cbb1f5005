"""NIGHTSHIFT_API_TOKENS: `name:kind:token,…`. No token ever makes anyone an owner."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from bot.core.actors import Actor, ActorKind

TOKEN_KINDS = {"agent": ActorKind.AGENT, "operator": ActorKind.INTEGRATION}


@dataclass(frozen=True)
class ApiToken:
    name: str
    kind: str  # agent | operator
    secret: str

    @property
    def actor(self) -> Actor:
        return Actor(TOKEN_KINDS[self.kind], f"api:{self.name}", self.name)


def parse_api_tokens(raw: str | None) -> list[ApiToken]:
    """Raise ValueError naming the bad entry (without echoing its secret)."""
    tokens = []
    for index, entry in enumerate(e.strip() for e in (raw or "").split(",")):
        if not entry:
            continue
        name, kind, secret = [*entry.split(":", 2), "", ""][:3]
        if not name or kind not in TOKEN_KINDS or not secret:
            raise ValueError(
                f"NIGHTSHIFT_API_TOKENS entry {index + 1} ({name or '?'}): "
                "expected name:kind:token with kind agent or operator"
            )
        tokens.append(ApiToken(name, kind, secret))
    return tokens


def find_token(tokens: list[ApiToken], presented: str) -> ApiToken | None:
    found = None
    for token in tokens:
        if hmac.compare_digest(token.secret.encode(), presented.encode()):
            found = token
    return found
