"""Build the Bolt AsyncApp and mount it on the aiohttp server (or run it over Socket Mode)."""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import (
    actions,
    commands_incident,
    commands_oncall,
    commands_runbook,
    messages,
)
from bot.adapters.slack.deps import SlackDeps
from bot.adapters.slack.replay import replay_middleware

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"


def web_client(token: str | None, api_url: str | None, *, timeout: int = 10) -> AsyncWebClient:
    """A Web API client; `api_url` (SLACK_API_URL) points tests at a local fake.

    No automatic retries: the outbox decides when to retry, so a timed-out post is
    checked before it is ever sent again.
    """
    kwargs: dict[str, object] = {"token": token, "timeout": timeout}
    if api_url:
        kwargs["base_url"] = api_url if api_url.endswith("/") else api_url + "/"
    client = AsyncWebClient(**kwargs)  # type: ignore[arg-type]
    client.retry_handlers = []
    return client


def build_bolt_app(
    deps: SlackDeps,
    *,
    token: str,
    signing_secret: str,
    api_url: str | None = None,
    client: AsyncWebClient | None = None,
) -> AsyncApp:
    """The app with every listener family registered. Listeners `ack()` first and do
    their work after, so Slack always gets an answer inside its 3 seconds."""
    if client is None:
        client = web_client(token, api_url)
    elif client.token is None:
        client.token = token
    app = AsyncApp(
        name="nightshift",
        signing_secret=signing_secret,
        client=client,  # carries the token (and SLACK_API_URL)
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )
    app.use(replay_middleware(deps))
    for module in (actions, commands_incident, messages, commands_oncall, commands_runbook):
        module.register(app, deps)
    return app


def slack_routes(bolt_app: AsyncApp) -> list[web.RouteDef]:
    async def slack_events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt_app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    return [web.post(SLACK_EVENTS_PATH, slack_events)]


def mount(web_app: web.Application, bolt_app: AsyncApp) -> None:
    web_app.add_routes(slack_routes(bolt_app))


async def start_socket_mode(bolt_app: AsyncApp, app_token: str) -> object:
    """Connect over Socket Mode (SLACK_APP_TOKEN set); returns the handler to close."""
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(bolt_app, app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    log.info("Slack connected over Socket Mode")
    return handler
