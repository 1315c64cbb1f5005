from bot.core.routing import Route
from bot.core.runbook import (
    Runbook,
    RunbookStep,
    Verdict,
    check_runbook,
    check_step,
    pick_runbook,
    reachable_routes,
    route_reachable,
    who_can,
)

TRACES = RunbookStep(1, "Check traces", ("sso:ai-workspace", "traces:agent:read"))
ROLLBACK = RunbookStep(2, "Roll back", ("deploy:ai-agent:rollback",))
TELL = RunbookStep(3, "Tell support")
AGENT = Runbook(
    "agent-regression",
    "Agent serving wrong answers",
    {"alertname": "AgentAnswerQualityDrop"},
    (TRACES, ROLLBACK, TELL),
)


def test_verdicts_per_step() -> None:
    grants = frozenset({"traces:*:read", "sso:ai-workspace"})
    verdicts = check_runbook(AGENT, grants)
    assert [(v.step.number, v.verdict, v.missing) for v in verdicts] == [
        (1, Verdict.CAN, ()),
        (2, Verdict.CANNOT, ("deploy:ai-agent:rollback",)),
        (3, Verdict.CAN, ()),
    ]


def test_unknown_grants_are_never_can_do() -> None:
    verdicts = check_runbook(AGENT, None)
    assert [v.verdict for v in verdicts] == [Verdict.UNVERIFIED, Verdict.UNVERIFIED, Verdict.CAN]
    assert verdicts[0].missing == TRACES.requires


def test_partial_requirements_list_only_what_is_missing() -> None:
    verdict = check_step(TRACES, frozenset({"traces:agent:read"}))
    assert verdict.verdict is Verdict.CANNOT
    assert verdict.missing == ("sso:ai-workspace",)


def test_who_can_keeps_order_skips_unknown_and_duplicates() -> None:
    grants = {
        "alice": frozenset({"deploy:*:rollback"}),
        "bob": frozenset(),
        "carol": None,
        "dave": frozenset({"deploy:ai-agent:rollback"}),
    }
    assert who_can(ROLLBACK, ["dave", "bob", "carol", "alice", "dave"], grants) == [
        "dave",
        "alice",
    ]


def test_pick_runbook_prefers_the_most_specific_match() -> None:
    generic = Runbook("errors", "Errors", {"alertname": "HighErrorRate"})
    checkout = Runbook(
        "checkout-errors", "Checkout", {"alertname": "HighErrorRate", "service": "checkout-api"}
    )
    labels = {"alertname": "HighErrorRate", "service": "checkout-api", "env": "prod"}
    assert pick_runbook([generic, checkout], labels) is checkout
    assert pick_runbook([generic, checkout], {"alertname": "HighErrorRate"}) is generic
    assert pick_runbook([generic, checkout], {"alertname": "DiskFull"}) is None


def test_route_reachability_is_non_contradiction() -> None:
    runbook = Runbook("c", "c", {"alertname": "HighErrorRate", "service": "checkout-api"})
    checkout = Route({"service": "checkout-api"}, policy="checkout")
    storage = Route({"service": "storage"}, policy="storage")
    prod = Route({"env": "prod"}, policy="prod")  # the runbook doesn't say: it can be reached
    catch_all = Route({}, policy="default")
    assert route_reachable(runbook, checkout)
    assert not route_reachable(runbook, storage)
    assert route_reachable(runbook, prod)
    assert reachable_routes(runbook, [storage, checkout, prod, catch_all]) == [
        checkout,
        prod,
        catch_all,
    ]
