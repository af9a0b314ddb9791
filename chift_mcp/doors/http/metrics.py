"""Prometheus metrics of the HTTP door, served on ``/metrics`` without a token, like ``/healthz``.

They hold no secret: tool names, outcomes, HTTP statuses and token *names* (``chift`` for every
pass-through caller, whose tokens change), never a token, an argument or a consumer id.

    chift_mcp_tool_calls_total{tool,outcome}          ok, tool_error, rate_limited, rpc_error
    chift_mcp_tool_calls_in_flight
    chift_mcp_rate_limited_total{caller}
    chift_mcp_upstream_requests_total{status}         2xx, the HTTP status of an error, unreachable, ...
    chift_mcp_upstream_request_duration_seconds       histogram
    chift_mcp_sessions                                stateful MCP sessions open

Upstream requests are counted where the registry sends them (:class:`MeteredUpstream` wraps its
``upstream``): one per request, its retries inside the Chift client included in its duration.
Each :class:`Metrics` has its own registry (one per app; tests build many).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chift_mcp.errors import ChiftAPIError, InvalidResponseError, UnreachableError

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, *, sessions: Callable[[], int] | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.tool_calls = Counter(
            "chift_mcp_tool_calls",
            "Tool calls answered, by tool and outcome (ok, tool_error, rate_limited, rpc_error).",
            ["tool", "outcome"],
            registry=r,
        )
        self.in_flight = Gauge("chift_mcp_tool_calls_in_flight", "Tool calls being answered.", registry=r)
        self.rate_limited = Counter(
            "chift_mcp_rate_limited",
            "Tool calls refused by a rate limit, by token name.",
            ["caller"],
            registry=r,
        )
        self.upstream_requests = Counter(
            "chift_mcp_upstream_requests",
            "Requests to Chift, by status: 2xx, an error's HTTP status, unreachable, invalid_response, error.",
            ["status"],
            registry=r,
        )
        self.upstream_duration = Histogram(
            "chift_mcp_upstream_request_duration_seconds",
            "Seconds a request to Chift took, its retries included.",
            buckets=BUCKETS,
            registry=r,
        )
        self.sessions = Gauge("chift_mcp_sessions", "Stateful MCP sessions open.", registry=r)
        if sessions is not None:
            self.sessions.set_function(sessions)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MeteredUpstream:
    """Counts and times the requests sent through ``upstream`` (``async request(method, path, **kw)``)."""

    def __init__(self, upstream: Any, metrics: Metrics) -> None:
        self.upstream = upstream
        self.metrics = metrics

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        started = time.perf_counter()
        status = "error"
        try:
            answer = await self.upstream.request(method, path, **kw)
            status = "2xx"
            return answer
        except ChiftAPIError as exc:
            status = str(exc.status)
            raise
        except UnreachableError:
            status = "unreachable"
            raise
        except InvalidResponseError:
            status = "invalid_response"
            raise
        finally:
            self.metrics.upstream_duration.observe(time.perf_counter() - started)
            self.metrics.upstream_requests.labels(status).inc()


def meter_upstream(runtime: Any, metrics: Metrics) -> None:
    """Count what the registry (and the connection lookups) send to Chift."""
    if runtime.registry.upstream is None:
        return
    runtime.registry.upstream = MeteredUpstream(runtime.registry.upstream, metrics)
    if runtime.access.upstream is not None:
        runtime.access.upstream = runtime.registry.upstream
