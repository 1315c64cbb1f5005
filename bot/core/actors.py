"""Who did something: the provenance attached to every incident event."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActorKind(StrEnum):
    HUMAN = "human"
    AGENT = "agent"
    INTEGRATION = "integration"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str
    name: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind.value, "id": self.id, "name": self.name}


ALERTMANAGER = Actor(ActorKind.INTEGRATION, "alertmanager", "Alertmanager")
TIMER = Actor(ActorKind.SYSTEM, "escalation", "escalation timer")
