"""Answer one spec operation: validate, check consumer and connection, then read, create or update.

Per-operation data (validator, response schema, resource role) is compiled on first use and kept.
GET answers are cached by (path, query, state versions), so a hot route costs a dict lookup.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chift_mcp.sandbox import errors
from chift_mcp.sandbox.accounts import TRANSACTION_LOOKUP, AccountRoutes
from chift_mcp.sandbox.data import DataGenerator
from chift_mcp.sandbox.errors import ApiError, dumps
from chift_mcp.sandbox.fakes import digest
from chift_mcp.sandbox.resources import RESOURCES, Resource, reference_target, roles
from chift_mcp.sandbox.routing import Route, Router
from chift_mcp.sandbox.schema_check import is_valid
from chift_mcp.sandbox.state import SandboxState
from chift_mcp.sandbox.validation import Invalid, RequestValidator
from chift_mcp.spec import Spec

PAGE_KEYS = frozenset({"items", "total", "page", "size"})
UNCACHED = frozenset({TRANSACTION_LOOKUP})  # answers that depend on state outside the cache key
MAX_GENERATED_TOTAL = 137


@dataclass
class RouteInfo:
    route: Route
    validator: RequestValidator
    status: int
    schema: dict[str, Any] | None
    paginated: bool
    item_schema: dict[str, Any] | None
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

    route: Route
    info: RouteInfo
    path: dict[str, Any]
    query: dict[str, Any]
    raw_query: Mapping[str, str]
    body: Any
    path_str: str
    consumer_id: str | None
    connection: dict[str, Any] | None


Handler = Callable[[Call], tuple[int, Any, str | None]]


class Engine:
    def __init__(self, spec: Spec, state: SandboxState, router: Router) -> None:
        self.spec = spec
        self.state = state
        self.router = router
        self.gen = DataGenerator(state.config.seed)
        self._info: dict[str, RouteInfo] = {}
        self._roles = roles()
        self._known: dict[tuple[str, str], dict[str, tuple[str, int]]] = {}
        self._special: dict[str, Handler] = AccountRoutes(state, self.gen).handlers()

    # -- compiled per route -------------------------------------------------------------------------

    def info(self, route: Route) -> RouteInfo:
        found = self._info.get(route.operation_id)
        if found is not None:
            return found
        responses = route.operation.get("responses") or {}
        status, schema = 200, None
        for code in sorted(responses):
            if code.startswith("2"):
                status = int(code)
                content = (self.spec.resolve(responses[code]).get("content") or {}).get("application/json")
                schema = content.get("schema", {}) if content is not None else None
                break
        props = (schema or {}).get("properties") or {}
        paginated = set(props) >= PAGE_KEYS
        item_schema = props["items"].get("items") if paginated else None
        if schema is not None and schema.get("type") == "array":
            item_schema = schema.get("items") or {}
        resource, role = self._roles.get(route.operation_id, (None, None))
        info = RouteInfo(
            route=route,
            validator=RequestValidator(self.spec, route.operation),
            status=status,
            schema=schema,
            paginated=paginated,
            item_schema=item_schema,
            resource=resource,
            role=role,
        )
        self._info[route.operation_id] = info
        return info

    # -- entry point --------------------------------------------------------------------------------

    def handle(
        self,
        route: Route,
        raw_path: dict[str, str],
        query: Mapping[str, str],
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        path_str: str,
        use_cache: bool,
    ) -> Outcome:
        info = self.info(route)
        cache_key: tuple[Any, ...] | None = None
        if use_cache and route.method == "GET" and route.operation_id not in UNCACHED:
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
        outcome = self._run(route, info, raw_path, query, headers, body, path_str)
        if cache_key is not None and outcome.status != 500:
            self.state.cache.put(cache_key, (outcome.status, outcome.body or b""))
        return outcome

    def _run(
        self,
        route: Route,
        info: RouteInfo,
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
            if consumer_id is not None and route.template.startswith("/consumers/{consumer_id}"):
                if consumer_id not in self.state.consumers:
                    raise ApiError(404, errors.CONSUMER_NOT_FOUND, "The consumer does not exist")
                if route.api:
                    connection = self._connection(consumer_id, route.api, headers)
                    connection_id = connection["connectionid"]
            call = Call(
                route,
                info,
                checked.path,
                checked.query,
                query,
                checked.body,
                path_str,
                consumer_id,
                connection,
            )
            handler = self._special.get(route.operation_id, self._generic)
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
            handler = {
                "create": self._resource_create,
                "list": self._resource_list,
                "get": self._resource_get,
                "update": self._resource_update,
            }[str(info.role)]
            return handler(call, info.resource, call.consumer_id)
        if info.schema is None:
            return info.status, None, None
        if info.paginated:
            return info.status, self._generated_page(call), None
        if call.route.method == "GET" or call.body is None:
            key = f"{call.route.method} {call.path_str}?{_canonical(call.raw_query)}"
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
                info.schema, call.body, f"{call.route.method} {call.path_str}|{body_hash}"
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
        total = digest(f"{self.gen.seed}|total|{call.route.template}|{scope}") % (MAX_GENERATED_TOTAL + 1)
        filters = self._filters(call)
        schema = call.info.item_schema

        def item(i: int) -> Any:
            value = self.gen.generate(schema, f"{call.route.template}|{scope}|{i}")
            return _overlay(value, schema, filters)

        return _page(call.query, total, item)

    def _filters(self, call: Call) -> dict[str, Any]:
        """Query parameters the client set explicitly (page and size aside): items echo them."""
        return {
            name: value
            for name, value in call.query.items()
            if name in call.raw_query and name not in ("page", "size") and value is not None
        }

    # -- stored resources ---------------------------------------------------------------------------

    def _variants(self, resource: Resource) -> list[str]:
        if not resource.variant:
            return [""]
        route = self.router.by_operation_id[resource.lists[0]]
        for param in self.info(route).validator.params:
            if param.name == resource.variant:
                return [str(v) for v in param.schema.get("enum", [])] or [""]
        return [""]

    def generated_total(self, resource: Resource, consumer_id: str, variant: str) -> int:
        return 101 + digest(f"{self.gen.seed}|{resource.name}|{consumer_id}|{variant}") % 37

    def generated_id(self, resource: Resource, consumer_id: str, variant: str, index: int) -> str:
        return self.gen.uuid(f"{resource.name}|{consumer_id}|{variant}|{index}")

    def _locate(
        self, resource: Resource, consumer_id: str, ident: str
    ) -> tuple[str, int] | dict[str, Any] | None:
        record = self.state.created.get((consumer_id, resource.name), {}).get(ident)
        if record is not None:
            return record
        key = (consumer_id, resource.name)
        known = self._known.get(key)
        if known is None:
            known = {}
            for variant in self._variants(resource):
                for i in range(self.generated_total(resource, consumer_id, variant)):
                    known[self.generated_id(resource, consumer_id, variant, i)] = (variant, i)
            self._known[key] = known
        return known.get(ident)

    def _generated_item(
        self, schema: dict[str, Any], resource: Resource, consumer_id: str, variant: str, index: int
    ) -> Any:
        key = f"{resource.name}|{consumer_id}|{variant}|{index}"
        item = self.gen.generate(schema, key)
        if not isinstance(item, dict):
            return item
        props = schema.get("properties") or {}
        ident = self.generated_id(resource, consumer_id, variant, index)
        if "id" in props and is_valid(props["id"], ident):
            item["id"] = ident
        if (
            resource.variant
            and variant
            and resource.variant in props
            and is_valid(props[resource.variant], variant)
        ):
            item[resource.variant] = variant
        for name in props:  # ids that point at another stored resource resolve there
            target_name = reference_target(resource.name, name, variant)
            target = next((r for r in RESOURCES if r.name == target_name), None)
            if target is not None and is_valid(props[name], "x"):
                total = self.generated_total(target, consumer_id, "")
                item[name] = self.generated_id(target, consumer_id, "", digest(key) % total)
        override = self.state.overrides.get((consumer_id, resource.name), {}).get(ident)
        if override:
            item = self.gen.conform(schema, {**item, **override}, key)
        return item

    def _stored_view(self, schema: dict[str, Any], record: dict[str, Any]) -> Any:
        view = self.gen.conform(schema, record, f"created|{record['id']}")
        props = schema.get("properties") or {}
        if isinstance(view, dict) and "id" in props and is_valid(props["id"], record["id"]):
            view["id"] = record["id"]
        return view

    def _resource_list(self, call: Call, resource: Resource, consumer_id: str) -> tuple[int, Any, str | None]:
        schema = call.info.item_schema or {}
        variant = str(call.path.get(resource.variant, "")) if resource.variant else ""
        generated = self.generated_total(resource, consumer_id, variant)
        created = [
            record
            for record in self.state.created.get((consumer_id, resource.name), {}).values()
            if not resource.variant or not variant or record.get(resource.variant) == variant
        ]
        filters = self._filters(call)

        def item(i: int) -> Any:
            if i < generated:
                return _overlay(
                    self._generated_item(schema, resource, consumer_id, variant, i), schema, filters
                )
            return self._stored_view(schema, created[i - generated])

        return call.info.status, _page(call.query, generated + len(created), item), None

    def _resource_get(self, call: Call, resource: Resource, consumer_id: str) -> tuple[int, Any, str | None]:
        ident = str(call.path.get(resource.id_param, ""))
        found = self._locate(resource, consumer_id, ident)
        schema = call.info.schema or {}
        if found is None:
            raise ApiError(404, resource.not_found, f"The {resource.label} '{ident}' could not be found")
        if isinstance(found, dict):
            return call.info.status, self._stored_view(schema, found), None
        variant, index = found
        return call.info.status, self._generated_item(schema, resource, consumer_id, variant, index), None

    def _resource_create(
        self, call: Call, resource: Resource, consumer_id: str
    ) -> tuple[int, Any, str | None]:
        ident = str(uuid.uuid4())
        body = call.body if isinstance(call.body, dict) else {}
        record: dict[str, Any] = {**body, "id": ident}
        schema = call.info.schema or {}
        payload = self._stored_view(schema, record)
        stored = {**record, **(payload if isinstance(payload, dict) else {}), "id": ident}
        self.state.created.setdefault((consumer_id, resource.name), {})[ident] = stored
        self.state.created_counts[resource.name] += 1
        self.state.bump(consumer_id, resource.name)
        return call.info.status, payload, ident

    def _resource_update(
        self, call: Call, resource: Resource, consumer_id: str
    ) -> tuple[int, Any, str | None]:
        ident = str(call.path.get(resource.id_param, ""))
        found = self._locate(resource, consumer_id, ident)
        if found is None:
            raise ApiError(404, resource.not_found, f"The {resource.label} '{ident}' could not be found")
        patch = {k: v for k, v in (call.body or {}).items() if v is not None}
        schema = call.info.schema or {}
        self.state.bump(consumer_id, resource.name)
        if isinstance(found, dict):
            found.update(patch)
            found["id"] = ident
            return call.info.status, self._stored_view(schema, found), None
        overrides = self.state.overrides.setdefault((consumer_id, resource.name), {})
        overrides[ident] = {**overrides.get(ident, {}), **patch}
        variant, index = found
        return call.info.status, self._generated_item(schema, resource, consumer_id, variant, index), None


def _canonical(query: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(query.items()))


def _page(query: Mapping[str, Any], total: int, item: Callable[[int], Any]) -> dict[str, Any]:
    page = int(query.get("page") or 1)
    size = int(query.get("size") or 50)
    start = (page - 1) * size
    end = min(start + size, total)
    items = [item(i) for i in range(start, end)] if start < total else []
    return {"items": items, "total": total, "page": page, "size": size}


def _overlay(item: Any, schema: dict[str, Any], filters: dict[str, Any]) -> Any:
    """Make a generated item agree with explicit filters (``status=paid`` -> ``item.status == "paid"``)."""
    if not filters or not isinstance(item, dict):
        return item
    props = schema.get("properties") or {}
    for name, value in filters.items():
        if name.startswith("include_") and value == "false":
            field_name = name.removeprefix("include_").removesuffix("_info").removesuffix("_details")
            for candidate in (field_name, field_name + "s", field_name.split("_")[-1]):
                if candidate in props:
                    empty: list[Any] | None = [] if is_valid(props[candidate], []) else None
                    if is_valid(props[candidate], empty):
                        item[candidate] = empty
        elif name in props and is_valid(props[name], value):
            item[name] = value
    return item
