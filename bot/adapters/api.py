"""/api/*: read incidents, add notes, and record (never count) API acknowledgement attempts."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapters.api_tokens import ApiToken, find_token
from bot.adapters.db.database import Database, DatabaseUnavailable
from bot.adapters.db.tables import Alert, Event, Incident
from bot.adapters.incident_json import incident_json
from bot.clock import Clock
from bot.incident_events import add_event
from bot.service.outbox_rows import enqueue_thread

STATUS_FILTERS = ("triggered", "acknowledged", "resolved", "open")
MAX_NOTE = 4000
TOKEN_KEY = web.AppKey("api_token", ApiToken)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class IncidentApi:
    def __init__(self, db: Database, clock: Clock, tokens: list[ApiToken]) -> None:
        self.db = db
        self.clock = clock
        self.tokens = tokens

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/incidents", self._guard(self.list_incidents)),
            web.get("/api/incidents/{id}", self._guard(self.get_incident)),
            web.post("/api/incidents/{id}/notes", self._guard(self.add_note)),
            web.post("/api/incidents/{id}/ack", self._guard(self.ack_attempt)),
        ]

    def _guard(
        self, handler: Callable[[web.Request, ApiToken], Awaitable[web.Response]]
    ) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
            token = (
                find_token(self.tokens, presented.strip()) if scheme.lower() == "bearer" else None
            )
            if token is None:
                return _error(401, "missing or invalid API token")
            try:
                return await handler(request, token)
            except DatabaseUnavailable:
                return web.json_response(
                    {"error": "database unavailable"}, status=503, headers={"Retry-After": "5"}
                )

        return guarded

    async def list_incidents(self, request: web.Request, _token: ApiToken) -> web.Response:
        status = request.query.get("status")
        if status is not None and status not in STATUS_FILTERS:
            return _error(400, f"status must be one of {', '.join(STATUS_FILTERS)}")
        try:
            limit = min(int(request.query.get("limit", "100")), 1000)
        except ValueError:
            return _error(400, "limit must be a number")
        query = select(Incident).order_by(col(Incident.id).desc()).limit(limit)
        if status == "open":
            query = query.where(Incident.status != "resolved")
        elif status:
            query = query.where(Incident.status == status)
        async with self.db.transaction() as session:
            incidents = list((await session.exec(query)).all())
            alerts = await _alerts_by_incident(session, [i.id for i in incidents if i.id])
        body = [incident_json(i, alerts.get(i.id or 0, [])) for i in incidents]
        return web.json_response({"incidents": body})

    async def get_incident(self, request: web.Request, _token: ApiToken) -> web.Response:
        incident_id = _incident_id(request)
        if incident_id is None:
            return _error(404, "no such incident")
        async with self.db.transaction() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None:
                return _error(404, f"no incident {incident_id}")
            alerts = (await _alerts_by_incident(session, [incident_id])).get(incident_id, [])
            events = (
                await session.exec(
                    select(Event).where(Event.incident_id == incident_id).order_by(col(Event.id))
                )
            ).all()
        return web.json_response(incident_json(incident, alerts, list(events)))

    async def add_note(self, request: web.Request, token: ApiToken) -> web.Response:
        text = await _text_field(request)
        if isinstance(text, web.Response):
            return text
        return await self._record(
            request,
            token,
            "note",
            counted=False,  # a note never changes ownership or state
            detail=text,
            status=201,
            thread=f"Note from {token.name} ({token.actor.kind.value}): {text}",
        )

    async def ack_attempt(self, request: web.Request, token: ApiToken) -> web.Response:
        detail = (
            f"acknowledgement by API token {token.name!r} ({token.actor.kind.value}) not counted: "
            "only a person acknowledging in Slack owns an incident"
        )
        return await self._record(
            request,
            token,
            "ack_refused",
            counted=False,
            detail=detail,
            status=409,
            thread=f":no_entry: {token.name} ({token.actor.kind.value}, API) tried to "
            "acknowledge. Not counted: this incident is still UNOWNED until a person presses "
            "Acknowledge.",
        )

    async def _record(
        self,
        request: web.Request,
        token: ApiToken,
        event_type: str,
        *,
        counted: bool,
        detail: str,
        status: int,
        thread: str,
    ) -> web.Response:
        incident_id = _incident_id(request)
        if incident_id is None:
            return _error(404, "no such incident")
        now = self.clock.now()
        async with self.db.transaction() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None:
                return _error(404, f"no incident {incident_id}")
            event = add_event(
                session,
                incident,
                event_type,
                token.actor,
                counted=counted,
                now=now,
                detail=detail,
            )
            await session.flush()
            enqueue_thread(session, incident, event, "text", now, text=thread)
        body: dict[str, Any] = {"incident": incident_id, "event": event_type, "counted": counted}
        if status >= 400:
            body["error"] = detail
        return web.json_response(body, status=status)


def _incident_id(request: web.Request) -> int | None:
    raw = request.match_info.get("id", "")
    return int(raw) if raw.isdigit() else None


async def _text_field(request: web.Request) -> str | web.Response:
    try:
        body = json.loads(await request.read() or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _error(400, "malformed JSON")
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        return _error(400, 'body must be {"text": "…"} with non-empty text')
    if len(text) > MAX_NOTE:
        return _error(400, f"text longer than {MAX_NOTE} characters")
    return text.strip()


async def _alerts_by_incident(
    session: AsyncSession, incident_ids: list[int]
) -> dict[int, list[Alert]]:
    if not incident_ids:
        return {}
    rows = await session.exec(
        select(Alert).where(col(Alert.incident_id).in_(incident_ids)).order_by(col(Alert.id))
    )
    grouped: dict[int, list[Alert]] = {}
    for alert in rows.all():
        grouped.setdefault(alert.incident_id, []).append(alert)
    return grouped
