from datetime import UTC, datetime, timedelta

from bot.core.audit import audit, coverage_by_policy, merge, people_to_check, policy_coverage
from bot.core.escalation import Policy, Step
from bot.core.routing import Route
from bot.core.runbook import Runbook, RunbookStep, Verdict
from bot.core.schedule import Override, Rotation, Schedule

BERLIN = "Europe/Berlin"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Weekly Berlin rotation handing off Mondays 09:00 local. Europe leaves summer time on
# Sunday 2026-10-25, so the handoff moves from 07:00 UTC to 08:00 UTC.
PRIMARY = Schedule(
    "primary",
    BERLIN,
    Rotation(timedelta(weeks=1), datetime(2026, 10, 19, 9, 0), ("alice", "bob")),
    # Tuesday evening to Wednesday morning, Berlin time (CET, UTC+1)
    (Override("carol", utc("2026-10-27T17:00"), utc("2026-10-28T08:00")),),
)
POLICIES = {
    "default": Policy(
        "default",
        (
            Step(("schedule:primary",), timedelta(minutes=5)),
            Step(("user:dave", "channel:C0SRELEAD"), timedelta(minutes=10)),
        ),
    ),
    "checkout": Policy("checkout", (Step(("user:erin",), timedelta(minutes=5)),)),
}
ROUTES = (Route({"service": "checkout-api"}, policy="checkout"), Route({}, policy="default"))
ROLLBACK = "deploy:checkout-api:rollback"
CHECKOUT = Runbook(
    "checkout-errors",
    "Checkout 5xx",
    {"alertname": "HighErrorRate", "service": "checkout-api"},
    (
        RunbookStep(1, "Dashboard", ("grafana:dashboards:view",)),
        RunbookStep(2, "Roll back", (ROLLBACK,)),
        RunbookStep(3, "Tell support"),
    ),
)
GRANTS = {
    "alice": frozenset({"grafana:*:view", "deploy:*:*"}),
    "bob": frozenset({"grafana:dashboards:view"}),
    "carol": None,  # the directory could not answer for carol
    "dave": frozenset({"grafana:dashboards:view", ROLLBACK}),
    "erin": frozenset({"grafana:dashboards:view"}),
}
START = utc("2026-10-24T00:00")
END = START + timedelta(days=4)


def coverage() -> dict[str, dict[str, tuple[tuple[datetime, datetime], ...]]]:
    return coverage_by_policy(POLICIES, {"primary": PRIMARY}, START, END)


def test_coverage_follows_rotation_override_and_dst() -> None:
    got = policy_coverage(POLICIES["default"], {"primary": PRIMARY}, START, END)
    assert list(got) == ["alice", "bob", "carol", "dave"]  # escalation order
    assert got["alice"] == ((START, utc("2026-10-26T08:00")),)  # 09:00 CET, not CEST
    assert got["bob"] == ((utc("2026-10-26T08:00"), utc("2026-10-27T17:00")),)
    assert got["carol"] == ((utc("2026-10-27T17:00"), END),)  # clipped to the window
    assert got["dave"] == ((START, END),)  # named directly: pageable all along


def test_audit_gaps_across_routes_rotation_and_override() -> None:
    result = audit([CHECKOUT], ROUTES, coverage(), GRANTS, START, END, ["alice", "dave"])
    gaps = {(g.step, g.person): g for g in result.gaps}
    assert sorted(gaps) == [(1, "carol"), (2, "bob"), (2, "carol"), (2, "erin")]

    bob = gaps[(2, "bob")]
    assert bob.verdict is Verdict.CANNOT
    assert bob.missing == (ROLLBACK,)
    assert bob.on_call == ((utc("2026-10-26T08:00"), utc("2026-10-27T17:00")),)
    assert bob.can_do == ("alice", "dave")
    assert bob.step_title == "Roll back"

    carol = gaps[(2, "carol")]
    assert carol.verdict is Verdict.UNVERIFIED  # never "can do"
    assert carol.on_call == ((utc("2026-10-27T17:00"), END),)

    # erin is only reachable through the checkout route, whose path nobody else is on
    erin = gaps[(2, "erin")]
    assert erin.can_do == ()
    assert erin.elsewhere == ("alice", "dave")

    assert (result.runbooks, result.people, result.steps) == (1, 5, 3)


def test_before_dst_the_handoff_is_an_hour_earlier_in_utc() -> None:
    start, end = utc("2026-10-18T00:00"), utc("2026-10-20T00:00")
    got = policy_coverage(POLICIES["default"], {"primary": PRIMARY}, start, end)
    # the rotation started 2026-10-19 09:00 CEST = 07:00 UTC with alice; before it, nobody
    assert got["alice"] == ((utc("2026-10-19T07:00"), end),)
    assert "bob" not in got


def test_extra_overrides_from_slack_count_as_on_call() -> None:
    extra = {"primary": [Override("erin", utc("2026-10-24T10:00"), utc("2026-10-24T12:00"))]}
    got = coverage_by_policy(POLICIES, {"primary": PRIMARY}, START, END, extra)
    assert got["default"]["erin"] == ((utc("2026-10-24T10:00"), utc("2026-10-24T12:00")),)
    assert got["default"]["alice"] == (
        (START, utc("2026-10-24T10:00")),
        (utc("2026-10-24T12:00"), utc("2026-10-26T08:00")),
    )


def test_a_person_reached_through_two_routes_gets_one_gap_with_merged_facts() -> None:
    routes = (Route({"team": "a"}, policy="a"), Route({}, policy="b"))
    policies = {
        "a": Policy("a", (Step(("user:bob", "user:alice"), timedelta(0)),)),
        "b": Policy("b", (Step(("user:bob", "user:dave"), timedelta(0)),)),
    }
    cov = coverage_by_policy(policies, {}, START, END)
    result = audit([CHECKOUT], routes, cov, GRANTS, START, END)
    bob = [g for g in result.gaps if g.person == "bob"]
    assert len(bob) == 1
    assert bob[0].can_do == ("alice", "dave")
    assert bob[0].on_call == ((START, END),)


def test_unreachable_runbook_and_clean_runbook_have_no_gaps() -> None:
    only_storage = (Route({"service": "storage"}, policy="default"),)
    assert audit([CHECKOUT], only_storage, coverage(), GRANTS, START, END).gaps == ()
    assert people_to_check([CHECKOUT], only_storage, coverage()) == []
    everyone_can = dict.fromkeys(GRANTS, frozenset({"*:*:*"}))
    result = audit([CHECKOUT], ROUTES, coverage(), everyone_can, START, END)
    assert result.gaps == ()
    assert result.people == 5


def test_merge_intervals() -> None:
    a, b, c, d = (utc(f"2026-10-2{i}T00:00") for i in range(4))
    assert merge([(c, d), (a, b), (b, c)]) == ((a, d),)
    assert merge([(a, b), (c, d)]) == ((a, b), (c, d))
