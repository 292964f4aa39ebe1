"""The running parts every service has: pool, producer, outbox relay, consumer, workers.

A service's ``bootstrap.py`` describes itself with a ``ServiceSpec``; ``create_app`` turns that into
a FastAPI app whose lifespan starts everything (no I/O at import time) and stops it in order on
SIGTERM: stop consuming, finish in-flight handlers, commit offsets, flush the outbox, close.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Protocol

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import audit, health, timers
from .auth import Authenticator
from .clock import Clock, clock_for
from .db import create_pool, prepare_schema
from .errors import RuleViolation
from .http import rule_violation_handler, validation_error_handler
from .logging import configure_logging
from .messaging import context, metrics
from .messaging.consumer import EventConsumer, Handlers
from .messaging.emitter import Emitter
from .messaging.errors import TRANSIENT_TYPES
from .messaging.kafka import make_producer
from .messaging.outbox import OutboxRelay
from .settings import ServiceSettings
from .supervision import stop_process_on_failure
from .tracing import configure_tracing, shutdown_tracing
from .unit_of_work import Units
from .wakeup import Announcer

log = structlog.get_logger()
MAX_BODY_BYTES = 64 * 1024
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # anything else is replaced, never logged
DECLARED_LENGTH = re.compile(rb"[0-9]+")


class Worker(Protocol):
    async def run(self) -> None: ...
    async def stop(self) -> None: ...


QUEUE_CONNECTIONS = 2  # a queue's claim and its settle, one of each in flight at a time


@dataclass
class Runtime:
    settings: ServiceSettings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    emitter: Emitter
    clock: Clock
    queue_pool: asyncpg.Pool | None = None  # generic plans (db.GENERIC_PLANS); opens when first used
    timing: Announcer = field(default_factory=lambda: Announcer(timers.CHANNEL))  # ServiceSpec.timing

    @property
    def units(self) -> Units:
        """Where this service's use cases get their unit of work (its consumer's too)."""
        return Units(self.pool, self.clock, self.emitter, self.timing)

    @property
    def queue_units(self) -> Units:
        """Units on the work queue's sessions (``queue``): a queue's settles."""
        return Units(self.queue, self.clock, self.emitter, self.timing)

    @property
    def queue(self) -> asyncpg.Pool:
        """Where a work queue's claims and settles run: on their generic plans (``queue_pool``), or
        on the service's pool where there is none (a test's runtime)."""
        return self.queue_pool or self.pool


async def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


async def _units(request: Request) -> Units:
    runtime: Runtime = request.app.state.runtime
    return runtime.units


UnitsDep = Annotated[Units, Depends(_units)]  # a route's use cases' units of work


@dataclass
class ServiceSpec:
    settings: ServiceSettings
    migrations: Sequence[str]
    routers: Sequence[APIRouter] = ()
    handlers: Handlers = field(default_factory=dict)
    startup: Sequence[Callable[[Runtime], Awaitable[None]]] = ()
    workers: Sequence[Callable[[Runtime], Worker]] = ()
    clock: Clock | None = None  # default: the settings' clock (wall clock, or a test offset file)
    scrape: Sequence[Callable[[asyncpg.Pool], Awaitable[None]]] = ()  # refresh gauges on /metrics
    title: str = "katflow"
    description: str = ""
    # The timer workers' announcer: the service's units schedule with it (``runtime.units``), so
    # bootstrap gives its TimerWorker the same one (then its timers wake the worker in-process).
    timing: Announcer = field(default_factory=lambda: Announcer(timers.CHANNEL))


async def connect_with_retry(settings: ServiceSettings, attempts: int = 60) -> asyncpg.Pool:
    for attempt in range(1, attempts + 1):
        try:
            return await create_pool(settings.database_url.get_secret_value(), settings.database_pool_size)
        except (OSError, asyncpg.PostgresError) as exc:
            if attempt == attempts:
                raise
            log.warning("database_unavailable", error=type(exc).__name__, attempt=attempt)
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def start_producer(settings: ServiceSettings, attempts: int = 60) -> AIOKafkaProducer:
    for attempt in range(1, attempts + 1):
        producer = make_producer(settings)
        try:
            await producer.start()
            return producer
        except Exception as exc:  # broker not up yet: retried, then raised
            await producer.stop()
            if attempt == attempts:
                raise
            log.warning("kafka_unavailable", error=type(exc).__name__, attempt=attempt)
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


def create_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        pool = await connect_with_retry(settings)
        await prepare_schema(
            pool, ["katflow_shared", *spec.migrations], settings.migration_database_url.get_secret_value()
        )
        producer = await start_producer(settings)
        clock = spec.clock or clock_for(settings.environment, settings.clock_offset_file)
        relay = OutboxRelay(settings)
        queue_pool = await create_pool(
            settings.database_url.get_secret_value(), QUEUE_CONNECTIONS, generic_plans=True
        )
        emitter = Emitter(settings, relay.announcer)
        runtime = Runtime(settings, pool, producer, emitter, clock, queue_pool, spec.timing)
        app.state.runtime = runtime
        for step in spec.startup:
            await step(runtime)
        consumer = EventConsumer(settings, runtime.units, producer, spec.handlers) if spec.handlers else None
        workers: list[Worker] = [make(runtime) for make in spec.workers]
        tasks = [asyncio.create_task(relay.run(), name="outbox-relay")]
        if consumer:
            tasks.append(asyncio.create_task(consumer.run(), name="consumer"))
        tasks += [asyncio.create_task(w.run(), name=type(w).__name__) for w in workers]
        for task in tasks:
            task.add_done_callback(stop_process_on_failure)
        log.info("service_started", port=settings.http_port)
        try:
            yield
        finally:
            await _shutdown(settings, relay, consumer, workers, tasks)
            await producer.stop()
            await queue_pool.close()
            await pool.close()
            shutdown_tracing()
            log.info("service_stopped")

    app = FastAPI(title=spec.title, description=spec.description, lifespan=lifespan)
    configure_tracing(app, settings.service_name)
    app.state.scrape = list(spec.scrape)
    app.state.katflow_auth = Authenticator(settings)
    if not (settings.api_keys or settings.auth_jwks_url):
        log.warning("no_credentials_configured", hint="set KATFLOW_API_KEYS or KATFLOW_AUTH_JWKS_URL")
    app.add_exception_handler(RuleViolation, rule_violation_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    for unstorable in (asyncpg.DataError, asyncpg.exceptions._base.DataError, OverflowError):
        app.add_exception_handler(unstorable, _unstorable)
    for transient in TRANSIENT_TYPES:  # what a consumer retries, a client is told to retry: 503
        app.add_exception_handler(transient, _unavailable)
    app.include_router(health.router)
    for router in spec.routers:
        app.include_router(router)
    app.include_router(audit.router)
    app.add_middleware(RequestContext)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    return app


async def _shutdown(
    settings: ServiceSettings,
    relay: OutboxRelay,
    consumer: EventConsumer | None,
    workers: list[Worker],
    tasks: list[asyncio.Task[None]],
) -> None:
    bound = settings.shutdown_timeout_seconds
    if consumer:
        await consumer.stop()
    for worker in workers:
        await worker.stop()
    for task in tasks[1:]:
        task.remove_done_callback(stop_process_on_failure)
    _, pending = await asyncio.wait(tasks[1:], timeout=bound / 2) if tasks[1:] else (set(), set())
    for task in pending:
        task.cancel()
    tasks[0].remove_done_callback(stop_process_on_failure)
    await relay.drain(bound / 2)
    tasks[0].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await tasks[0]


async def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
    """A dependency is down for a moment: tell the client to retry, never a bare 500."""
    log.warning("dependency_unavailable", error=type(exc).__name__)
    return JSONResponse({"detail": "temporarily unavailable, retry shortly"}, 503, {"Retry-After": "1"})


async def _unstorable(_request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot hold (NUL in text, a number out of range): the client's error."""
    log.info("unstorable_value", error=type(exc).__name__)
    detail = "a value is out of range or contains characters that cannot be stored"
    return JSONResponse({"detail": detail}, 422)


