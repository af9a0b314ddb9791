"""The resources the sandbox stores (``resources.RESOURCES``): read back, created and updated.

A collection is a stable number of generated items (101-137 per scope: a consumer's connection, or
one of its folders; so that paging past 100 is testable) followed by the objects created through the
API, in creation order. An update of a generated item is kept as an override on top of it.

A created object is what the client sent, reshaped to the answer's schema (``DataGenerator.stored``):
fields it did not send are null or their default, never made up (a connector returns what it stored;
docs ``connectors/accounting/sevdesk``: values a system does not need are ignored), plus what the
server makes: ``id`` and the time stamps (``SERVER_TIMES``). An unknown id is the 404 of the spec's
example for the operation (``ERROR_PARTNER_NOT_FOUND``...).

Also the helpers every list answer shares: ``page`` and the echo of the filters a client set
(``explicit_filters``, ``overlay``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from chift_mcp.openapi.operations import Operation
from chift_mcp.openapi.spec import Spec
from chift_mcp.sandbox.data import DataGenerator
from chift_mcp.sandbox.errors import ApiError
from chift_mcp.sandbox.fakes import digest
from chift_mcp.sandbox.resources import RESOURCES, Resource, reference_target
from chift_mcp.sandbox.schema_check import is_valid
from chift_mcp.sandbox.state import SandboxState, iso_utc

if TYPE_CHECKING:
    from chift_mcp.sandbox.engine import Call

Answer = tuple[int, Any, str | None]  # (status, payload, created id)
SERVER_TIMES = ("created_on", "last_updated_on", "updated_on")  # set by the server on create/update


class ResourceStore:
    def __init__(
        self,
        spec: Spec,
        state: SandboxState,
        gen: DataGenerator,
        operation: Callable[[str], Operation],
    ) -> None:
        self.spec = spec
        self.state = state
        self.gen = gen
        self._operation = operation  # operationId -> Operation (the variants of a collection)
        self._known: dict[tuple[str, str], dict[str, tuple[str, int]]] = {}

    def handle(self, call: Call, resource: Resource, role: str, scope: str) -> Answer:
        handler = {"create": self._create, "list": self._list, "get": self._get, "update": self._update}[role]
        return handler(call, resource, scope)

    def _variants(self, resource: Resource) -> list[str]:
        if not resource.variant:
            return [""]
        for param in self._operation(resource.lists[0]).params:
            if param.name == resource.variant:
                return [str(v) for v in param.schema.get("enum", [])] or [""]
        return [""]

    def generated_total(self, resource: Resource, scope: str, variant: str) -> int:
        return 101 + digest(f"{self.gen.seed}|{resource.name}|{scope}|{variant}") % 37

    def generated_id(self, resource: Resource, scope: str, variant: str, index: int) -> str:
        return self.gen.uuid(f"{resource.name}|{scope}|{variant}|{index}")

    def _locate(self, resource: Resource, scope: str, ident: str) -> tuple[str, int] | dict[str, Any] | None:
        record = self.state.created.get((scope, resource.name), {}).get(ident)
        if record is not None:
            return record
        key = (scope, resource.name)
        known = self._known.get(key)
        if known is None:
            known = {}
            for variant in self._variants(resource):
                for i in range(self.generated_total(resource, scope, variant)):
                    known[self.generated_id(resource, scope, variant, i)] = (variant, i)
            self._known[key] = known
        return known.get(ident)

    def _generated_item(
        self, schema: dict[str, Any], resource: Resource, scope: str, variant: str, index: int
    ) -> Any:
        key = f"{resource.name}|{scope}|{variant}|{index}"
        item = self.gen.generate(schema, key)
        if not isinstance(item, dict):
            return item
        props = schema.get("properties") or {}
        ident = self.generated_id(resource, scope, variant, index)
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
                total = self.generated_total(target, scope, "")
                item[name] = self.generated_id(target, scope, "", digest(key) % total)
        override = self.state.overrides.get((scope, resource.name), {}).get(ident)
        if override:
            item = self.gen.conform(schema, {**item, **override}, key)
        return item

    def _stored_view(self, schema: dict[str, Any], record: dict[str, Any]) -> Any:
        view = self.gen.stored(schema, record, f"created|{record['id']}")
        props = schema.get("properties") or {}
        if isinstance(view, dict) and "id" in props and is_valid(props["id"], record["id"]):
            view["id"] = record["id"]
        return view

    def _list(self, call: Call, resource: Resource, scope: str) -> Answer:
        schema = call.info.item_schema or {}
        variant = str(call.path.get(resource.variant, "")) if resource.variant else ""
        generated = self.generated_total(resource, scope, variant)
        created = [
            record
            for record in self.state.created.get((scope, resource.name), {}).values()
            if not resource.variant or not variant or record.get(resource.variant) == variant
        ]
        filters = explicit_filters(call)

        def item(i: int) -> Any:
            if i < generated:
                return overlay(self._generated_item(schema, resource, scope, variant, i), schema, filters)
            return self._stored_view(schema, created[i - generated])

        return call.info.status, page(call.query, generated + len(created), item), None

    def _get(self, call: Call, resource: Resource, scope: str) -> Answer:
        ident = str(call.path.get(resource.id_param, ""))
        found = self._locate(resource, scope, ident)
        schema = call.info.schema or {}
        if found is None:
            raise self._not_found(call, resource, ident)
        if isinstance(found, dict):
            return call.info.status, self._stored_view(schema, found), None
        variant, index = found
        return call.info.status, self._generated_item(schema, resource, scope, variant, index), None

    def _create(self, call: Call, resource: Resource, scope: str) -> Answer:
        ident = str(uuid.uuid4())
        body = call.body if isinstance(call.body, dict) else {}
        schema = call.info.schema or {}
        now = iso_utc(self.state.now())
        made = {name: now for name in SERVER_TIMES if name in (schema.get("properties") or {})}
        record: dict[str, Any] = {**body, **made, "id": ident}
        payload = self._stored_view(schema, record)
        stored = {**record, **(payload if isinstance(payload, dict) else {}), "id": ident}
        self.state.created.setdefault((scope, resource.name), {})[ident] = stored
        self.state.created_counts[resource.name] += 1
        return call.info.status, payload, ident

    def _update(self, call: Call, resource: Resource, scope: str) -> Answer:
        ident = str(call.path.get(resource.id_param, ""))
        found = self._locate(resource, scope, ident)
        if found is None:
            raise self._not_found(call, resource, ident)
        patch = {k: v for k, v in (call.body or {}).items() if v is not None}
        schema = call.info.schema or {}
        if "last_updated_on" in (schema.get("properties") or {}):
            patch["last_updated_on"] = iso_utc(self.state.now())
        if isinstance(found, dict):
            found.update(patch)
            found["id"] = ident
            return call.info.status, self._stored_view(schema, found), None
        overrides = self.state.overrides.setdefault((scope, resource.name), {})
        overrides[ident] = {**overrides.get(ident, {}), **patch}
        variant, index = found
        return call.info.status, self._generated_item(schema, resource, scope, variant, index), None

    def _not_found(self, call: Call, resource: Resource, ident: str) -> ApiError:
        """The 404 of the operation's spec example (the one naming the id), else the resource's."""
        code, message = not_found_example(self._operation_doc(call.operation), resource.label) or (
            resource.not_found or ("ERROR_UNEXPECTED", f"The {resource.label} doesn't exist.")
        )
        return ApiError(404, code, _fill(message, ident, resource.label))

    def _operation_doc(self, operation: Operation) -> dict[str, Any]:
        return self.spec.paths[operation.path][operation.method.lower()]


def not_found_example(operation: dict[str, Any], label: str) -> tuple[str, str] | None:
    """(error_code, message template) of the operation's 404 example, preferring one that names the id."""
    content = (((operation.get("responses") or {}).get("404") or {}).get("content") or {}).get(
        "application/json"
    ) or {}
    examples = (
        [content["example"]]
        if "example" in content
        else [e.get("value") for e in (content.get("examples") or {}).values()]
    )
    usable = [e for e in examples if isinstance(e, dict) and e.get("error_code") and e.get("message")]
    if not usable:
        return None
    named = [e for e in usable if "'${" in e["message"] and "partner_type" not in e["message"]]
    chosen = (named or usable)[0]
    return str(chosen["error_code"]), str(chosen["message"])


def _fill(template: str, ident: str, label: str) -> str:
    """``'${invoice_id}'`` -> the id; ``${partner_type}`` -> the resource's label."""
    out = template.replace("${partner_type}", label)
    start = out.find("${")
    while start != -1:
        end = out.find("}", start)
        if end == -1:
            break
        out = out[:start] + ident + out[end + 1 :]
        start = out.find("${")
    return out


def page(query: Mapping[str, Any], total: int, item: Callable[[int], Any]) -> dict[str, Any]:
    page = int(query.get("page") or 1)
    size = int(query.get("size") or 50)
    start = (page - 1) * size
    end = min(start + size, total)
    items = [item(i) for i in range(start, end)] if start < total else []
    return {"items": items, "total": total, "page": page, "size": size}


def overlay(item: Any, schema: dict[str, Any], filters: dict[str, Any]) -> Any:
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


def explicit_filters(call: Call) -> dict[str, Any]:
    """Query parameters the client set explicitly (page and size aside): items echo them."""
    return {
        name: value
        for name, value in call.query.items()
        if name in call.raw_query and name not in ("page", "size") and value is not None
    }
