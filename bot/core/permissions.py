"""Grants: `system:resource:action`, where `*` matches within one segment.

A runbook step *requires* grants; a person *holds* grants (from the directory). A
requirement is met when any held grant matches it, segment by segment. `*` in a held
grant is a wildcard that never crosses a `:`; a `*` in a requirement is literal, so
`k8s:prod/*:restart` is only met by a grant at least that broad.

Two-segment grants (`sso:ai-workspace`) are accepted as membership shorthand and read
as `system:resource:access`, so runbooks can say "needs the SSO workspace" naturally.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

SHORTHAND_ACTION = "access"
_SEGMENT = re.compile(r"^[A-Za-z0-9_.*/@+=#~-]+$")


@dataclass(frozen=True)
class Grant:
    text: str  # as written
    system: str
    resource: str
    action: str

    @property
    def segments(self) -> tuple[str, str, str]:
        return (self.system, self.resource, self.action)


def grant_error(text: str) -> str | None:
    """Why `text` is not a valid grant, or None when it is."""
    if not text:
        return "empty grant"
    if any(ch.isspace() for ch in text):
        return f"grant {text!r} contains whitespace; expected system:resource:action"
    parts = text.split(":")
    if len(parts) not in (2, 3):
        return f"grant {text!r} is not system:resource:action"
    for part in parts:
        if not part:
            return f"grant {text!r} has an empty segment; expected system:resource:action"
        if not _SEGMENT.match(part):
            return f"grant {text!r} has an invalid segment {part!r}"
    return None


def parse_grant(text: str) -> Grant:
    error = grant_error(text)
    if error is not None:
        raise ValueError(error)
    parts = text.split(":")
    if len(parts) == 2:
        parts.append(SHORTHAND_ACTION)
    return Grant(text, parts[0], parts[1], parts[2])


def split_grants(text: str) -> tuple[str, ...]:
    """`a:b:c, d:e:f` -> ("a:b:c", "d:e:f"); empty items are dropped."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


@lru_cache(maxsize=65536)
def canonical(text: str) -> str | None:
    """`system:resource:action` with the shorthand expanded; None when invalid."""
    try:
        return ":".join(parse_grant(text).segments)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _pattern(grant: str) -> re.Pattern[str]:
    """A canonical grant with `*` as a regex; `*` never crosses a `:`."""
    return re.compile("^" + "[^:]*".join(re.escape(p) for p in grant.split("*")) + "$")


class Held:
    """A person's grants, indexed: exact grants in a set, wildcards as patterns.

    Audits ask the same few questions of the same grant sets many times, so answers
    are memoised per set.
    """

    __slots__ = ("_answers", "exact", "patterns", "raw")

    def __init__(self, grants: Iterable[str]) -> None:
        self.raw = frozenset(grants)
        exact: set[str] = set()
        patterns: list[re.Pattern[str]] = []
        for grant in self.raw:
            form = canonical(grant)
            if form is None:
                continue
            if "*" in form:
                patterns.append(_pattern(form))
            else:
                exact.add(form)
        self.exact = frozenset(exact)
        self.patterns = tuple(patterns)
        self._answers: dict[str, bool] = {}

    def meets(self, required: str) -> bool:
        answer = self._answers.get(required)
        if answer is None:
            answer = self._meets(required)
            self._answers[required] = answer
        return answer

    def _meets(self, required: str) -> bool:
        form = canonical(required)
        if form is None:  # a malformed requirement is only met by the identical string
            return required in self.raw
        return form in self.exact or any(p.match(form) for p in self.patterns)


@lru_cache(maxsize=4096)
def held(grants: frozenset[str]) -> Held:
    return Held(grants)


def grant_matches(held_grant: str, required: str) -> bool:
    """Does the single held grant `held_grant` satisfy the requirement `required`?"""
    return held(frozenset((held_grant,))).meets(required)


def is_met(grants: Iterable[str], required: str) -> bool:
    return held(frozenset(grants)).meets(required)


def missing(grants: Iterable[str], required: Iterable[str]) -> tuple[str, ...]:
    """The requirements in `required` that none of `grants` satisfies, in order."""
    index = held(grants if isinstance(grants, frozenset) else frozenset(grants))
    return tuple(r for r in required if not index.meets(r))
