"""The HTTP app: the door (:mod:`chift_mcp.doors.http.guard`) in front of the SDK's streamable HTTP session
manager, the operations parts (:mod:`chift_mcp.doors.http.lifecycle`) around it, and uvicorn to serve it.

``build_app(runtime, options, tokens)`` returns a Starlette app:

    /healthz   200 while the process runs                    (no auth)
    /readyz    200 once tools are loaded and Chift answers   (no auth)
    /metrics   Prometheus text (:mod:`chift_mcp.doors.http.metrics`)    (no auth, no secret)
    /mcp       MCP over streamable HTTP, behind :class:`~chift_mcp.doors.http.guard.McpDoor`

Request bodies are capped by the SDK's session manager (413). One log line per request on stderr
(:class:`~chift_mcp.doors.http.lifecycle.AccessLog`).
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chift_mcp.doors.http.connections import connection_cap, guarded_protocol
from chift_mcp.doors.http.events import BoundedEventStore, SessionEvents
from chift_mcp.doors.http.guard import HostGuard, HttpOptions, McpDoor, access_for, caller_of, is_loopback
from chift_mcp.doors.http.lifecycle import AccessLog, Drain, Readiness, RecordOutcome
from chift_mcp.doors.http.metrics import Metrics, meter_upstream
from chift_mcp.doors.http.sessions import SessionQuota
from chift_mcp.doors.http.tokens import TokenTable
from chift_mcp.doors.limits import CallLimits, gate_upstream, storage_uri
from chift_mcp.errors import ConfigError
from chift_mcp.tools.access import CallerAccess, ConsumerAccess

if TYPE_CHECKING:
    from chift_mcp.app import Runtime
    from chift_mcp.settings import Settings
    from chift_mcp.tools.result import ToolResult

__all__ = ["HttpDoor", "HttpOptions", "build_app", "check_auth", "run", "tokens_summary"]

logger = logging.getLogger("chift_mcp.http")


@dataclass
class HttpDoor:
    """What ``build_app`` made, for tests and ``serve``: the app and its parts."""

    app: Starlette
    runtime: Runtime
    resolver: CallerAccess
    readiness: Readiness
    server: Any
    extras: dict[str, Any] = field(default_factory=dict)


def build_app(
    runtime: Runtime,
    options: HttpOptions,
    tokens: TokenTable | None,
    *,
    sandbox: bool = False,
    drain_on_sigterm: bool = False,
) -> HttpDoor:
    """The Starlette app of the HTTP door over ``runtime`` (see the module docstring)."""
    from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings

    from chift_mcp.server import build_server

    check_auth(options, tokens)
    settings = runtime.settings
    passthrough = options.auth == "chift"
    metrics = Metrics(sessions=lambda: len(getattr(manager, "_server_instances", ())))  # the SDK's table
    meter_upstream(runtime, metrics)  # inside the gate: Chift's own time is measured, not the wait
    gate = gate_upstream(runtime, settings.upstream_concurrency)  # before CallerAccess copies the access's
    limits = call_limits(settings, tokens)
    resolver = CallerAccess(
        runtime.access,
        ttl=settings.connections_ttl,
        track_connections=not passthrough,
        lookups_per_minute=settings.http_consumer_lookups,
        lookups_in_flight=settings.http_consumer_lookups_in_flight,
        consumers_refresh=settings.http_consumers_refresh,
    )
    lifespan_access = runtime.access
    if passthrough and runtime.access.base.consumer_id:
        # Without a caller's token there is nothing to fetch at start-up: build_server only starts
        # this provider (access_for decides every access), so give it one with nothing to fetch.
        lifespan_access = ConsumerAccess(replace(runtime.access.base, consumer_id=None), None)
    server = build_server(
        runtime.registry,
        lifespan_access,
        name=settings.server_name,
        access_for=access_for(resolver),
        notify_sessions=not options.stateless,
        admit=admit_calls(limits, metrics, passthrough) if limits is not None else None,
    )
    server.middleware.append(
        RecordOutcome(metrics, known=lambda name: runtime.inventory.get(name) is not None)
    )
    # Resumable SSE streams need a session and streams: stateful, SSE answers.
    events = BoundedEventStore() if not options.stateless and not options.json_response else None
    manager = StreamableHTTPSessionManager(
        app=server,
        event_store=events,
        retry_interval=options.sse_retry_ms if events is not None else None,
        json_response=options.json_response,
        stateless=options.stateless,
        # Host is checked by HostGuard, Origin by McpDoor (before auth); the SDK still checks Content-Type.
        security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        max_request_body_size=options.max_body,
        session_idle_timeout=settings.http_session_idle_timeout,
    )
    drain = Drain(options.shutdown_timeout)
    drain.on_drain.append(gate.drain_by)  # SIGTERM: every Chift call ends inside the drain window
    mcp: Any = AuthContextMiddleware(StreamableHTTPASGIApp(manager))  # the caller reaches code mode's caps
    if events is not None:
        mcp = SessionEvents(mcp, events)
    if not options.stateless:
        mcp = SessionQuota(
            mcp,
            instances=lambda: manager._server_instances,  # the SDK's table, as for the metrics
            per_token=settings.http_max_sessions_per_token,
            unused_ttl=settings.http_unused_session_ttl,
            admit=limits.retry_after if limits is not None else None,
        )
    door = McpDoor(
        mcp,
        drain=drain,
        options=options,
        tokens=tokens,
        server_consumer=runtime.access.base.consumer_id,
        check_consumer=resolver.check_consumer,
    )
    readiness = Readiness(runtime, auth=options.auth, sandbox=sandbox)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def metrics_text(request: Request) -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    async def readyz(request: Request) -> Response:
        ready, why = (False, "shutting down") if drain.draining else await readiness.check()
        return JSONResponse({"ready": ready, "detail": why}, status_code=200 if ready else 503)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if limits is not None and limits.shared:
            await limits.check_storage()
        async with manager.run():
            runtime.start()  # the docs index opens (or builds) in the background as the door serves
            if drain_on_sigterm:
                drain.install()
            logger.info(
                "serving MCP on http://%s:%d%s (%s, auth: %s%s)",
                options.host,
                options.port,
                options.path,
                "stateless" if options.stateless else "stateful",
                options.auth,
                f", {len(tokens)} token(s)" if tokens is not None and options.auth == "tokens" else "",
            )
            if tokens is not None and options.auth == "tokens":
                logger.info("tokens: %s", tokens_summary(tokens))
            if options.allowed_hosts is None:
                logger.warning(
                    "the Host header is not checked: set CHIFT_HTTP_ALLOWED_HOSTS to the names this "
                    "server is reached by (DNS rebinding protection)"
                )
            try:
                yield
            finally:
                logger.info("shutting down")
                await resolver.aclose()
                await runtime.aclose()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_text, methods=["GET"]),
        Route(options.path, endpoint=door),
    ]
    if options.path != "/":
        # The endpoint with a trailing slash is the endpoint, behind the same door: no redirect
        # (Starlette's would echo the Host and query string), and none anywhere else either.
        routes.append(Route(options.path + "/", endpoint=door))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.router.redirect_slashes = False
    app.add_middleware(HostGuard, options=options)
    app.add_middleware(AccessLog)
    extras = {"manager": manager, "events": events, "metrics": metrics, "limits": limits, "quota": mcp}
    extras |= {"drain": drain, "gate": gate}
    return HttpDoor(app, runtime, resolver, readiness, server, extras)


def call_limits(settings: Settings, tokens: TokenTable | None) -> CallLimits | None:
    """The rate limits to count, when a default or some token sets one."""
    if settings.mcp_rate_limit is None and not any(g.rate_limit for g in (tokens.grants if tokens else ())):
        storage_uri(settings.rate_limit_storage)  # a bad value is a start-up error all the same
        return None
    return CallLimits.from_settings(settings)


def admit_calls(
    limits: CallLimits, metrics: Metrics, passthrough: bool
) -> Callable[[Any, str], Awaitable[ToolResult | None]]:
    """``build_server(admit=...)``: the caller's rate limit, per token name (shared by replicas)."""

    async def admit(ctx: Any, tool: str) -> ToolResult | None:
        caller = caller_of(ctx)
        if caller is None:
            return None
        refused = await limits.admit(caller.grant.name, caller.grant.rate_limit)
        if refused is not None:  # pass-through callers' names change with their tokens: one label
            metrics.rate_limited.labels("chift" if passthrough else caller.grant.name).inc()
        return refused

    return admit


