"""Answer one spec operation: validate, check consumer and connection, then read, create or update.

Per-operation data (validator, resolved response schema, resource role) is compiled from its
``chift_mcp.openapi.operations.Operation`` on first use and kept. The stored resources are ``store``'s;
consumers and connections are ``accounts``'s; every other operation answers with generated data.
GET answers are cached by (path, query, state versions), so a hot route costs a dict lookup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from chift_mcp.openapi.operations import Operation
from chift_mcp.openapi.spec import Spec
from chift_mcp.sandbox import errors
from chift_mcp.sandbox.accounts import TRANSACTION_LOOKUP, AccountRoutes
from chift_mcp.sandbox.config import connection_api
from chift_mcp.sandbox.data import DataGenerator
from chift_mcp.sandbox.errors import ApiError, dumps
from chift_mcp.sandbox.fakes import digest
from chift_mcp.sandbox.resources import Resource, roles
from chift_mcp.sandbox.routing import Router
from chift_mcp.sandbox.schema_check import is_valid
from chift_mcp.sandbox.state import SandboxState
from chift_mcp.sandbox.store import ResourceStore, explicit_filters, overlay, page
from chift_mcp.sandbox.validation import Invalid, RequestValidator

PAGE_KEYS = frozenset({"items", "total", "page", "size"})
UNCACHED = frozenset({TRANSACTION_LOOKUP})  # answers that depend on state outside the cache key
MAX_GENERATED_TOTAL = 137


@dataclass
class Compiled:
    """What the engine keeps of one operation."""

    operation: Operation
    validator: RequestValidator
    status: int
    schema: dict[str, Any] | None  # the success answer's schema, resolved
    paginated: bool
    item_schema: dict[str, Any] | None
    api: str | None  # the connection the consumer needs
    resource: Resource | None = None
    role: str | None = None


@dataclass
class Outcome:
    status: int
    body: bytes | None
    processed: bool
    consumer_id: str | None = None
    connection_id: str | None = None
    created_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """One validated request."""

    operation: Operation
    info: Compiled
    path: dict[str, Any]
    query: dict[str, Any]
    raw_query: Mapping[str, str]
    body: Any
    path_str: str
    consumer_id: str | None
    connection: dict[str, Any] | None


Handler = Callable[[Call], tuple[int, Any, str | None]]


class Engine:
    def __init__(self, spec: Spec, state: SandboxState) -> None:
        self.spec = spec
        self.state = state
        self.gen = DataGenerator(state.config.seed)
        self._info: dict[str, Compiled] = {}
        self._roles = roles()
        self.store = ResourceStore(state, self.gen, lambda operation_id: self.router.by_id[operation_id])
        self._special: dict[str, Handler] = AccountRoutes(state, self.gen).handlers()

    @cached_property
    def router(self) -> Router:
        """The spec's operations, read on the first request rather than at ``build_app`` (start-up)."""
        return Router.for_spec(self.spec)

    # -- compiled per operation ---------------------------------------------------------------------

    def info(self, operation: Operation) -> Compiled:
        found = self._info.get(operation.id)
        if found is not None:
            return found
        status, schema = _success(self.spec, operation)
        props = (schema or {}).get("properties") or {}
        paginated = set(props) >= PAGE_KEYS
        item_schema = props["items"].get("items") if paginated else None
        if schema is not None and schema.get("type") == "array":
            item_schema = schema.get("items") or {}
        resource, role = self._roles.get(operation.id, (None, None))
        info = Compiled(
            operation=operation,
            validator=RequestValidator(operation),
            status=status,
            schema=schema,
            paginated=paginated,
            item_schema=item_schema,
            api=connection_api(operation),
            resource=resource,
            role=role,
        )
        self._info[operation.id] = info
        return info

    # -- entry point --------------------------------------------------------------------------------

    def handle(
        self,
        operation: Operation,
        raw_path: dict[str, str],
        query: Mapping[str, str],
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        path_str: str,
        use_cache: bool,
    ) -> Outcome:
        info = self.info(operation)
        cache_key: tuple[Any, ...] | None = None
        if use_cache and operation.method == "GET" and operation.id not in UNCACHED:
            consumer = raw_path.get("consumer_id", "")
            cache_key = (
                path_str,
                query_string,
                headers.get("x-chift-connectionid"),
                headers.get("x-chift-integrationid"),
                self.state.version,
                self.state.resource_versions[(consumer, info.resource.name)] if info.resource else 0,
            )
            cached = self.state.cache.get(cache_key)
            if cached is not None:
                self.state.cache_hits += 1
                status, payload = cached
                return Outcome(status, payload, status < 400, consumer or None)
        outcome = self._run(operation, info, raw_path, query, headers, body, path_str)
        if cache_key is not None and outcome.status != 500:
            self.state.cache.put(cache_key, (outcome.status, outcome.body or b""))
        return outcome

    def _run(
        self,
        operation: Operation,
        info: Compiled,
        raw_path: dict[str, str],
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        path_str: str,
    ) -> Outcome:
        consumer_id = raw_path.get("consumer_id")
        connection_id = None
        try:
            checked = info.validator.validate(raw_path, query, headers, body)
            if isinstance(checked, Invalid):
                raise ApiError(422, checked.error_code, checked.message, checked.detail)
            connection = None
            if consumer_id is not None and operation.consumer_scoped:
                if consumer_id not in self.state.consumers:
                    raise ApiError(404, errors.CONSUMER_NOT_FOUND, "The consumer does not exist")
                if info.api:
                    connection = self._connection(consumer_id, info.api, headers)
                    connection_id = connection["connectionid"]
            call = Call(
                operation,
                info,
                checked.path,
                checked.query,
                query,
                checked.body,
                path_str,
                consumer_id,
                connection,
            )
            handler = self._special.get(operation.id, self._generic)
            status, payload, created_id = handler(call)
        except ApiError as exc:
            return Outcome(
                exc.status, dumps(exc.body()), False, consumer_id, connection_id, headers=exc.headers
            )
        body_bytes = None if status == 204 else dumps(payload)
        return Outcome(status, body_bytes, True, consumer_id, connection_id, created_id)

    def _connection(self, consumer_id: str, api: str, headers: Mapping[str, str]) -> dict[str, Any]:
        active = self.state.active_connections(consumer_id, api)
        wanted = headers.get("x-chift-connectionid")
        integration = headers.get("x-chift-integrationid")
        if wanted:
            active = [c for c in active if c["connectionid"] == wanted]
        elif integration:
            active = [c for c in active if str(c["integrationid"]) == integration]
        if not active:
            raise ApiError(
                400,
                errors.NO_ACTIVE_CONNECTION,
                f"No active connection/integration for the API '{api}' is configured for this consumer",
            )
        if len(active) > 1:
            raise ApiError(
                400,
                errors.CONNECTION_CONFIGURATION,
                f"More than one connection is active for the API '{api}': "
                "pass X-Chift-Connectionid or X-Chift-Integrationid to choose one",
            )
        return active[0]

    # -- generic operations -------------------------------------------------------------------------

    def _generic(self, call: Call) -> tuple[int, Any, str | None]:
        info = call.info
        if info.resource is not None and call.consumer_id is not None:
            return self.store.handle(call, info.resource, str(info.role), call.consumer_id)
        if info.schema is None:
            return info.status, None, None
        if info.paginated:
            return info.status, self._generated_page(call), None
        if call.operation.method == "GET" or call.body is None:
            key = f"{call.operation.method} {call.path_str}?{_canonical(call.raw_query)}"
            if info.schema.get("type") == "array":
                count = 1 + digest(f"{self.gen.seed}|count|{call.path_str}") % 8
                return (
                    info.status,
                    [self.gen.generate(info.item_schema, f"{key}#{i}") for i in range(count)],
                    None,
                )
            payload = self.gen.generate(info.schema, key)
        else:
            body_hash = hashlib.sha256(dumps(call.body)).hexdigest()[:16]
            payload = self.gen.conform(
                info.schema, call.body, f"{call.operation.method} {call.path_str}|{body_hash}"
            )
        self._apply_path(payload, info.schema, call.path)
        return info.status, payload, None

    def _apply_path(self, payload: Any, schema: dict[str, Any], path: dict[str, Any]) -> None:
        """Echo path parameters into same-named fields (and the last ``*_id`` into ``id``)."""
        if not isinstance(payload, dict):
            return
        props = schema.get("properties") or {}
        for name, value in path.items():
            if name in props and is_valid(props[name], value):
                payload[name] = value
        names = [n for n in path if n != "consumer_id"]
        if names and names[-1].endswith("id") and "id" in props and is_valid(props["id"], path[names[-1]]):
            payload["id"] = path[names[-1]]

    def _generated_page(self, call: Call) -> dict[str, Any]:
        assert call.info.item_schema is not None
        scope = "|".join(f"{k}={v}" for k, v in sorted(call.path.items()))
        total = digest(f"{self.gen.seed}|total|{call.operation.path}|{scope}") % (MAX_GENERATED_TOTAL + 1)
        filters = explicit_filters(call)
        schema = call.info.item_schema

        def item(i: int) -> Any:
            value = self.gen.generate(schema, f"{call.operation.path}|{scope}|{i}")
            return overlay(value, schema, filters)

        return page(call.query, total, item)


def _success(spec: Spec, operation: Operation) -> tuple[int, dict[str, Any] | None]:
    """The documented success status and its JSON schema, resolved: ``{}`` for JSON without a schema,
    None for no JSON answer. ``Operation.response`` has the schema, not the status code."""
    responses = spec.paths[operation.path][operation.method.lower()].get("responses") or {}
    code = next((code for code in sorted(responses) if code.startswith("2")), None)
    if code is None:
        return 200, None
    if operation.response is not None:
        return int(code), spec.resolve(operation.response)
    response = responses[code]
    while isinstance(response, dict) and "$ref" in response:
        response = spec.lookup(response["$ref"])
    json_answer = "application/json" in ((response or {}).get("content") or {})
    return int(code), {} if json_answer else None


def _canonical(query: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(query.items()))
