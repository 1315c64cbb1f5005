"""Routes: the first route whose labels all match picks the channel and policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Route:
    match: Mapping[str, str] = field(default_factory=dict)
    channel: str | None = None
    policy: str | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(key) == value for key, value in self.match.items())


def pick_route(routes: Sequence[Route], labels: Mapping[str, str]) -> Route | None:
    return next((route for route in routes if route.matches(labels)), None)
