"""Answer one spec operation: validate, check consumer, connection and folder (``scope``), Chift's
daily rate limit, the GET cache (``cache``), then read, create or update.

Per-operation data (validator, resolved response schema, resource role) is compiled from its
``chift_mcp.openapi.operations.Operation`` on first use and kept. The stored resources are ``store``'s;
consumers and connections are ``accounts``'s; folders are the connection's (``scope``); every other
operation answers with generated data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from chift_mcp.openapi.operations import Operation
from chift_mcp.openapi.spec import Spec
from chift_mcp.sandbox import errors
from chift_mcp.sandbox.accounts import AccountRoutes
from chift_mcp.sandbox.cache import cache_key, force_refresh
from chift_mcp.sandbox.config import connection_api
from chift_mcp.sandbox.data import DataGenerator
from chift_mcp.sandbox.errors import ApiError, dumps
from chift_mcp.sandbox.fakes import digest
from chift_mcp.sandbox.faults import Fault
from chift_mcp.sandbox.resources import Resource, roles
from chift_mcp.sandbox.routing import Router
from chift_mcp.sandbox.schema_check import is_valid
from chift_mcp.sandbox.scope import FOLDER_GET, FOLDER_LIST, choose_connection, choose_folder
from chift_mcp.sandbox.state import SandboxState, iso_utc
from chift_mcp.sandbox.store import ResourceStore, explicit_filters, overlay, page
from chift_mcp.sandbox.validation import Invalid, RequestValidator

PAGE_KEYS = frozenset({"items", "total", "page", "size"})
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
    scope: str = ""  # whose data: the consumer's, a connection's or a folder's (scope.py)


Handler = Callable[[Call], tuple[int, Any, str | None]]


class Engine:
    def __init__(self, spec: Spec, state: SandboxState) -> None:
        self.spec = spec
        self.state = state
        self.gen = DataGenerator(state.config.seed)
        self._info: dict[str, Compiled] = {}
        self._roles = roles()
        self.store = ResourceStore(
            spec, state, self.gen, lambda operation_id: self.router.by_id[operation_id]
        )
        self._special: dict[str, Handler] = AccountRoutes(state, self.gen).handlers()
        self._special[FOLDER_LIST] = self._folders
        self._special[FOLDER_GET] = self._folder

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
        daily_limit: Fault | None = None,
    ) -> Outcome:
        """Answer one request; ``daily_limit``: a daily rate-limit fault that hit it (faults.py)."""
        info = self.info(operation)
        state = self.state
        consumer_id = raw_path.get("consumer_id")
        connection_id = None
        key = None
        try:
            checked = info.validator.validate(raw_path, query, headers, body)
            if isinstance(checked, Invalid):
                raise ApiError(422, checked.error_code, checked.message, checked.detail)
            connection = None
            scope = consumer_id or ""
            if consumer_id is not None and operation.consumer_scoped:
                if consumer_id not in state.consumers:
                    raise ApiError(404, None, errors.CONSUMER_MISSING)
                if info.api:
                    connection = choose_connection(state.connections.get(consumer_id, []), info.api, headers)
                    connection_id = connection["connectionid"]
                    setup = state.setups[connection_id]
                    scope = setup.scope
                    if info.api == "Accounting":
                        scope = choose_folder(setup, operation.id, checked.path, checked.query)
            self._rate_limit(connection, daily_limit)
            if operation.method == "GET" and connection is not None and state.cache.enabled:
                key = cache_key(str(consumer_id), str(connection_id), path_str, query_string)
                hit = None if force_refresh(headers) else state.cache.get(key)
                if hit is not None:
                    return Outcome(hit[0], hit[1], True, consumer_id, connection_id)
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
                scope,
            )
            handler = self._special.get(operation.id, self._generic)
            status, payload, created_id = handler(call)
        except ApiError as exc:
            return Outcome(
                exc.status, dumps(exc.body()), False, consumer_id, connection_id, headers=exc.headers
            )
        body_bytes = None if status == 204 else dumps(payload)
        if key is not None and status < 300:
            state.cache.put(key, status, body_bytes or b"")
        return Outcome(status, body_bytes, True, consumer_id, connection_id, created_id)

    def _rate_limit(self, connection: dict[str, Any] | None, daily_limit: Fault | None) -> None:
        """A connector's daily limit (docs "Rate limits"): no retry, the message says when it resets.

        Invented: the wording, and that the connection stays limited until the reset."""
        now = self.state.now()
        limited = self.state.limited_until
        connection_id = connection["connectionid"] if connection else None
        if daily_limit is not None:
            reset_at = now + (daily_limit.reset_in or _until_midnight(now))
            if connection_id is None:
                raise _daily_error(None, reset_at - now, reset_at, daily_limit.message)
            limited[connection_id] = (reset_at, daily_limit.message or "")
        found = limited.get(connection_id or "")
        if found is None:
            return
        if now >= found[0]:
            del limited[str(connection_id)]
            return
        raise _daily_error(connection, found[0] - now, found[0], found[1])

    # -- folders ------------------------------------------------------------------------------------

    def _folders(self, call: Call) -> tuple[int, Any, str | None]:
        setup = self.state.setups[str((call.connection or {}).get("connectionid"))]
        schema = call.info.item_schema or {}
        return (
            call.info.status,
            [self.gen.conform(schema, f, f"folder|{f['id']}") for f in setup.folders],
            None,
        )

    def _folder(self, call: Call) -> tuple[int, Any, str | None]:
        setup = self.state.setups[str((call.connection or {}).get("connectionid"))]
        found = next(f for f in setup.folders if f["id"] == str(call.path.get("folder_id")))
        return (
            call.info.status,
            self.gen.conform(call.info.schema or {}, found, f"folder|{found['id']}"),
            None,
        )

    # -- generic operations -------------------------------------------------------------------------

    def _generic(self, call: Call) -> tuple[int, Any, str | None]:
        info = call.info
        if info.resource is not None and call.consumer_id is not None:
            return self.store.handle(call, info.resource, str(info.role), call.scope)
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
            payload = self.gen.stored(
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
        if call.scope and call.scope != call.consumer_id:  # another connection's or a folder's data
            scope += f"|{call.scope}"
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


def _until_midnight(now: float) -> float:
    """Seconds from ``now`` to the next midnight UTC."""
    moment = datetime.fromtimestamp(now, UTC)
    midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.timestamp() - now


def _daily_error(
    connection: dict[str, Any] | None, remaining: float, reset_at: float, message: str | None
) -> ApiError:
    """429 for a daily limit: its type and the time left before it resets (wording invented)."""
    minutes = max(1, round(remaining / 60))
    connector = f" ({connection['integration']})" if connection else ""
    text = message or (
        f"The daily rate limit of this connector{connector} has been reached. It resets in "
        f"{minutes // 60} h {minutes % 60:02d} min, at {iso_utc(reset_at)}. Please try again later."
    )
    detail = f"rate limit: daily; resets in {round(remaining)} s, at {iso_utc(reset_at)}"
    return ApiError(429, errors.RATE_LIMIT, text, detail)


def _canonical(query: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(query.items()))
