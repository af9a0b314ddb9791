"""The HTTP door itself: who may reach the MCP endpoint, and as whom.

Every request but the probes goes through :class:`HostGuard` first: a repeated Host, Authorization,
Origin or consumer header is refused (400), then a Host not served (421, DNS rebinding). Requests to the
MCP path then go through :class:`McpDoor`, in this order, before any MCP handling: the Origin check
(cross-site browsers), the bearer token (401 with
``WWW-Authenticate: Bearer`` when missing or unknown; never from the query string), the optional
``X-Chift-Consumer-Id`` header (it narrows, and a token or server bound to another consumer refuses it
with 403), then a time limit. The caller is left in the ASGI scope; :func:`access_for` turns it, through
:class:`~chift_mcp.tools.access.CallerAccess`, into the :class:`~chift_mcp.tools.access.Access` of each MCP request,
so ``tools/list`` and ``tools/call`` see the server's access narrowed by the token's grant.

:class:`HttpOptions` holds the door's options (CLI flags and ``CHIFT_HTTP_*`` settings). The app around
the door is assembled in :mod:`chift_mcp.doors.http.app`; drain, access log and readiness live in
:mod:`chift_mcp.doors.http.lifecycle`.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chift_mcp.chift.auth import CALLER_TOKEN
from chift_mcp.chift.client import deadline_in
from chift_mcp.doors.http.lifecycle import LOG_KEY, PROBE_PATHS, Drain, scope_headers
from chift_mcp.doors.http.tokens import Grant, TokenTable, fingerprint, valid_consumer_id
from chift_mcp.tools.access import Access, Caller, CallerAccess

if TYPE_CHECKING:
    from chift_mcp.settings import Settings

logger = logging.getLogger("chift_mcp.http")
DEADLINE_MARGIN = 2.0  # seconds between the Chift calls' deadline and the door's own time limit

AuthMode = Literal["tokens", "chift", "none"]
CALLER_KEY = "chift.caller"
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
_SINGLE_HEADERS = frozenset({b"host", b"authorization", b"origin", CONSUMER_HEADER.encode()})
_QUERY_CREDENTIALS = re.compile(rb"(^|&)(access_token|token|api_key|apikey|key|auth|bearer)=", re.IGNORECASE)


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
    sse_retry_ms: int = 1000  # the SSE retry field: how soon a client whose stream dropped reconnects

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
            shutdown_timeout=settings.http_drain_timeout,
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


def caller_of(ctx: Any) -> Caller | None:
    """Who sent the HTTP request that carried this MCP message (left in its scope by McpDoor)."""
    request = getattr(ctx, "request", None)
    caller = request.scope.get(CALLER_KEY) if isinstance(request, Request) else None
    return caller if isinstance(caller, Caller) else None


def access_for(resolver: CallerAccess) -> Callable[[Any], Awaitable[Access]]:
    """``build_server(access_for=...)``: the access of the HTTP request that carried this message."""

    async def access_for_request(ctx: Any) -> Access:
        caller = caller_of(ctx)
        if caller is None:  # cannot happen behind McpDoor; refuse rather than guess
            from mcp.shared.exceptions import MCPError
            from mcp_types import INVALID_REQUEST

            raise MCPError(code=INVALID_REQUEST, message="not authenticated")
        return await resolver.resolve(caller)

    return access_for_request


# --------------------------------------------------------------------------- the door


class HostGuard:
    """In front of every route but the probes (``/healthz``, ``/readyz``: load balancers call them by
    address): one Host, Authorization, Origin and consumer header at most (a proxy and the server must
    not each pick a different one of two), and a Host this server answers to (DNS rebinding), before
    anything answers, a redirect or a 404 included."""

    def __init__(self, app: ASGIApp, *, options: HttpOptions, probes: tuple[str, ...] = PROBE_PATHS) -> None:
        self.app = app
        self.options = options
        self.probes = probes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.probes:
            await self.app(scope, receive, send)
            return
        refusal = self._check(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        record = scope.get(LOG_KEY)
        if isinstance(record, dict):
            record["refused"] = refusal.headers.get("x-chift-refusal", "")
        await refusal(scope, receive, send)

    def _check(self, scope: Scope) -> Response | None:
        seen: set[bytes] = set()
        host = b""
        for key, value in scope.get("headers", ()):
            name = key.lower()
            if name in _SINGLE_HEADERS:
                if name in seen:
                    what = name.decode("latin-1")
                    return _refuse(400, "repeated_header", f"the {what} header may be sent once only")
                seen.add(name)
                if name == b"host":
                    host = value
        hosts = self.options.allowed_hosts
        if hosts is not None and not allowed(host.decode("latin-1"), hosts):
            return _refuse(421, "invalid_host", "this Host is not served here (DNS rebinding protection)")
        return None


class McpDoor:
    """Pure ASGI, behind :class:`HostGuard`: Origin checks, bearer auth, consumer header and a time
    limit, then MCP."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        options: HttpOptions,
        tokens: TokenTable | None,
        server_consumer: str | None,
        drain: Drain | None = None,
        check_consumer: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.app = app
        self.check_consumer = check_consumer
        self.options = options
        self.tokens = tokens
        self.server_consumer = server_consumer
        self.drain = drain or Drain(options.shutdown_timeout)
        self.anonymous = Grant("anonymous")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope_headers(scope)
        record = scope.get(LOG_KEY)
        refusal = self._check_origin(headers)
        if refusal is None and self.drain.draining and scope.get("method") != "DELETE":
            refusal = _refuse(503, "shutting_down", "this server is shutting down: retry on another one")
        if refusal is None:
            refusal = self._authenticate(scope, headers)
        if refusal is None:
            refusal = await self._check_consumer(scope[CALLER_KEY])
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

    async def _check_consumer(self, caller: Caller) -> Response | None:
        """A consumer the caller named (not one its token or the server is bound to) must be one of
        the account's: checked against a cached list, before it costs a Chift request of its own."""
        named = caller.consumer_id
        if (
            named is None
            or self.check_consumer is None
            or named in (self.server_consumer, caller.grant.consumer_id)
        ):
            return None
        if await self.check_consumer(named):
            return None
        return _refuse(
            403,
            "unknown_consumer",
            f"the account has no consumer {named} ({CONSUMER_HEADER}); a consumer created just now "
            "is known within a minute",
        )

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

        # The Chift calls this request makes give up a little before the door cuts it, with the error
        # that says whether a write may have happened (and its request id), instead of a bare 504.
        limit_s = self.options.request_timeout
        with anyio.move_on_after(limit_s) as limit, deadline_in(limit_s - min(DEADLINE_MARGIN, limit_s / 4)):
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


