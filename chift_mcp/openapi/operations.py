"""Operations: what each endpoint of the spec is, in the terms the rest of the server needs.

An :class:`Operation` knows its domain (accounting, pos, consumers, ...), its kind (get, create,
update, delete), its parameters with resolved schemas, its JSON body schema, its success response
schema and whether it pages with ``page``/``size``. It knows nothing of MCP.
"""

from __future__ import annotations

__all__ = [
    "CONNECTION_APIS",
    "DOMAINS",
    "KINDS",
    "KIND_ALIASES",
    "UNIFIED_DOMAINS",
    "Operation",
    "Param",
    "all_operations",
    "domain_of",
    "kind_of",
    "load_operations",
]

from dataclasses import dataclass
from typing import Any, Literal

from chift_mcp.openapi.spec import Spec

UNIFIED_DOMAINS: tuple[str, ...] = (
    "accounting",
    "invoicing",
    "pos",
    "ecommerce",
    "pms",
    "payment",
    "banking",
    "spend_management",
)
ACCOUNT_DOMAINS: tuple[str, ...] = (
    "consumers",
    "connections",
    "datalayer",
    "syncs",
    "webhooks",
    "integrations",
    "datastores",
    "issues",
    "insights",
    "local_agents",
)
DOMAINS: tuple[str, ...] = UNIFIED_DOMAINS + ACCOUNT_DOMAINS
KINDS: tuple[str, ...] = ("get", "create", "update", "delete")
KIND_ALIASES: dict[str, str] = {"add": "create"}

# A connection's ``api`` field -> the domain it serves.
CONNECTION_APIS: dict[str, str] = {
    "Accounting": "accounting",
    "Invoicing": "invoicing",
    "Point of Sale": "pos",
    "eCommerce": "ecommerce",
    "Property Management System": "pms",
    "Payment": "payment",
    "Banking": "banking",
    "Spend Management": "spend_management",
}

# Path segment (after /consumers/{consumer_id}/ or at the root) -> domain.
_SEGMENT_DOMAINS: dict[str, str] = {
    "commerce": "ecommerce",
    "datastore": "datastores",
    "local-agents": "local_agents",
}
NEVER_TOOLS = frozenset({"/token", "/mcp-token"})
CONSUMER_PREFIX = "/consumers/{consumer_id}"
_HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# POST endpoints whose verb says they only read or only change state.
_READ_VERBS = frozenset({"get", "query", "search", "list", "export"})
_UPDATE_VERBS = frozenset({"update", "enable", "disable", "refresh", "mark", "set"})

Location = Literal["path", "query", "header"]


@dataclass(frozen=True)
class Param:
    """One path, query or header parameter of an operation, as the spec declares it."""

    name: str  # the name on the wire
    location: Location  # where it goes: path, query or header
    required: bool  # the spec marks it required (path parameters always are)
    schema: dict[str, Any]  # its JSON schema, $refs not resolved
    description: str = ""  # the spec's description, verbatim


@dataclass(frozen=True)
class Operation:
    """One endpoint of Chift's spec, read as data: what the factory turns into a tool and what the
    registry turns into a request. Knows nothing of tools, callers or doors."""

    id: str  # the spec's operationId (the official server's tool name)
    method: str  # upper case
    path: str  # the path template, e.g. "/consumers/{consumer_id}/accounting/clients"
    domain: str  # accounting, invoicing, pos, ecommerce, ...; account-level ones too (consumers, syncs, ...)
    kind: str  # get, create, update or delete (a POST that only reads is "get")
    summary: str  # the spec's summary
    description: str  # the spec's description
    tags: tuple[str, ...]  # the spec's tags
    params: tuple[Param, ...]  # path, query and header parameters, in the spec's order
    body: dict[str, Any] | None = None  # the JSON request body's schema, $refs not resolved
    body_required: bool = False  # the spec marks the body required
    response: dict[str, Any] | None = None  # the 2xx JSON schema, $refs not resolved
    paginated: bool = False
    deprecated: bool = False
    returns: str = ""  # what a success answer holds, in a line: "page of {id, name, ...}"
    returns_list: bool = False  # the answer is a list, or a page {items, total} of them

    @property
    def consumer_scoped(self) -> bool:
        """True when the path is under ``/consumers/{consumer_id}``: one end customer's data."""
        return self.path == CONSUMER_PREFIX or self.path.startswith(CONSUMER_PREFIX + "/")


def domain_of(path: str) -> str | None:
    """The domain a path belongs to, or None for paths that are never tools."""
    if path in NEVER_TOOLS:
        return None
    parts = [p for p in path.split("/") if p]
    if path.startswith(CONSUMER_PREFIX + "/"):
        segment = parts[2]
        if segment == "connections" and "datalayer" in path:
            return "datalayer"
    elif parts and parts[0] == "consumers":
        return "consumers"
    else:
        segment = parts[0] if parts else ""
    return _SEGMENT_DOMAINS.get(segment, segment)


def kind_of(method: str, operation_id: str, domain: str) -> str:
    method = method.lower()
    if method == "get":
        return "get"
    if method == "delete":
        return "delete"
    if method in ("put", "patch"):
        return "update"
    verbs = _verbs(operation_id, domain)
    if verbs & _READ_VERBS and not verbs & {"create", "post", "add"}:
        return "get"
    if verbs & _UPDATE_VERBS:
        return "update"
    return "create"


