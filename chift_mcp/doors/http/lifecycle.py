"""The HTTP door's operations concerns, apart from the door itself (:mod:`chift_mcp.doors.http.guard`):

- :class:`AccessLog`: outermost ASGI layer, a request id (``X-Request-Id``, echoed) and one log line per
  request (method, path, status, duration, caller, MCP method, tool, outcome; never a token or a query
  string);
- :class:`RecordOutcome`: server middleware noting the MCP method, tool and outcome of each message in
  that request's log record, and counting tool calls in the metrics (:mod:`chift_mcp.doors.http.metrics`);
- :class:`Drain`: graceful shutdown on SIGTERM (new MCP requests 503, the ones in flight finish);
- :class:`Readiness`: ``/readyz`` (tools loaded and Chift reachable), cached a few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chift_mcp.errors import ToolError

if TYPE_CHECKING:
    from chift_mcp.app import Runtime
    from chift_mcp.doors.http.metrics import Metrics

logger = logging.getLogger("chift_mcp.http")

LOG_KEY = "chift.log"
DRAIN_ANSWER_TIME = 1.5  # seconds of the drain kept to answer the calls cut at its deadline
PROBE_PATHS = ("/healthz", "/readyz", "/metrics")  # answered without a token, logged at debug level
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_./-]{1,64}$")  # tool names and MCP methods, as logged


def scope_headers(scope: Scope) -> dict[str, str]:
    """The request's headers, lower-cased names (the last of repeated ones)."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def printable(text: str) -> str:
    """No control characters in a log line (a decoded path may hold a newline)."""
    return text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)


class RecordOutcome:
    """Server middleware: notes the MCP method, tool name and outcome in the request's log record,
    and counts tool calls (by tool and outcome) and the ones in flight in ``metrics``."""

    def __init__(self, metrics: Metrics | None = None, known: Callable[[str], bool] | None = None) -> None:
        self.metrics = metrics
        self.known = known or (lambda name: True)  # other names are counted as "unknown"

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        if ctx.request_id is None:
            return await call_next(ctx)
        request = getattr(ctx, "request", None)
        found = request.scope.get(LOG_KEY) if isinstance(request, Request) else None
        record: dict[str, Any] = found if isinstance(found, dict) else {}
        record["mcp"] = ctx.method if _TOOL_NAME.match(ctx.method or "") else "?"
        tool: str | None = None
        if ctx.method == "tools/call" and isinstance(ctx.params, Mapping):
            name = ctx.params.get("name")
            tool = record["tool"] = name if isinstance(name, str) and _TOOL_NAME.match(name) else "?"
        metrics = self.metrics if tool is not None else None
        if metrics is not None:
            metrics.in_flight.inc()
        try:
            result = await call_next(ctx)
        except Exception:
            record["result"] = "rpc_error"
            raise
        else:
            if isinstance(result, Mapping) and "isError" in result:
                record["result"] = outcome(result)
        finally:
            if metrics is not None and tool is not None:
                metrics.in_flight.dec()
                label = tool if self.known(tool) else "unknown"
                metrics.tool_calls.labels(label, record.get("result", "rpc_error")).inc()
        return result


def outcome(result: Mapping[str, Any]) -> str:
    """ok, tool_error, or rate_limited (a tool error the door answered itself)."""
    if not result.get("isError"):
        return "ok"
    structured = result.get("structuredContent")
    if isinstance(structured, Mapping) and structured.get("error") == "RATE_LIMITED":
        return "rate_limited"
    return "tool_error"


class Drain:
    """Graceful shutdown: on SIGTERM, refuse new MCP requests (503) and let the ones in flight finish
    (up to ``timeout``) before uvicorn's own shutdown, which closes every SSE stream at once."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.draining = False
        # Told when draining starts, with the instant (time.monotonic()) by which calls must be over:
        # a little before the drain ends, so that their answers (a write's client request id) go out.
        self.on_drain: list[Callable[[float], None]] = []
        self.in_flight = 0
        self._task: asyncio.Task[None] | None = None  # the drain's, once SIGTERM came
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

    def start(self) -> None:
        """Refuse new requests from now on, and tell ``on_drain`` when the ones in flight must end."""
        self.draining = True
        calls_end = time.monotonic() + max(self.timeout - DRAIN_ANSWER_TIME, self.timeout / 2)
        for listener in self.on_drain:
            listener(calls_end)

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

            def begin() -> None:  # in the loop, not in the signal handler: it moves cancel scopes
                self.start()
                self._task = loop.create_task(drain_then_stop(signum))

            loop.call_soon_threadsafe(begin)

        signal.signal(signal.SIGTERM, on_sigterm)


class AccessLog:
    """Outermost: a request id (``X-Request-Id``, echoed back) and one log line per request."""

    def __init__(self, app: ASGIApp, *, quiet_paths: tuple[str, ...] = PROBE_PATHS) -> None:
        self.app = app
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = scope_headers(scope).get("x-request-id", "")
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
                    printable(path[:200]),
                    status,
                    ms,
                    f" {extra}" if extra else "",
                )


class Readiness:
    """``/readyz``: the tools are loaded and Chift answers (a cached token, or a fresh one); the
    sandbox is always ready. Answers are cached a few seconds so probes never hammer Chift."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        auth: Literal["tokens", "chift", "none"],
        sandbox: bool,
        cache_for: float = 5.0,
    ) -> None:
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
