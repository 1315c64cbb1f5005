"""`/oncall [schedule]`, `/oncall override @person 2h|until YYYY-MM-DD HH:MM [schedule]`,
`/oncall overrides [schedule]`, `/oncall remove ID`. Times are shown and read in the
asking person's own zone (users.info `tz`)."""

from __future__ import annotations

import logging
import re
from datetime import datetime, tzinfo
from typing import Any

from slack_bolt.app.async_app import AsyncApp

from bot.adapters.db.database import DatabaseUnavailable
from bot.adapters.slack.deps import SlackDeps
from bot.adapters.slack.render import escape
from bot.config import Config
from bot.core.ack import actor_for
from bot.core.actors import ActorKind
from bot.core.durations import parse_duration
from bot.service import oncall

log = logging.getLogger(__name__)

HELP = """*nightshift* — `/oncall` commands:
• `/oncall [schedule]` — who is on call now, and the next handoff (in your time zone)
• `/oncall override @person 2h [schedule]` — put someone on call from now for a while
• `/oncall override @person until 2026-11-25 09:00 [schedule]` — …until a time (your zone)
• `/oncall overrides [schedule]` — overrides made here that have not ended
• `/oncall remove ID` — remove one of them"""

MENTION = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$")
UNAVAILABLE = "The database is unavailable right now; try again in a moment."


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.command("/oncall")
    async def on_oncall(ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        user_id = str(command.get("user_id", ""))
        words = str(command.get("text") or "").split()
        try:
            text = await answer(deps, user_id, words)
        except DatabaseUnavailable:
            text = UNAVAILABLE
        try:
            await respond(text=text, response_type="ephemeral")
        except Exception:
            log.exception("could not answer /oncall")


async def answer(deps: SlackDeps, user_id: str, words: list[str]) -> str:
    facts = await deps.identity.lookup(user_id)
    zone = oncall.viewer_zone(facts.tz if facts else None)
    now = deps.clock.now()
    sub = words[0].lower() if words else ""
    config = deps.config
    if sub in ("help", "-h", "--help"):
        return HELP
    if sub == "override":
        if actor_for(user_id, facts).kind != ActorKind.HUMAN or facts is None:
            return "Only a person can change who is on call."
        return await _override(deps, user_id, words[1:], zone, now)
    if sub == "overrides":
        schedule = words[1] if len(words) > 1 else None
        if schedule and schedule not in config.schedules:
            return _no_schedule(config, schedule)
        rows = await oncall.load_overrides(deps.db, now, schedule)
        if not rows:
            return "No overrides made from Slack are active or upcoming."
        lines = [oncall.describe_override(r, config, zone, now) for r in rows]
        return "*Overrides* (remove with `/oncall remove ID`):\n" + "\n".join(lines)
    if sub == "remove":
        if actor_for(user_id, facts).kind != ActorKind.HUMAN or facts is None:
            return "Only a person can change who is on call."
        if len(words) != 2 or not words[1].lstrip("#").isdigit():
            return "Usage: `/oncall remove ID` (IDs are listed by `/oncall overrides`)"
        row = await oncall.remove_override(deps.db, int(words[1].lstrip("#")))
        if row is None:
            return f"There is no override #{words[1].lstrip('#')}."
        deps.wake_engine()
        return "Removed " + oncall.describe_override(row, config, zone, now)
    if len(words) > 1:
        return HELP
    schedule = words[0] if words else None
    if schedule and schedule not in config.schedules:
        return _no_schedule(config, schedule)
    overrides = await oncall.load_overrides(deps.db, now, schedule)
    entries = oncall.on_call_now(config, now, overrides, schedule)
    return oncall.describe(entries, config, zone, now, mention=True)


async def _override(
    deps: SlackDeps, user_id: str, args: list[str], zone: tzinfo, now: datetime
) -> str:
    usage = (
        "Usage: `/oncall override @person 2h [schedule]` or "
        "`/oncall override @person until YYYY-MM-DD HH:MM [schedule]`"
    )
    config = deps.config
    if len(args) < 2:
        return usage
    person = _person(config, args[0])
    if person is None:
        return f"{escape(args[0])} is not a person in the nightshift config."
    rest = args[1:]
    if rest[0].lower() == "until":
        if len(rest) < 3:
            return usage
        try:
            local = datetime.strptime(f"{rest[1]} {rest[2]}", "%Y-%m-%d %H:%M")
        except ValueError:
            return f"Could not read the time `{escape(' '.join(rest[1:3]))}`. {usage}"
        end = local.replace(tzinfo=zone)
        rest = rest[3:]
    else:
        try:
            end = now + parse_duration(rest[0])
        except ValueError:
            return f"Could not read the duration `{escape(rest[0])}`. {usage}"
        rest = rest[1:]
    if len(rest) > 1:
        return usage
    schedule = rest[0] if rest else _default_schedule(config, person)
    if schedule is None:
        names = ", ".join(sorted(config.schedules)) or "none"
        return f"Which schedule? Name one at the end ({names})."
    try:
        row = await oncall.add_override(deps.db, config, schedule, person, now, end, user_id, now)
    except oncall.OverrideRefused as exc:
        return f"Override refused: {exc}."
    deps.wake_engine()
    return "Added " + oncall.describe_override(row, config, zone, now)


def _person(config: Config, word: str) -> str | None:
    match = MENTION.match(word)
    if match:
        found = config.person_by_slack(match.group(1))
        return found.name if found else None
    name = word.lstrip("@")
    return name if name in config.people else None


def _default_schedule(config: Config, person: str) -> str | None:
    """The only schedule, or the only one the person is a member of."""
    if len(config.schedules) == 1:
        return next(iter(config.schedules))
    member_of = [
        name
        for name, s in config.schedules.items()
        if s.rotation is not None and person in s.rotation.members
    ]
    return member_of[0] if len(member_of) == 1 else None


def _no_schedule(config: Config, name: str) -> str:
    names = ", ".join(sorted(config.schedules)) or "none"
    return f"There is no schedule `{escape(name)}` (schedules: {names})."
