"""POST /alerts/alertmanager: auth, size cap, validation, then the intake service."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.adapters.db.database import DatabaseUnavailable, json_dumps
from bot.core.grouping import AlertIn, Notification
from bot.metrics import Metrics
from bot.service.intake import IntakeService

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
RETRY_AFTER_S = "5"
ZERO_TIME_YEAR = 1  # Alertmanager sends 0001-01-01T00:00:00Z for "no end yet"


class _Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: str = Field(pattern="^(firing|resolved)$")
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str | None = None
    fingerprint: str = Field(min_length=1, max_length=64)

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamp needs a time zone")
        return value


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    version: str
    receiver: str = Field(min_length=1, max_length=255)
    status: str = Field(pattern="^(firing|resolved)$")
    groupKey: str = Field(min_length=1, max_length=2048)
    alerts: list[_Alert]
    groupLabels: dict[str, str] = {}
    commonLabels: dict[str, str] = {}
    commonAnnotations: dict[str, str] = {}
    externalURL: str | None = None
    truncatedAlerts: int = Field(default=0, ge=0)

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value != "4":
            raise ValueError(f'unsupported webhook version {value!r}: expected "4"')
        return value


def to_notification(payload: _Payload) -> Notification:
    return Notification(
        receiver=payload.receiver,
        status=payload.status,
        group_key=payload.groupKey,
        group_labels=payload.groupLabels,
        common_labels=payload.commonLabels,
        common_annotations=payload.commonAnnotations,
        external_url=payload.externalURL,
        truncated_alerts=payload.truncatedAlerts,
        alerts=tuple(
            AlertIn(
                fingerprint=a.fingerprint,
                status=a.status,
                labels=a.labels,
                annotations=a.annotations,
                starts_at=a.startsAt,
                ends_at=a.endsAt if a.endsAt and a.endsAt.year > ZERO_TIME_YEAR else None,
                generator_url=a.generatorURL,
            )
            for a in payload.alerts
        ),
    )


def parse_tokens(raw: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (raw or "").split(",") if t.strip())


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _describe(exc: ValidationError) -> tuple[str, str]:
    """The rejection reason (for the metric) and the message naming the problem."""
    errors = exc.errors()
    first = errors[0]
    if first["type"] == "json_invalid":
        return "malformed_json", f"malformed JSON: {first['msg'].removeprefix('Invalid JSON: ')}"
    if first["type"] == "model_type" and not first["loc"]:
        return "invalid_shape", "payload must be a JSON object"
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "invalid_shape", "invalid Alertmanager payload: " + "; ".join(parts)


class AlertmanagerWebhook:
    def __init__(
        self,
        intake: IntakeService,
        metrics: Metrics,
        tokens: Sequence[str],
        *,
        accepting: Callable[[], bool] = lambda: True,
    ) -> None:
        self.intake = intake
        self.metrics = metrics
        self.tokens = [t.encode() for t in tokens]
        self.accepting = accepting

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/alerts/alertmanager", self.handle)]

    def _reject(self, reason: str, status: int, message: str, **headers: str) -> web.Response:
        self.metrics.webhook_rejections.labels(reason=reason).inc()
        return _error(status, message, **headers)

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented or not self.tokens:
            return False
        given = presented.strip().encode()
        # compare against every token so timing does not reveal which one nearly matched
        matches = [hmac.compare_digest(given, token) for token in self.tokens]
        return any(matches)

    async def handle(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        if not self.accepting():
            return self._reject(
                "shutting_down", 503, "server is shutting down", **{"Retry-After": RETRY_AFTER_S}
            )
        if not self._authorized(request):
            return self._reject("unauthorized", 401, "missing or invalid bearer token")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return self._reject("too_large", 413, f"body over {MAX_BODY} bytes")
        body = await _read_capped(request)
        if body is None:
            return self._reject("too_large", 413, f"body over {MAX_BODY} bytes")
        try:
            # parsed and validated in one pass by pydantic-core, no dict of dicts in between
            payload = _Payload.model_validate_json(body)
        except ValidationError as exc:
            reason, message = _describe(exc)
            return self._reject(reason, 400, message)
        try:
            result = await self.intake.ingest(to_notification(payload))
        except DatabaseUnavailable as exc:
            log.warning("database unavailable, asking Alertmanager to retry: %s", exc)
            return self._reject(
                "database_unavailable",
                503,
                "database unavailable",
                **{"Retry-After": RETRY_AFTER_S},
            )
        self.metrics.intake_seconds.observe(time.perf_counter() - started)
        return web.json_response({"incidents": result.incident_ids}, dumps=json_dumps)


async def _read_capped(request: web.Request) -> bytes | None:
    """Read at most MAX_BODY bytes; None when the body is larger (never buffered whole)."""
    if request.content_length is not None:  # already checked against MAX_BODY
        return await request.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
