"""Who counts as an owner: the heart of the product.

A counted acknowledgement needs a *person*: Slack's users.info must show an account that
is not a bot, not an app user, not deleted, not Slackbot, and not a guest unless the
config allows guests. With `ack.who: responders` the person must also be on the
incident's escalation path. Anything we cannot verify is refused, never counted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from bot.core.actors import Actor, ActorKind

SLACKBOT_ID = "USLACKBOT"


@dataclass(frozen=True)
class UserFacts:
    """The users.info fields that decide personhood (parsed by the Slack adapter)."""

    id: str
    name: str
    is_bot: bool = False
    is_app_user: bool = False
    deleted: bool = False
    is_restricted: bool = False  # guest (multi-channel when not ultra-restricted)
    is_ultra_restricted: bool = False  # single-channel guest
    tz: str | None = None

    @property
    def is_agent(self) -> bool:
        return self.is_bot or self.is_app_user or self.id == SLACKBOT_ID


class Refusal(StrEnum):
    UNVERIFIED = "unverified"  # unknown user or users.info failed
    BOT = "bot"
    APP_USER = "app_user"
    SLACKBOT = "slackbot"
    DELETED = "deleted"
    GUEST_SINGLE = "single_channel_guest"
    GUEST_MULTI = "multi_channel_guest"
    NOT_RESPONDER = "not_responder"
    API_TOKEN = "api_token"
    MESSAGE = "message"  # typed text or a reaction: never an acknowledgement


REASONS: dict[Refusal, str] = {
    Refusal.UNVERIFIED: "Slack could not confirm this account is a person (users.info failed "
    "or the user is unknown)",
    Refusal.BOT: "this account is a bot, not a person",
    Refusal.APP_USER: "this account is an app user, not a person",
    Refusal.SLACKBOT: "Slackbot is not a person",
    Refusal.DELETED: "this account is deactivated",
    Refusal.GUEST_SINGLE: "single-channel guests may not own incidents (ack.allow_guests is off)",
    Refusal.GUEST_MULTI: "guests may not own incidents (ack.allow_guests is off)",
    Refusal.NOT_RESPONDER: "only people on this incident's escalation path may own it "
    "(ack.who: responders)",
    Refusal.API_TOKEN: "API tokens never own incidents; a person must press Acknowledge",
    Refusal.MESSAGE: "messages and reactions never acknowledge; a person must press "
    "Acknowledge or run /incident ack",
}


@dataclass(frozen=True)
class Verdict:
    actor: Actor
    refusal: Refusal | None = None

    @property
    def counted(self) -> bool:
        return self.refusal is None

    @property
    def reason(self) -> str:
        return REASONS[self.refusal] if self.refusal else ""


def actor_for(user_id: str, facts: UserFacts | None) -> Actor:
    """The provenance for a Slack user: agent for bots/app users, else human."""
    if facts is None:
        return Actor(ActorKind.HUMAN, user_id, user_id)
    kind = ActorKind.AGENT if facts.is_agent else ActorKind.HUMAN
    return Actor(kind, user_id, facts.name or user_id)


def judge_person(
    user_id: str,
    facts: UserFacts | None,
    *,
    allow_guests: bool,
    responders: Collection[str] | None = None,
) -> Verdict:
    """May this Slack user own an incident? `responders` (Slack ids) is None unless
    `ack.who: responders` is configured."""
    actor = actor_for(user_id, facts)
    refusal: Refusal | None = None
    if facts is None or facts.id != user_id:
        refusal = Refusal.UNVERIFIED
    elif user_id == SLACKBOT_ID:
        refusal = Refusal.SLACKBOT
    elif facts.is_bot:
        refusal = Refusal.BOT
    elif facts.is_app_user:
        refusal = Refusal.APP_USER
    elif facts.deleted:
        refusal = Refusal.DELETED
    elif facts.is_ultra_restricted and not allow_guests:
        refusal = Refusal.GUEST_SINGLE
    elif facts.is_restricted and not allow_guests:
        refusal = Refusal.GUEST_MULTI
    elif responders is not None and user_id not in responders:
        refusal = Refusal.NOT_RESPONDER
    return Verdict(actor=actor, refusal=refusal)


# --- "reads like taking ownership" -------------------------------------------------

_OWNERSHIP_PHRASES = (
    r"ack",
    r"acked",
    r"ack'?d",
    r"acking",
    r"acknowledged?",
    r"acknowledging",
    r"on it",
    r"i'?m on it",
    r"i'?ll (?:take|handle|grab|own) (?:this|it|that)(?: one)?",
    r"i will (?:take|handle|grab|own) (?:this|it|that)(?: one)?",
    r"taking (?:this|it|that|ownership)(?: one)?",
    r"(?:i'?ve|i have) got (?:this|it)",
    r"investigating",
    r"looking into (?:it|this|that)",
    r"owning (?:this|it)",
)
_PHRASE_RE = re.compile(r"(?<![\w-])(?:" + "|".join(_OWNERSHIP_PHRASES) + r")(?![\w-])")
_EMOJI_CHARS = ("✅", "✔", "☑", "👀", "🙋")
# reaction names / :shortcodes: that read as "I've got it"
OWNERSHIP_REACTIONS = frozenset(
    {
        "white_check_mark",
        "heavy_check_mark",
        "ballot_box_with_check",
        "eyes",
        "ack",
        "raising_hand",
        "raised_hand",
        "hand",
        "on-it",
        "onit",
        "looking",
    }
)
_SHORTCODE_RE = re.compile(r":([a-z0-9_+\-']+)(?:::skin-tone-\d)?:")
_MENTION_RE = re.compile(r"<[^>]*>")


def reads_like_ownership(text: str) -> bool:
    """Does this message read like someone taking the incident? ("ack", "on it", ✅ …)"""
    if not text:
        return False
    if any(m.group(1) in OWNERSHIP_REACTIONS for m in _SHORTCODE_RE.finditer(text)):
        return True
    if any(ch in text for ch in _EMOJI_CHARS):
        return True
    plain = _MENTION_RE.sub(" ", text)
    plain = unicodedata.normalize("NFKC", plain).lower().replace("’", "'")
    return _PHRASE_RE.search(plain) is not None


def reaction_reads_like_ownership(name: str) -> bool:
    base = name.split("::", 1)[0]
    return base in OWNERSHIP_REACTIONS