def check_auth(options: HttpOptions, tokens: TokenTable | None) -> None:
    """Refuse settings that would serve without authentication where it matters."""
    if options.auth == "tokens" and not tokens:
        raise ConfigError(
            "the HTTP door needs bearer tokens: set CHIFT_MCP_TOKEN or CHIFT_MCP_TOKENS_FILE "
            "(`chift-mcp token new --name NAME` makes one), or pass --auth none on a loopback address"
        )
    if options.auth == "none" and not is_loopback(options.host):
        raise ConfigError(
            f"--auth none serves without authentication: refused on the non-loopback address {options.host}"
        )


def run(settings: Settings, options: HttpOptions, *, sandbox: bool = False) -> int:
    """Serve until SIGTERM/SIGINT (graceful: in-flight requests finish, up to ``shutdown_timeout``)."""
    import uvicorn

    from chift_mcp.app import Runtime
    from chift_mcp.logs import uvicorn_log_config

    tokens = TokenTable.from_settings(settings) if options.auth == "tokens" else None
    check_auth(options, tokens)
    runtime = Runtime.open(settings, sandbox=sandbox, passthrough=options.auth == "chift")
    door = build_app(runtime, options, tokens, sandbox=sandbox, drain_on_sigterm=True)
    config = uvicorn_log_config("chift_mcp.http")
    protocol = guarded_protocol(
        head_timeout=settings.http_head_timeout,
        max_head_bytes=settings.http_max_head_bytes,
        max_connections=connection_cap(settings.http_max_connections),
    )
    server = uvicorn.Server(
        uvicorn.Config(
            door.app,
            http=protocol,  # uvicorn's httptools protocol with a time and size limit on request heads
            host=options.host,
            port=options.port,
            log_config=config,
            access_log=False,  # its lines carry query strings; AccessLog writes ours
            server_header=False,
            timeout_graceful_shutdown=max(1, round(options.shutdown_timeout)),
            lifespan="on",
        )
    )
    # Everything built so far (tool specs, schemas, the spec) lives as long as the process: out of
    # the collector's way, full collections under load stay short.
    gc.collect()
    gc.freeze()
    server.run()  # on uvloop and httptools (dependencies); with the freeze: see the README's A/B
    return 0 if server.started else 1


def tokens_summary(tokens: TokenTable) -> str:
    """One line per token (names and grants, never hashes), for ``chift-mcp http`` start-up logs."""
    out = []
    for grant in tokens.grants:
        parts = [grant.name]
        if grant.consumer_id:
            parts.append(f"consumer={grant.consumer_id}")
        if grant.function_config is not None:
            parts.append("function_config=" + json.dumps({d: sorted(k) for d, k in grant.function_config}))
        if grant.read_only:
            parts.append("read_only")
        out.append(" ".join(parts))
    return "; ".join(out)