def _verbs(operation_id: str, domain: str) -> set[str]:
    words = operation_id.lower().split("_")
    # The first word after the domain prefix is the verb (accounting_get_x, agentic_syncs_update_x).
    prefix = set(domain.split("_")) | {"agentic", "datalayer", "syncs"}
    rest = [w for w in words if w not in prefix]
    return set(rest[:1])


def load_operations(spec: Spec) -> list[Operation]:
    """Every operation in the spec that may become a tool, in spec order."""
    operations: list[Operation] = []
    for path, item in spec.paths.items():
        domain = domain_of(path)
        if domain is None:
            continue
        shared = item.get("parameters", [])
        for method in _HTTP_METHODS:
            raw = item.get(method)
            if raw is None:
                continue
            operations.append(_operation(spec, path, method, raw, domain, shared))
    return operations


def all_operations(spec: Spec) -> list[Operation]:
    """Every operation in the spec, in spec order: those of ``load_operations`` and the token endpoints
    (``/token``, ``/mcp-token``, domain ``"token"``) that are never tools but that the sandbox serves."""
    operations: list[Operation] = []
    for path, item in spec.paths.items():
        domain = domain_of(path) or "token"
        shared = item.get("parameters", [])
        for method in _HTTP_METHODS:
            raw = item.get(method)
            if raw is not None:
                operations.append(_operation(spec, path, method, raw, domain, shared))
    return operations


def _operation(
    spec: Spec, path: str, method: str, raw: dict[str, Any], domain: str, shared: list[Any]
) -> Operation:
    params: dict[tuple[str, str], Param] = {}
    for p in [*shared, *raw.get("parameters", [])]:
        p = spec.resolve(p)
        if p.get("in") not in ("path", "query", "header"):
            continue
        schema = spec.resolve(p.get("schema", {}))
        params[(p["in"], p["name"])] = Param(
            name=p["name"],
            location=p["in"],
            required=bool(p.get("required")) or p["in"] == "path",
            schema=schema,
            description=(p.get("description") or schema.get("description") or "").strip(),
        )
    body, body_required = None, False
    request_body = spec.resolve(raw.get("requestBody"))
    if request_body:
        content = request_body.get("content", {})
        media: dict[str, Any] = content.get("application/json") or next(iter(content.values()), {})
        body = spec.resolve(media.get("schema")) or {"type": "object"}
        body_required = bool(request_body.get("required"))
    response = _success_schema(spec, raw.get("responses", {}))
    names = {name for (loc, name) in params if loc == "query"}
    props = _shallow(spec, response).get("properties", {})
    paginated = {"page", "size"} <= names and "items" in props
    shape = _shallow(spec, response)
    # A list, or Chift's page object {items, total, page, size} (an order's {items, total} is not one).
    returns_list = (
        paginated or shape.get("type") == "array" or {"items", "total", "page", "size"} <= set(props)
    )
    operation_id = raw.get("operationId") or f"{method}_{path}"
    return Operation(
        id=operation_id,
        method=method.upper(),
        path=path,
        domain=domain,
        kind=kind_of(method, operation_id, domain),
        summary=(raw.get("summary") or "").strip(),
        description=(raw.get("description") or "").strip(),
        tags=tuple(raw.get("tags", [])),
        params=tuple(params.values()),
        body=body,
        body_required=body_required,
        response=response,
        paginated=paginated,
        deprecated=bool(raw.get("deprecated")),
        returns=_returns(spec, response, paginated),
        returns_list=returns_list,
    )


def _success_schema(spec: Spec, responses: dict[str, Any]) -> dict[str, Any] | None:
    for code in sorted(responses):
        if code.startswith("2"):
            content = _shallow(spec, responses[code]).get("content", {})
            media = content.get("application/json")
            if media and "schema" in media:
                schema: dict[str, Any] = media["schema"]
                return schema
            return None
    return None


def _returns(spec: Spec, response: dict[str, Any] | None, paginated: bool) -> str:
    """A one-line shape of the success answer, from the top level of its schema (cheap: no full resolve)."""
    if response is None:
        return "nothing (success status only)"
    schema = _shallow(spec, response)
    if paginated:
        item = _shallow(spec, schema.get("properties", {}).get("items", {}).get("items"))
        return f"page {{items, total, next_offset}}; each item {_fields(spec, item)}"
    if schema.get("type") == "array" or ("items" in schema and "properties" not in schema):
        return f"list; each item {_fields(spec, _shallow(spec, schema.get('items')))}"
    return f"object {_fields(spec, schema)}"


def _fields(spec: Spec, schema: dict[str, Any]) -> str:
    for member in schema.get("anyOf", []):  # nullable or union: describe the first object member
        member = _shallow(spec, member)
        if member.get("properties"):
            schema = member
            break
    names = list(schema.get("properties", {}))
    if not names:
        return "(free-form JSON)"
    shown = ", ".join(names[:24])
    return "{" + shown + (", ..." if len(names) > 24 else "") + "}"


def _shallow(spec: Spec, node: dict[str, Any] | None) -> dict[str, Any]:
    """Follow top-level ``$ref`` pointers only: enough to read a response's shape cheaply."""
    while isinstance(node, dict) and "$ref" in node:
        node = spec.lookup(node["$ref"])
    return node or {}
