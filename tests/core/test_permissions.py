import pytest

from bot.core.permissions import (
    grant_error,
    grant_matches,
    is_met,
    missing,
    parse_grant,
    split_grants,
)


@pytest.mark.parametrize(
    ("held", "required", "expected"),
    [
        ("deploy:ai-agent:rollback", "deploy:ai-agent:rollback", True),
        ("deploy:ai-agent:rollback", "deploy:ai-agent:promote", False),
        ("deploy:ai-agent:*", "deploy:ai-agent:rollback", True),
        ("deploy:*:rollback", "deploy:checkout-api:rollback", True),
        ("deploy:*:rollback", "deploy:checkout-api:promote", False),
        ("*:*:*", "deploy:checkout-api:promote", True),
        ("k8s:prod/*:restart", "k8s:prod/checkout-api:restart", True),
        ("k8s:prod/*:restart", "k8s:staging/checkout-api:restart", False),
        ("k8s:prod-*:restart", "k8s:prod-eu:restart", True),
        # `*` never crosses a segment boundary
        ("deploy:*", "deploy:ai-agent:rollback", False),
        ("deploy:ai-*", "deploy:ai-agent:rollback", False),
        # a `*` in the requirement is literal: only an equally broad grant meets it
        ("k8s:prod/api:restart", "k8s:prod/*:restart", False),
        ("k8s:prod/*:restart", "k8s:prod/*:restart", True),
        ("k8s:*:restart", "k8s:prod/*:restart", True),
        # two-segment membership shorthand reads as system:resource:access
        ("sso:ai-workspace", "sso:ai-workspace", True),
        ("sso:ai-workspace:access", "sso:ai-workspace", True),
        ("sso:*", "sso:ai-workspace", True),
        ("sso:ai-workspace", "sso:ai-workspace:admin", False),
        ("sso:other", "sso:ai-workspace", False),
        # segments compare whole, case-sensitively
        ("deploy:ai:rollback", "deploy:ai-agent:rollback", False),
        ("Deploy:ai-agent:rollback", "deploy:ai-agent:rollback", False),
        # invalid held grants never match
        ("garbage", "deploy:ai-agent:rollback", False),
        ("a:b:c:d", "a:b:c", False),
    ],
)
def test_grant_matching(held: str, required: str, expected: bool) -> None:
    assert grant_matches(held, required) is expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("deploy:ai-agent:rollback", None),
        ("k8s:prod/*:restart", None),
        ("sso:ai-workspace", None),
        ("deploy", "is not system:resource:action"),
        ("a:b:c:d", "is not system:resource:action"),
        ("deploy::rollback", "empty segment"),
        (":a:b", "empty segment"),
        ("deploy:ai agent:rollback", "whitespace"),
        ("deploy:ai,agent:rollback", "invalid segment"),
        ("", "empty grant"),
    ],
)
def test_grant_validation(text: str, fragment: str | None) -> None:
    error = grant_error(text)
    if fragment is None:
        assert error is None
    else:
        assert error is not None and fragment in error


def test_parse_grant_normalises_shorthand_and_rejects_invalid() -> None:
    assert parse_grant("sso:ai-workspace").segments == ("sso", "ai-workspace", "access")
    assert parse_grant("sso:ai-workspace").text == "sso:ai-workspace"
    with pytest.raises(ValueError, match="system:resource:action"):
        parse_grant("nope")


def test_missing_keeps_requirement_order_and_any_held_grant_suffices() -> None:
    held = {"grafana:*:view", "k8s:prod/*:restart"}
    required = ("k8s:prod/api:restart", "deploy:api:rollback", "grafana:dashboards:view", "x:y:z")
    assert missing(held, required) == ("deploy:api:rollback", "x:y:z")
    assert is_met(held, "grafana:dashboards:view")
    assert not is_met((), "grafana:dashboards:view")


def test_split_grants() -> None:
    assert split_grants(" sso:ai-workspace,  traces:agent:read ,") == (
        "sso:ai-workspace",
        "traces:agent:read",
    )
    assert split_grants("  ") == ()