def _refuse(status: int, code: str, message: str) -> Response:
    return JSONResponse(
        {"error": code, "error_description": message}, status_code=status, headers={"x-chift-refusal": code}
    )


# No JSON-RPC or MCP code means "unauthorized" (-32000 and -32001 are the SDKs' connection closed and
# request timeout): Invalid Request, with the status and RFC 6750's error in ``data``.
UNAUTHORIZED = -32600


def _unauthorized(message: str, code: str, *, invalid: bool = False) -> Response:
    """401 with RFC 6750's challenge, and a body that is a JSON-RPC error: MCP clients (the Python
    SDK 2.x, so pydantic-ai and fastmcp) show a non-2xx body's JSON-RPC error, and only a generic
    "Server returned an error response" for any other body."""
    challenge = 'Bearer realm="chift-mcp"'
    if invalid:
        challenge += ', error="invalid_token"'
    error = "invalid_token" if invalid else "unauthorized"
    body = {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": UNAUTHORIZED,
            "message": f"401 Unauthorized: {message}. This server takes a bearer token from its operator "
            "(chift-mcp token new), not OAuth",
            "data": {"status": 401, "error": error, "error_description": message, "refusal": code},
        },
    }
    return JSONResponse(
        body, status_code=401, headers={"WWW-Authenticate": challenge, "x-chift-refusal": code}
    )