class RequestContext:
    """Per HTTP request: the correlation id (X-Request-ID, or a new one) in context and logs and on
    the response; the audit record of an authenticated request, written before its answer leaves
    (no audit record, no answer: patient data is never handed out unaudited — 503 instead); metrics.

    Plain ASGI (Starlette's BaseHTTPMiddleware ran every request through a task group and memory
    streams: a tenth of intake's CPU under load)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
        request_id = given if REQUEST_ID.fullmatch(given) else str(uuid.uuid4())
        request, started, status, replaced = Request(scope), time.perf_counter(), 0, False

        async def answer(message: Message) -> None:
            nonlocal status, replaced
            if replaced:
                return  # the app's body of an answer that was not given
            if message["type"] == "http.response.start":
                status = message["status"]
                try:
                    await audit.record_http(request, status)
                except (asyncpg.PostgresError, *TRANSIENT_TYPES) as exc:
                    replaced = True
                    refusal = await _unavailable(request, exc)
                    refusal.headers["X-Request-ID"] = request_id
                    await refusal(scope, receive, send)
                    return
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        token = context.correlation_id.set(request_id)
        try:
            with structlog.contextvars.bound_contextvars(correlation_id=request_id):
                try:
                    await self.app(scope, receive, answer)
                except Exception:
                    if not status:  # no answer went out: the server's 500 will
                        status = 500
                        with contextlib.suppress(Exception):  # the original error must surface
                            await audit.record_http(request, 500)
                    raise
        finally:
            context.correlation_id.reset(token)
        _observe(request, status, time.perf_counter() - started)


def _observe(request: Request, status: int, seconds: float) -> None:
    """HTTP metrics by route template (never the raw path: it holds ids)."""
    route = getattr(request.scope.get("route"), "path", "unmatched")
    metrics.HTTP_REQUESTS.labels(request.method, route, str(status)).inc()
    metrics.HTTP_SECONDS.labels(request.method, route).observe(seconds)


class BodySizeLimit:
    """413 for a request body over ``max_bytes``, declared (Content-Length) or streamed (chunked)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not DECLARED_LENGTH.fullmatch(declared):  # ASCII digits only: int() takes "²" and " 1_0 "
            body = {"detail": "Content-Length must be a decimal number of bytes"}
            await JSONResponse(body, 400, {"Connection": "close"})(scope, receive, send)
            return
        if len(declared.lstrip(b"0")) > len(str(self.max_bytes)) or int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {"detail": f"request body larger than {self.max_bytes} bytes"}
        await JSONResponse(body, 413, {"Connection": "close"})(scope, receive, send)


class _BodyTooLarge(Exception):
    pass
