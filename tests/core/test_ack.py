"""Who counts as an owner, and what reads like someone taking the incident."""

from __future__ import annotations

import pytest

from bot.core.ack import (
    Refusal,
    UserFacts,
    judge_person,
    reaction_reads_like_ownership,
    reads_like_ownership,
)
from bot.core.actors import ActorKind

ALICE = UserFacts(id="U0ALICE001", name="alice")


@pytest.mark.parametrize(
    ("facts", "allow_guests", "refusal", "kind"),
    [
        (ALICE, False, None, ActorKind.HUMAN),
        (UserFacts("U1", "grafana", is_bot=True), False, Refusal.BOT, ActorKind.AGENT),
        (UserFacts("U1", "agent", is_app_user=True), False, Refusal.APP_USER, ActorKind.AGENT),
        (UserFacts("USLACKBOT", "slackbot"), False, Refusal.SLACKBOT, ActorKind.AGENT),
        (UserFacts("U1", "erin", deleted=True), False, Refusal.DELETED, ActorKind.HUMAN),
        (UserFacts("U1", "carol", is_restricted=True), False, Refusal.GUEST_MULTI, ActorKind.HUMAN),
        (
            UserFacts("U1", "dave", is_restricted=True, is_ultra_restricted=True),
            False,
            Refusal.GUEST_SINGLE,
            ActorKind.HUMAN,
        ),
        (UserFacts("U1", "carol", is_restricted=True), True, None, ActorKind.HUMAN),
        (
            UserFacts("U1", "dave", is_restricted=True, is_ultra_restricted=True),
            True,
            None,
            ActorKind.HUMAN,
        ),
        # allowing guests never lets a bot or a deleted guest through
        (UserFacts("U1", "x", is_bot=True, is_restricted=True), True, Refusal.BOT, ActorKind.AGENT),
        (
            UserFacts("U1", "x", deleted=True, is_restricted=True),
            True,
            Refusal.DELETED,
            ActorKind.HUMAN,
        ),
    ],
)
def test_personhood(
    facts: UserFacts, allow_guests: bool, refusal: Refusal | None, kind: ActorKind
) -> None:
    verdict = judge_person(facts.id, facts, allow_guests=allow_guests)
    assert verdict.refusal == refusal
    assert verdict.counted == (refusal is None)
    assert verdict.actor.kind == kind and verdict.actor.id == facts.id
    assert bool(verdict.reason) == (refusal is not None)


def test_unknown_or_mismatched_user_is_never_counted() -> None:
    assert judge_person("U0ALICE001", None, allow_guests=True).refusal == Refusal.UNVERIFIED
    other = UserFacts("U0MALLORY1", "alice")
    assert judge_person("U0ALICE001", other, allow_guests=True).refusal == Refusal.UNVERIFIED


def test_responders_only() -> None:
    on_path = judge_person(ALICE.id, ALICE, allow_guests=False, responders={"U0ALICE001"})
    assert on_path.counted
    off_path = judge_person(ALICE.id, ALICE, allow_guests=False, responders={"U0BOB00001"})
    assert off_path.refusal == Refusal.NOT_RESPONDER
    nobody = judge_person(ALICE.id, ALICE, allow_guests=False, responders=set())
    assert nobody.refusal == Refusal.NOT_RESPONDER
    # personhood is checked first: a bot on the path is still a bot
    bot = UserFacts("U0ALICE001", "alice-bot", is_bot=True)
    assert judge_person(bot.id, bot, allow_guests=False, responders={bot.id}).refusal == Refusal.BOT


@pytest.mark.parametrize(
    "text",
    [
        "ack",
        "Ack.",
        "ACK!",
        "acked",
        "ack'd",
        "Acknowledged",
        "acknowledged, investigating",
        "HighErrorRate on checkout: error rate 7%. Acknowledged.",
        "on it",
        "I'm on it",
        "I'll take this",
        "i will take this one",
        "Taking this",
        "investigating",
        "Investigating now",
        "looking into it",
        "I've got this",
        "✅",
        "👀",
        "on it ✅",
        ":white_check_mark:",
        ":eyes:",
        "<@U0INCBOT01> ack",
        "I’ll take it",
    ],
)
def test_reads_like_ownership(text: str) -> None:
    assert reads_like_ownership(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "rolling back deploy 1234",
        "[FIRING:1] DiskFull storage",
        "stack trace attached",
        "the backtrack job failed",
        "acknowledgement timeout is 30m?",
        "rollback done",
        "tracking in JIRA-12",
        "error rate 7%",
        ":fire:",
        "hacker news",
        "snack time",
    ],
)
def test_does_not_read_like_ownership(text: str) -> None:
    assert not reads_like_ownership(text)


def test_reactions() -> None:
    for name in ("white_check_mark", "eyes", "heavy_check_mark", "eyes::skin-tone-2"):
        assert reaction_reads_like_ownership(name)
    for name in ("fire", "thumbsdown", "tada", "+1"):
        assert not reaction_reads_like_ownership(name)
