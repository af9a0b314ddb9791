"""The Starlette app: the request pipeline around the engine, and the ``/_sandbox`` admin routes.

Pipeline for every API request: route match -> bearer token -> faults (latency, status, Chift's
rate-limit retries) -> idempotency (``X-Chift-Client-RequestId``) -> validation, connection, folder,
cache and handling (``engine``) -> lost-response and malformed-JSON faults -> request log and stats.

``GET /openapi.json`` serves the spec the sandbox was built from, without authentication, as Chift
does (docs ``developer-guides/sdk``: "OpenAPI file: https://api.chift.eu/openapi.json"; the official
MCP server and Chift's CLI read it at start-up).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from chift_mcp.openapi.operations import Operation
from chift_mcp.openapi.spec import Spec, load_spec
from chift_mcp.sandbox import errors
from chift_mcp.sandbox.config import SandboxConfig
from chift_mcp.sandbox.engine import Engine, Outcome
from chift_mcp.sandbox.errors import dumps, error_body
from chift_mcp.sandbox.faults import Fault, FaultError
from chift_mcp.sandbox.routing import TOKEN_DOMAIN, MethodNotAllowed, Router
from chift_mcp.sandbox.state import SandboxState, Transaction, iso_utc
from chift_mcp.sandbox.validation import Invalid

logger = logging.getLogger("chift_mcp.sandbox")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class Sandbox:
    """Router, engine and state of one sandbox app."""

    def __init__(self, spec: Spec, config: SandboxConfig) -> None:
        self.state = SandboxState(config)
        self.engine = Engine(spec, self.state)
        self._openapi: bytes | None = None

    @property
    def router(self) -> Router:
        return self.engine.router

    # -- API ----------------------------------------------------------------------------------------

    async def api(self, request: Request) -> Response:
        started = time.perf_counter()
        state = self.state
        epoch = state.epoch
        entry: dict[str, Any] = {
            "time": iso_utc(state.now()),
            "method": request.method,
            "path": request.url.path,
            "query": request.scope.get("query_string", b"").decode("latin-1"),
            "operation_id": None,
            "consumer_id": None,
            "client_request_id": request.headers.get("x-chift-client-requestid"),
            "status": 0,
            "processed": False,
            "fault": None,
        }
        try:
            outcome = await self._dispatch(request, entry)
        except Exception:
            logger.exception("sandbox error on %s %s", request.method, request.url.path)
            # Chift answers its own internal errors 400 ERROR_INTERNAL_ERROR (docs "Errors"), not 500.
            message = "Internal server error. This is often linked to a technical error."
            outcome = Outcome(400, dumps(error_body(errors.INTERNAL, message)), False)
        entry["status"] = outcome.status
        entry["processed"] = outcome.processed
        entry["connection_id"] = outcome.connection_id
        entry["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        state.record(entry, epoch)
        media_type = "application/json" if outcome.body is not None else None
        return Response(
            outcome.body, status_code=outcome.status, headers=outcome.headers, media_type=media_type
        )

    async def _dispatch(self, request: Request, entry: dict[str, Any]) -> Outcome:
        state = self.state
        method, path = request.method, request.url.path
        try:
            match = self.router.match(method, path)
        except MethodNotAllowed as exc:
            body = error_body(errors.METHOD_NOT_SUPPORTED, f"The resource {method} - {path} is not supported")
            return Outcome(405, dumps(body), False, headers={"Allow": ", ".join(exc.allowed)})
        if match is None:
            message = (
                "The route that was called does not exist. "
                "Make sure that you use the routes as specified in the documentation."
            )
            return Outcome(400, dumps(error_body(errors.ROUTE_NOT_FOUND, message)), False)
        operation, raw_path = match
        token_endpoint = operation.domain == TOKEN_DOMAIN
        entry["operation_id"] = operation.id
        entry["consumer_id"] = raw_path.get("consumer_id")
        if not token_endpoint:
            problem = state.token_problem(request.headers.get("authorization"))
            if problem:
                body = error_body(errors.AUTHENTICATION, problem)
                return Outcome(401, dumps(body), False, headers={"WWW-Authenticate": "Bearer"})

        triggered = state.faults.take(method, path, operation.path, operation.id)
        action = triggered.action
        if action is not None:
            entry["fault"] = action.kind
            logger.info("fault %s (%s) on %s %s", action.kind, action.status, method, path)

        request_id = entry["client_request_id"]
        transaction: Transaction | None = None
        if request_id:
            existing = state.transactions.get(request_id)
            if (
                existing is not None
                and method in WRITE_METHODS
                and (existing.in_process or existing.processed)
            ):
                state.replays_rejected += 1
                return self._replay(existing, request_id)
            transaction = Transaction(
                request_id, raw_path.get("consumer_id"), None, method, path, iso_utc(state.now())
            )
            state.transactions[request_id] = transaction
        try:
            delay = state.config.latency + triggered.latency
            if delay > 0:
                await state.clock.sleep(delay)
            if action is not None and action.kind == "rate_limit" and action.window == "short":
                # Chift's own retries on the connector's limit: 1, 2, 4, 8, 16 s (docs "Rate limits").
                await state.clock.sleep(action.holds * state.config.backoff_scale)
            if action is not None and action.bare and action.kind == "status":
                outcome = Outcome(
                    500, b"Internal Server Error", False, headers={"Content-Type": "text/plain"}
                )
            elif action is not None and (action.kind == "status" or action.exhausts_retries):
                outcome = Outcome(
                    action.status or 503, dumps(action.error_body()), False, headers=_retry_after(action)
                )
            else:
                daily = action if action is not None and action.window == "daily" else None
                raw = await request.body()
                if token_endpoint:
                    outcome = self._token(operation, raw_path, raw)
                else:
                    outcome = self.engine.handle(
                        operation,
                        raw_path,
                        request.query_params,
                        entry["query"],
                        request.headers,
                        raw,
                        path,
                        daily,
                    )
            if transaction is not None:
                transaction.status_code = outcome.status
                transaction.processed = outcome.processed
                transaction.created_entity_id = outcome.created_id
                transaction.connection_id = outcome.connection_id
        finally:
            if transaction is not None:
                transaction.in_process = False
        if outcome.processed and method in WRITE_METHODS and not token_endpoint:
            state.processed_writes[operation.id] += 1
        if action is not None and action.kind == "drop_after_processing" and action.bare:
            return Outcome(
                500, b"Internal Server Error", outcome.processed, headers={"Content-Type": "text/plain"}
            )
        if action is not None and action.kind == "drop_after_processing":
            return Outcome(
                action.status or 502,
                dumps(action.error_body()),
                outcome.processed,
                outcome.consumer_id,
                outcome.connection_id,
                outcome.created_id,
                _retry_after(action),
            )
        if action is not None and action.kind == "malformed_json":
            raw = outcome.body or b'{"items": [{"id": "'
            return Outcome(
                200 if outcome.status == 204 else outcome.status,
                raw[: max(1, len(raw) // 2)],
                outcome.processed,
                headers={"Content-Type": "application/json"},
            )
        return outcome

    def _replay(self, existing: Transaction, request_id: str) -> Outcome:
        if existing.in_process:
            body = error_body(
                errors.IN_PROCESS,
                "Request is in processing",
                f"Request with same client request id {request_id} is currently processed",
            )
        else:
            body = error_body(
                errors.ALREADY_PROCESSED,
                f"Request already processed: {existing.status_code}",
                f"Request with same client request id {request_id} was already successfully processed",
            )
        return Outcome(409, dumps(body), False)

    def _token(self, operation: Operation, raw_path: dict[str, str], body: bytes) -> Outcome:
        info = self.engine.info(operation)
        checked = info.validator.validate(raw_path, {}, {}, body)
        if isinstance(checked, Invalid):
            detail_body = error_body(checked.error_code, checked.message, checked.detail)
            return Outcome(422, dumps(detail_body), False)
        data = checked.body or {}
        config = self.state.config
        if (
            data.get("clientId") != config.client_id
            or data.get("clientSecret") != config.client_secret
            or str(data.get("accountId", "")).lower() != config.account_id.lower()
        ):
            message = (
                "Invalid credentials: the combination of clientId, clientSecret and accountId is not valid"
            )
            return Outcome(401, dumps(error_body(errors.AUTHENTICATION, message)), False)
        consumer = data.get("consumerId")
        if consumer is not None and consumer not in self.state.consumers:
            return Outcome(404, dumps(error_body(None, errors.CONSUMER_MISSING)), False)
        return Outcome(200, dumps(self.state.issue_token(str(data["clientId"]))), True)

    # -- admin --------------------------------------------------------------------------------------

    async def faults(self, request: Request) -> Response:
        state = self.state
        if request.method == "GET":
            return JSONResponse([f.to_json() for f in state.faults.list()])
        if request.method == "DELETE":
            count = len(state.faults)
            state.faults.clear()
            return JSONResponse({"cleared": count})
        try:
            fault = Fault.from_json(await request.json())
        except (ValueError, TypeError) as exc:
            message = str(exc) if isinstance(exc, FaultError) else f"invalid fault: {exc}"
            return JSONResponse(error_body(errors.INVALID_BODY, message), status_code=422)
        state.faults.add(fault)
        logger.info("fault added: %s", fault.to_json())
        return JSONResponse(fault.to_json(), status_code=201)

    async def revoke(self, request: Request) -> Response:
        del request
        count = self.state.revoke_tokens()
        logger.info("revoked %d token(s)", count)
        return JSONResponse({"revoked": count})

    async def reset(self, request: Request) -> Response:
        del request
        self.state.reset()
        logger.info("sandbox reset")
        return JSONResponse({"status": "ok"})

    async def requests(self, request: Request) -> Response:
        items = list(self.state.log)
        operation = request.query_params.get("operation_id")
        if operation:
            items = [e for e in items if e["operation_id"] == operation]
        limit = request.query_params.get("limit")
        if limit and limit.isdigit():
            items = items[-int(limit) :]
        return JSONResponse(items)

    async def stats(self, request: Request) -> Response:
        del request
        return JSONResponse(self.state.stats())

    async def transactions(self, request: Request) -> Response:
        del request
        return JSONResponse(self.state.transactions_json())

    async def clock(self, request: Request) -> Response:
        """``{"advance": seconds}`` and/or ``{"backoff_scale": x}`` (Chift's rate-limit waits times x)."""
        try:
            data = await request.json()
            seconds = float(data.get("advance", 0))
            scale = float(data.get("backoff_scale", self.state.config.backoff_scale))
            if seconds < 0 or scale < 0 or not {"advance", "backoff_scale"} & set(data):
                raise ValueError
        except (ValueError, KeyError, TypeError, AttributeError):
            message = 'expected {"advance": seconds} and/or {"backoff_scale": factor}, both >= 0'
            return JSONResponse(error_body(errors.INVALID_BODY, message), status_code=422)
        self.state.config.backoff_scale = scale
        self.state.advance_clock(seconds)
        return JSONResponse({"now": self.state.now(), "backoff_scale": scale})

    async def cache(self, request: Request) -> Response:
        """``DELETE``: empty Chift's GET cache; ``POST {"ttl": seconds}``: its lifetime (0 = off)."""
        cache = self.state.cache
        if request.method == "POST":
            try:
                ttl = float((await request.json())["ttl"])
                if ttl < 0:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                return JSONResponse(
                    error_body(errors.INVALID_BODY, 'expected {"ttl": seconds >= 0}'), status_code=422
                )
            cache.ttl = self.state.config.cache_ttl = ttl  # kept by /_sandbox/reset
        count = len(cache)
        cache.clear()
        return JSONResponse({"cleared": count, "ttl": cache.ttl})

    async def openapi(self, request: Request) -> Response:
        del request
        if self._openapi is None:
            self._openapi = dumps(self.engine.spec.document)
        return Response(self._openapi, media_type="application/json")

    async def health(self, request: Request) -> Response:
        del request
        return JSONResponse({"status": "ok", "operations": len(self.router.operations)})


def _retry_after(fault: Fault) -> dict[str, str]:
    if fault.retry_after is None:
        return {}
    return {"Retry-After": str(math.ceil(fault.retry_after))}


def build_app(spec: Spec | None = None, config: SandboxConfig | None = None) -> Starlette:
    """A fake Chift API for ``spec`` (default: the bundled one); live state at ``app.state.sandbox``."""
    sandbox = Sandbox(spec if spec is not None else load_spec(), config or SandboxConfig())
    routes = [
        StarletteRoute("/_sandbox/faults", sandbox.faults, methods=["GET", "POST", "DELETE"]),
        StarletteRoute("/_sandbox/revoke", sandbox.revoke, methods=["POST"]),
        StarletteRoute("/_sandbox/reset", sandbox.reset, methods=["POST"]),
        StarletteRoute("/_sandbox/requests", sandbox.requests, methods=["GET"]),
        StarletteRoute("/_sandbox/stats", sandbox.stats, methods=["GET"]),
        StarletteRoute("/_sandbox/transactions", sandbox.transactions, methods=["GET"]),
        StarletteRoute("/_sandbox/clock", sandbox.clock, methods=["POST"]),
        StarletteRoute("/_sandbox/cache", sandbox.cache, methods=["POST", "DELETE"]),
        StarletteRoute("/_sandbox/health", sandbox.health, methods=["GET"]),
        StarletteRoute("/openapi.json", sandbox.openapi, methods=["GET"]),
        StarletteRoute("/{path:path}", sandbox.api, methods=ALL_METHODS),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = sandbox.state
    app.state.sandbox_app = sandbox
    return app


__all__ = ["Sandbox", "build_app"]
