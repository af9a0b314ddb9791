"""The streamable HTTP door: the same registry as stdio, plus who may see and call what.

``build_app(runtime, options, tokens)`` returns a Starlette app:

    /healthz   200 while the process runs                    (no auth)
    /readyz    200 once tools are loaded and Chift answers   (no auth)
    /mcp       MCP over streamable HTTP (the SDK's session manager), behind the door:

Every request to the MCP path goes through :class:`McpDoor`, in this order, before any MCP handling:
Host (DNS rebinding) and Origin (cross-site browsers) checks, the bearer token (401 with
``WWW-Authenticate: Bearer`` when missing or unknown; never from the query string), the optional
``X-Chift-Consumer-Id`` header (it narrows, and a token or server bound to another consumer refuses it
with 403), then a time limit. The caller is left in the ASGI scope; :class:`~chift_mcp.access.CallerAccess`
turns it into the :class:`~chift_mcp.access.Access` of each MCP request (``build_server(access_for=...)``),
so ``tools/list`` and ``tools/call`` see the server's access narrowed by the token's grant. Request bodies
are capped by the SDK's session manager (413). One log line per request on stderr: request id, method,
path, status, duration, caller name, MCP method, tool and outcome; never a token or a query string.
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import json
import logging
import re
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chift_mcp.access import Access, Caller, CallerAccess, ConsumerAccess
from chift_mcp.auth import Grant, TokenTable, fingerprint, valid_consumer_id
from chift_mcp.chift_auth import CALLER_TOKEN
from chift_mcp.errors import ConfigError, ToolError

if TYPE_CHECKING:
    from chift_mcp.app import Runtime
    from chift_mcp.settings import Settings

logger = logging.getLogger("chift_mcp.http")

AuthMode = Literal["tokens", "chift", "none"]
CALLER_KEY = "chift.caller"
LOG_KEY = "chift.log"
CONSUMER_HEADER = "x-chift-consumer-id"
LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]")
LOOPBACK_ORIGINS = (
    "http://127.0.0.1:*",
    "http://localhost:*",
    "http://[::1]:*",
    "http://127.0.0.1",
    "http://localhost",
    "http://[::1]",
)
_QUERY_CREDENTIALS = re.compile(rb"(^|&)(access_token|token|api_key|apikey|key|auth|bearer)=", re.IGNORECASE)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_./-]{1,64}$")  # tool names and MCP methods, as logged


@dataclass(frozen=True)
class HttpOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    path: str = "/mcp"
    stateless: bool = False
    json_response: bool = False
    auth: AuthMode = "tokens"
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] | None = None  # None: no Host check
    max_body: int = 1_048_576
    request_timeout: float = 120.0
    shutdown_timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings, **cli: Any) -> HttpOptions:
        """Options from the CLI flags plus the CHIFT_HTTP_* settings; loopback binds get safe defaults."""
        base = cls(**{k: v for k, v in cli.items() if v is not None})
        origins = _csv(settings.http_allowed_origins)
        hosts = _csv(settings.http_allowed_hosts)
        if is_loopback(base.host):
            origins = [*LOOPBACK_ORIGINS, *origins]
            hosts = [*LOOPBACK_HOSTS, *hosts]
        return replace(
            base,
            path="/" + base.path.strip("/"),
            allowed_origins=tuple(origins),
            allowed_hosts=tuple(hosts) if hosts else None,
            max_body=settings.http_max_body,
            request_timeout=settings.http_request_timeout,
        )


def _csv(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed(value: str, patterns: tuple[str, ...]) -> bool:
    """Exact match, or ``base:*`` for any port of ``base`` (the SDK's TransportSecuritySettings syntax)."""
    value = value.lower()
    for pattern in patterns:
        pattern = pattern.lower()
        if value == pattern:
            return True
        if pattern.endswith(":*") and value.startswith(pattern[:-1]) and value[len(pattern) - 1 :].isdigit():
            return True
    return False


# --------------------------------------------------------------------------- callers and scopes


def access_for(resolver: CallerAccess) -> Callable[[Any], Awaitable[Access]]:
    """``build_server(access_for=...)``: the access of the HTTP request that carried this message."""

    async def access_for_request(ctx: Any) -> Access:
        request = getattr(ctx, "request", None)
        caller = request.scope.get(CALLER_KEY) if isinstance(request, Request) else None
        if not isinstance(caller, Caller):  # cannot happen behind McpDoor; refuse rather than guess
            from mcp.shared.exceptions import MCPError
            from mcp_types import INVALID_REQUEST

            raise MCPError(code=INVALID_REQUEST, message="not authenticated")
        return await resolver.resolve(caller)

    return access_for_request


class RecordOutcome:
    """Server middleware: notes the MCP method, tool name and outcome in the request's log record."""

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        request = getattr(ctx, "request", None)
        record = request.scope.get(LOG_KEY) if isinstance(request, Request) else None
        if not isinstance(record, dict) or ctx.request_id is None:
            return await call_next(ctx)
        record["mcp"] = ctx.method if _TOOL_NAME.match(ctx.method or "") else "?"
        if ctx.method == "tools/call" and isinstance(ctx.params, Mapping):
            name = ctx.params.get("name")
            record["tool"] = name if isinstance(name, str) and _TOOL_NAME.match(name) else "?"
        try:
            result = await call_next(ctx)
        except Exception:
            record["result"] = "rpc_error"
            raise
        if isinstance(result, Mapping) and "isError" in result:
            record["result"] = "tool_error" if result.get("isError") else "ok"
        return result


# --------------------------------------------------------------------------- the door


class Drain:
    """Graceful shutdown: on SIGTERM, refuse new MCP requests (503) and let the ones in flight finish
    (up to ``timeout``) before uvicorn's own shutdown, which closes every SSE stream at once."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.draining = False
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def exit(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    async def wait_idle(self) -> None:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=self.timeout)
        except TimeoutError:
            logger.warning(
                "%d request(s) still in flight after %.0f s; stopping anyway", self.in_flight, self.timeout
            )

    def install(self) -> None:
        """Put a drain in front of the SIGTERM handler in place (uvicorn's, while it serves)."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):
            return

        async def drain_then_stop(signum: int) -> None:
            logger.info("SIGTERM: draining %d request(s) in flight", self.in_flight)
            await self.wait_idle()
            previous(signum, None)

        def on_sigterm(signum: int, frame: Any) -> None:
            if self.draining:  # a second SIGTERM: stop now
                previous(signum, frame)
                return
            self.draining = True
            loop.call_soon_threadsafe(lambda: loop.create_task(drain_then_stop(signum)))

        signal.signal(signal.SIGTERM, on_sigterm)


class McpDoor:
    """Pure ASGI: Host/Origin checks, bearer auth, consumer header and a time limit, then MCP."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        options: HttpOptions,
        tokens: TokenTable | None,
        server_consumer: str | None,
        drain: Drain | None = None,
    ) -> None:
        self.app = app
        self.options = options
        self.tokens = tokens
        self.server_consumer = server_consumer
        self.drain = drain or Drain(options.shutdown_timeout)
        self.anonymous = Grant("anonymous")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        record = scope.get(LOG_KEY)
        refusal = self._check_origin(headers)
        if refusal is None and self.drain.draining and scope.get("method") != "DELETE":
            refusal = _refuse(503, "shutting_down", "this server is shutting down: retry on another one")
        if refusal is None:
            refusal = self._authenticate(scope, headers)
        if refusal is not None:
            if isinstance(record, dict):
                record["refused"] = refusal.headers.get("x-chift-refusal", "")
            await refusal(scope, receive, send)
            return
        caller: Caller = scope[CALLER_KEY]
        if isinstance(record, dict):
            record["caller"] = caller.grant.name
        reset = CALLER_TOKEN.set(scope.pop("chift.bearer", None)) if self.options.auth == "chift" else None
        try:
            await self._call_with_limit(scope, receive, send)
        finally:
            if reset is not None:
                CALLER_TOKEN.reset(reset)

    def _check_origin(self, headers: dict[str, str]) -> Response | None:
        host = headers.get("host", "")
        if self.options.allowed_hosts is not None and not allowed(host, self.options.allowed_hosts):
            return _refuse(421, "invalid_host", "this Host is not served here (DNS rebinding protection)")
        origin = headers.get("origin")
        if origin is not None and not allowed(origin, self.options.allowed_origins):
            return _refuse(403, "invalid_origin", "requests from this Origin are not allowed")
        if origin is None and headers.get("sec-fetch-site") == "cross-site":
            return _refuse(403, "invalid_origin", "cross-site browser requests are not allowed")
        return None

    def _authenticate(self, scope: Scope, headers: dict[str, str]) -> Response | None:
        """Leave a Caller (and the SDK's AuthenticatedUser, which binds sessions) in ``scope``."""
        if _QUERY_CREDENTIALS.search(scope.get("query_string") or b""):
            return _unauthorized(
                "tokens in the URL are not accepted: send Authorization: Bearer <token>", "query_token"
            )
        grant: Grant
        principal: str | None
        if self.options.auth == "none":
            grant, principal = self.anonymous, None
        else:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                return _unauthorized("an Authorization: Bearer <token> header is required", "missing_token")
            if self.options.auth == "chift":
                grant, principal = Grant(f"chift:{fingerprint(token)}"), f"chift:{fingerprint(token)}"
                scope["chift.bearer"] = token
            else:
                found = self.tokens.verify(token) if self.tokens is not None else None
                if found is None:
                    return _unauthorized("unknown token", "unknown_token", invalid=True)
                grant, principal = found, f"token:{found.name}"
        consumer = headers.get(CONSUMER_HEADER)
        if consumer is not None:
            consumer = consumer.strip()
            if not valid_consumer_id(consumer):
                return _refuse(400, "invalid_consumer", f"{CONSUMER_HEADER} is not a consumer id")
        bound = [c for c in (self.server_consumer, grant.consumer_id, consumer) if c]
        if len(set(bound)) > 1:
            return _refuse(403, "consumer_not_allowed", "this token is bound to another consumer")
        scope[CALLER_KEY] = Caller(grant, bound[0] if bound else None)
        if principal is not None:
            scope["user"] = AuthenticatedUser(AccessToken(token=principal, client_id=principal, scopes=[]))
        return None

    async def _call_with_limit(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "GET":  # the standalone SSE stream is long-lived by design
            await self.app(scope, receive, send)
            return
        self.drain.enter()
        try:
            await self._call_within_time(scope, receive, send)
        finally:
            self.drain.exit()

    async def _call_within_time(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with anyio.move_on_after(self.options.request_timeout) as limit:
            await self.app(scope, receive, watch)
        if limit.cancelled_caught:
            record = scope.get(LOG_KEY)
            if isinstance(record, dict):
                record["result"] = "timeout"
            if not started:
                body = {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {"code": -32001, "message": "request timed out"},
                }
                await JSONResponse(body, status_code=504)(scope, receive, send)


def _printable(text: str) -> str:
    """No control characters in a log line (a decoded path may hold a newline)."""
    return text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _refuse(status: int, code: str, message: str) -> Response:
    return JSONResponse(
        {"error": code, "error_description": message}, status_code=status, headers={"x-chift-refusal": code}
    )


def _unauthorized(message: str, code: str, *, invalid: bool = False) -> Response:
    challenge = 'Bearer realm="chift-mcp"'
    if invalid:
        challenge += ', error="invalid_token"'
    return JSONResponse(
        {"error": "invalid_token" if invalid else "unauthorized", "error_description": message},
        status_code=401,
        headers={"WWW-Authenticate": challenge, "x-chift-refusal": code},
    )


class AccessLog:
    """Outermost: a request id (``X-Request-Id``, echoed back) and one log line per request."""

    def __init__(self, app: ASGIApp, *, quiet_paths: tuple[str, ...] = ("/healthz", "/readyz")) -> None:
        self.app = app
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _headers(scope).get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex[:16]
        record: dict[str, Any] = {}
        scope[LOG_KEY] = record
        status = 0
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            ms = (time.perf_counter() - started) * 1000
            path = scope.get("path", "")
            level = logging.DEBUG if path in self.quiet_paths else logging.INFO
            if logger.isEnabledFor(level):
                extra = " ".join(
                    f"{k}={record[k]}" for k in ("caller", "mcp", "tool", "result", "refused") if k in record
                )
                logger.log(
                    level,
                    "rid=%s %s %s %d %.1fms%s",
                    request_id,
                    scope.get("method", ""),
                    _printable(path[:200]),
                    status,
                    ms,
                    f" {extra}" if extra else "",
                )


# --------------------------------------------------------------------------- health


class Readiness:
    """``/readyz``: the tools are loaded and Chift answers (a cached token, or a fresh one); the
    sandbox is always ready. Answers are cached a few seconds so probes never hammer Chift."""

    def __init__(self, runtime: Runtime, *, auth: AuthMode, sandbox: bool, cache_for: float = 5.0) -> None:
        self.runtime = runtime
        self.auth = auth
        self.sandbox = sandbox
        self.cache_for = cache_for
        self._answer: tuple[float, bool, str] | None = None
        self._lock = anyio.Lock()

    async def check(self) -> tuple[bool, str]:
        if not len(self.runtime.inventory):
            return False, "no tools loaded"
        if self.sandbox:
            return True, "sandbox"
        async with self._lock:
            now = time.monotonic()
            if self._answer is not None and now - self._answer[0] < self.cache_for:
                return self._answer[1], self._answer[2]
            ready, why = await self._probe()
            self._answer = (time.monotonic(), ready, why)
            return ready, why

    async def _probe(self) -> tuple[bool, str]:
        try:
            with anyio.fail_after(5):
                if self.auth == "chift":
                    import httpx2

                    async with httpx2.AsyncClient(timeout=5) as http:
                        await http.get(self.runtime.settings.url_base)
                else:
                    await self.runtime.client.get_token()
        except TimeoutError:
            return False, "Chift did not answer within 5 s"
        except ToolError as exc:
            return False, exc.message
        except Exception as exc:  # a transport error of the probe itself
            return False, f"Chift is not reachable ({type(exc).__name__})"
        return True, "Chift reachable"


# --------------------------------------------------------------------------- the app


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
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings

    from chift_mcp.server import build_server

    check_auth(options, tokens)
    settings = runtime.settings
    passthrough = options.auth == "chift"
    resolver = CallerAccess(runtime.access, ttl=settings.connections_ttl, track_connections=not passthrough)
    lifespan_access = runtime.access
    if passthrough and runtime.access.base.consumer_id:
        # Without a caller's token there is nothing to fetch at start-up: build_server only starts
        # this provider (access_for decides every access), so give it one with nothing to fetch.
        lifespan_access = ConsumerAccess(replace(runtime.access.base, consumer_id=None), None)
    server = build_server(
        runtime.registry,
        lifespan_access,
        access_for=access_for(resolver),
        notify_sessions=not options.stateless,
    )
    server.middleware.append(RecordOutcome())
    manager = StreamableHTTPSessionManager(
        app=server,
        json_response=options.json_response,
        stateless=options.stateless,
        # Host and Origin are checked by McpDoor (before auth); the SDK still checks Content-Type.
        security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        max_request_body_size=options.max_body,
    )
    drain = Drain(options.shutdown_timeout)
    door = McpDoor(
        StreamableHTTPASGIApp(manager),
        drain=drain,
        options=options,
        tokens=tokens,
        server_consumer=runtime.access.base.consumer_id,
    )
    readiness = Readiness(runtime, auth=options.auth, sandbox=sandbox)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        ready, why = (False, "shutting down") if drain.draining else await readiness.check()
        return JSONResponse({"ready": ready, "detail": why}, status_code=200 if ready else 503)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with manager.run():
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

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route(options.path, endpoint=door),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(AccessLog)
    return HttpDoor(app, runtime, resolver, readiness, server, {"manager": manager})


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
    server = uvicorn.Server(
        uvicorn.Config(
            door.app,
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
