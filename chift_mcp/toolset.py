"""Tool specs (one per operation) and the scope that filters them.

``build_tools(operations)`` turns each :class:`~chift_mcp.operations.Operation` into a frozen
:class:`ToolSpec`: its name, description, compact input schema, annotations and the map that tells
the registry where each argument goes in the HTTP request. A :class:`Scope` (function config,
read-only flag, bound consumer and its active domains; later a token's scope) decides which tools
exist. Filtering happens here, on data, never by parsing tool names at request time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from chift_mcp.errors import ConfigError
from chift_mcp.operations import (
    DOMAINS,
    KIND_ALIASES,
    KINDS,
    UNIFIED_DOMAINS,
    Operation,
)
from chift_mcp.schemas import compact, shorten

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,54}$")
MAX_NAME = 54  # Cursor caps server name + tool name at 60 characters
CONSUMER_ARG = "consumer_id"
ANY_CONSUMER = "*"  # Scope.view's stand-in for the bound consumer
DISCOVERY_DOMAIN = "discovery"
TOOL_MODES = ("tools", "discovery")
Where = Literal["path", "query", "header", "body", "body_field", "page", "shape"]
Handler = Callable[[dict[str, Any], "Scope"], Awaitable[Any]]


@dataclass(frozen=True)
class Arg:
    """Where one tool argument goes in the HTTP request."""

    where: Where
    wire: str  # the name on the wire (path/query/header parameter or body property)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    annotations: dict[str, Any]
    domain: str
    kind: str
    operation: Operation | None = None  # None for local tools (docs search, discovery)
    args: Mapping[str, Arg] = field(default_factory=dict)
    paginated: bool = False
    # A local tool answers in-process: ``await handler(arguments, scope)`` instead of a Chift request.
    handler: Handler | None = field(default=None, compare=False)

    @property
    def read_only(self) -> bool:
        return self.kind == "get"

    @property
    def consumer_scoped(self) -> bool:
        return self.operation is not None and self.operation.consumer_scoped

    def without_consumer(self) -> ToolSpec:
        """This tool with ``consumer_id`` removed from its schema (it is injected instead)."""
        if CONSUMER_ARG not in self.input_schema.get("properties", {}):
            return self
        schema = dict(self.input_schema)
        schema["properties"] = {k: v for k, v in schema["properties"].items() if k != CONSUMER_ARG}
        required = [r for r in schema.get("required", []) if r != CONSUMER_ARG]
        if required:
            schema["required"] = required
        else:
            schema.pop("required", None)
        return replace(self, input_schema=schema)


def local_tool(
    name: str,
    *,
    title: str,
    description: str,
    input_schema: dict[str, Any],
    handler: Handler,
    kind: str = "get",
    domain: str = "local",
    open_world: bool = False,
    hints: Mapping[str, bool] | None = None,
) -> ToolSpec:
    """A tool answered in-process (no Chift endpoint): docs search, discovery. Settings decide
    whether it exists, not the function config; the read-only flag still applies. ``hints``
    overrides the annotations that ``kind`` implies."""
    annotations = {"title": title, **_ANNOTATIONS[kind], "openWorldHint": open_world, **(hints or {})}
    return ToolSpec(
        name=name,
        title=title,
        description=description,
        input_schema=input_schema,
        annotations=annotations,
        domain=domain,
        kind=kind,
        handler=handler,
    )


# --------------------------------------------------------------------------- building


# Parameters shared by many tools whose meaning the server instructions say once (server.py):
# repeated on each of 56 accounting tools, folder_id's sentence would cost ~400 tokens.
_EXPLAINED_ONCE = frozenset({"folder_id"})
_HIDDEN_QUERY = frozenset({"page", "size"})
_ANNOTATIONS = {
    "get": {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": True},
    "create": {
        "readOnlyHint": False,
        "destructiveHint": False,
        "idempotentHint": False,
        "openWorldHint": True,
    },
    "update": {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": True, "openWorldHint": True},
    "delete": {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": True, "openWorldHint": True},
}


def build_tools(operations: Iterable[Operation], *, max_items: int = 1000) -> list[ToolSpec]:
    """One ToolSpec per operation, with unique names."""
    tools: list[ToolSpec] = []
    taken: set[str] = set()
    operations = list(operations)
    all_ids = {op.id for op in operations}
    for op in operations:
        name = tool_name(op, taken)
        taken.add(name)
        schema, args = input_schema(op, max_items=max_items)
        tools.append(
            ToolSpec(
                name=name,
                title=title_of(op),
                description=describe(op, all_ids),
                input_schema=schema,
                annotations={"title": title_of(op), **_ANNOTATIONS[op.kind]},
                domain=op.domain,
                kind=op.kind,
                operation=op,
                args=args,
                paginated=op.paginated,
            )
        )
    return tools


def tool_name(op: Operation, taken: set[str]) -> str:
    """The operationId when clients accept it, else ``domain_kind_resource``, made unique."""
    if NAME_PATTERN.match(op.id) and op.id not in taken:
        return op.id
    segments = [s for s in op.path.split("/") if s and not s.startswith("{")]
    resource = re.sub(r"[^a-zA-Z0-9]+", "_", segments[-1] if segments else "root").strip("_")
    base = f"{op.domain}_{op.kind}_{resource}"[:MAX_NAME]
    name, n = base, 2
    while name in taken:
        suffix = f"_{n}"
        name, n = base[: MAX_NAME - len(suffix)] + suffix, n + 1
    return name


def title_of(op: Operation) -> str:
    return shorten(op.summary or op.id.replace("_", " "), 80) or op.id


# When to use which, for families of near-identical endpoints (read as a model choosing a tool).
_MULTI_PLAN = re.compile(r"_(multi_analytic_plans|multiple_plans|multi_plans|multi_plan)$")
_CHOOSE = {
    "accounting_get_invoices_by_type": "Booked sale/purchase entries; invoices as issued in the invoicing software: invoicing_get_invoices",
    "invoicing_get_invoices": "Invoices as issued in the invoicing software; booked accounting entries: accounting_get_invoices_by_type",
    "accounting_get_folders": "Pass a folder's id as folder_id to the other accounting tools when there are several",
    "accounting_get_outstandings": "Use for what clients owe and what is owed to suppliers (open items)",
    "accounting_create_invoice": "For sale/purchase invoices; other entries: accounting_create_generic_journal_entry",
    "accounting_create_generic_journal_entry": "For any balanced entry, miscellaneous ones included; invoices: accounting_create_invoice, bank/cash: accounting_create_financial_entries",
    "accounting_create_financial_entries": "For bank/cash journals; invoices: accounting_create_invoice",
    "accounting_create_miscellaneous_operation": "Prefer accounting_create_generic_journal_entry",
    "pos_get_orders": "Individual orders; totals per period: pos_get_sales",
    "pos_get_sales": "Totals per period; individual orders: pos_get_orders",
}


def _siblings(op_id: str, all_ids: set[str]) -> str | None:
    """The one-plan sibling of a multi-analytic-plan operation, or the reverse."""
    base = _MULTI_PLAN.sub("", op_id)
    if base != op_id:
        return (
            f"For folders with several analytic plans; with one plan use {base}"
            if base in all_ids
            else ("For folders with several analytic plans")
        )
    variants = [i for i in all_ids if _MULTI_PLAN.sub("", i) == op_id and i != op_id]
    if variants:
        return f"Default analytic plan only; with several plans use {sorted(variants)[0]}"
    return None


_WORDS = re.compile(r"[a-z]+")
_FILLER_WORDS = frozenset(
    """
    a an the of for to in on by one all get retrieve list returns return
    """.split()
)


def describe(op: Operation, all_ids: set[str] | None = None) -> str:
    """What the tool does and returns, in a sentence or two a model can choose by."""
    text = shorten(op.description, 130) if op.description else ""
    summary = shorten(op.summary, 100)
    if text and summary and (not _covers(text, summary) or not text[0].isupper()):
        # "One page of them, the latest changed first" or "payable_type is mandatory...": the
        # description alone does not say what the operation is; lead with the summary.
        text = f"{summary}. {text[0].upper()}{text[1:]}" if text[0].isupper() else f"{summary}. {text}"
    if not text:
        text = summary or op.id.replace("_", " ")
        # A bare summary ("Get Catalog") needs its context to be chosen by.
        tags = [re.sub(r"(?<=[a-z])(?=[A-Z])", " ", t) for t in op.tags]  # "TaxCodes" -> "Tax Codes"
        context = " ".join(dict.fromkeys(t for t in tags if t.lower() not in text.lower()))
        text = f"{text} ({context or op.domain.replace('_', ' ')})"
    if op.deprecated and "deprecated" not in text.lower():
        text = "Deprecated. " + text
    hints = [h for h in (_CHOOSE.get(op.id), _siblings(op.id, all_ids or set())) if h]
    return ". ".join([text.rstrip("."), *hints]) + "."


def _covers(text: str, summary: str) -> bool:
    """Whether ``text`` already says what ``summary`` says (most of its content words appear)."""
    words = {w.rstrip("s") for w in _WORDS.findall(summary.lower()) if w not in _FILLER_WORDS}
    found = {w.rstrip("s") for w in _WORDS.findall(text.lower())}
    return not words or len(words & found) * 2 >= len(words)


def input_schema(op: Operation, *, max_items: int = 1000) -> tuple[dict[str, Any], dict[str, Arg]]:
    """The tool's compact input schema and where each argument goes."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    args: dict[str, Arg] = {}
    for param in op.params:
        if op.paginated and param.location == "query" and param.name in _HIDDEN_QUERY:
            continue
        arg = _arg_name(param.name, param.location)
        prop = compact({**param.schema, "description": param.description}, name=param.name)
        if param.name in _EXPLAINED_ONCE:
            prop.pop("description", None)
        if param.name == CONSUMER_ARG:
            prop = {"type": "string"}
        properties[arg] = prop
        args[arg] = Arg(param.location, param.name)
        if param.required:
            required.append(arg)
    if op.paginated:
        # Out-of-range low values are clamped (limit >= 1, offset >= 0) rather than refused.
        properties["limit"] = {"type": "integer", "maximum": max_items}
        properties["offset"] = {"type": "integer"}
        args["limit"] = Arg("page", "limit")
        args["offset"] = Arg("page", "offset")
    if op.body is not None:
        body = compact(op.body)
        body_props = body.get("properties")
        if body.get("type") == "object" and body_props and not body.get("additionalProperties"):
            body_required = set(body.get("required", [])) if op.body_required else set()
            for key, value in body_props.items():
                arg = key if key not in properties else f"body_{key}"
                properties[arg] = value
                args[arg] = Arg("body_field", key)
                if key in body_required:
                    required.append(arg)
        else:
            properties["body"] = body
            args["body"] = Arg("body", "")
            if op.body_required:
                required.append("body")
    if op.response is not None and "fields" not in properties:
        # Keys to keep in the returned object(s); dotted paths reach nested ones ("partner.name").
        properties["fields"] = {"type": "array", "items": {"type": "string"}}
        args["fields"] = Arg("shape", "fields")
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema, args


def _arg_name(name: str, location: str) -> str:
    if location == "header":
        name = re.sub(r"^x-chift-", "", name.lower())
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


# --------------------------------------------------------------------------- function config

DEFAULT_FUNCTION_CONFIG: dict[str, tuple[str, ...]] = {
    **{domain: KINDS for domain in UNIFIED_DOMAINS},
    "consumers": ("get",),
    "connections": ("get",),
}


def parse_function_config(raw: str | Mapping[str, Any] | None) -> dict[str, frozenset[str]]:
    """Parse and validate a function config: JSON text, a path to a JSON file, or a mapping."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {d: frozenset(k) for d, k in DEFAULT_FUNCTION_CONFIG.items()}
    data: Any = raw
    if isinstance(raw, str):
        text = raw.strip()
        if not text.startswith("{"):
            path = Path(text).expanduser()
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"CHIFT_FUNCTION_CONFIG is neither JSON nor a readable file: {path} ({exc.strerror})"
                ) from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"CHIFT_FUNCTION_CONFIG is not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError('CHIFT_FUNCTION_CONFIG must be a JSON object like {"accounting": ["get"]}')
    config: dict[str, frozenset[str]] = {}
    for domain, kinds in data.items():
        domain = "ecommerce" if domain == "commerce" else domain
        if domain not in DOMAINS:
            raise ConfigError(
                f"CHIFT_FUNCTION_CONFIG: unknown domain {domain!r}; valid domains: {', '.join(DOMAINS)}"
            )
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise ConfigError(f"CHIFT_FUNCTION_CONFIG: {domain!r} must map to a list of kinds")
        normalized = set()
        for kind in kinds:
            kind = KIND_ALIASES.get(kind, kind)
            if kind not in KINDS:
                raise ConfigError(
                    f"CHIFT_FUNCTION_CONFIG: unknown kind {kind!r} for {domain!r}; "
                    f"valid kinds: {', '.join(KINDS)} (add = create)"
                )
            normalized.add(kind)
        config[domain] = frozenset(normalized)
    return config


# --------------------------------------------------------------------------- scope


@dataclass(frozen=True)
class Scope:
    """Which tools exist for a caller.

    ``active_domains`` is the bound consumer's active unified domains, or None when unknown (not
    bound, or the connections could not be fetched): then the function config alone decides.
    ``include``/``exclude`` are explicit tool-name lists (CHIFT_TOOLS, CHIFT_EXCLUDE_TOOLS).
    ``mode`` is ``tools`` (one tool per endpoint) or ``discovery`` (find/describe/call).
    """

    function_config: tuple[tuple[str, frozenset[str]], ...]
    read_only: bool = False
    consumer_id: str | None = None
    active_domains: frozenset[str] | None = field(default=None)
    include: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    mode: str = "tools"

    @classmethod
    def of(
        cls,
        function_config: Mapping[str, frozenset[str]],
        *,
        read_only: bool = False,
        consumer_id: str | None = None,
        active_domains: frozenset[str] | None = None,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        mode: str = "tools",
    ) -> Scope:
        return cls(
            tuple(sorted(function_config.items())),
            read_only,
            consumer_id,
            active_domains,
            frozenset(include) if include is not None else None,
            frozenset(exclude),
            mode,
        )

    def with_mode(self, mode: str) -> Scope:
        return self if mode == self.mode else replace(self, mode=mode)

    @property
    def view(self) -> Scope:
        """What a tool list depends on: this scope with the bound consumer's identity erased (whether
        a consumer is bound matters, which one does not). Caches of tool lists key on it, so callers
        bound to many consumers (an HTTP header each) share one entry instead of growing the cache."""
        if self.consumer_id in (None, ANY_CONSUMER):
            return self
        return replace(self, consumer_id=ANY_CONSUMER)

    def narrowed(
        self,
        *,
        function_config: Mapping[str, Iterable[str]] | None = None,
        read_only: bool = False,
        consumer_id: str | None = None,
    ) -> Scope:
        """This scope as seen by a caller with a narrower grant (an HTTP bearer token); never wider.

        ``function_config`` intersects the kinds of each domain (a domain it leaves out is off);
        ``read_only`` can only turn read-only on; ``consumer_id`` binds an unbound scope to one
        consumer (whose active domains are then unknown) and must equal a bound scope's consumer.
        """
        if consumer_id is not None and self.consumer_id not in (None, consumer_id):
            raise ValueError("a scope bound to one consumer cannot be narrowed to another")
        changes: dict[str, Any] = {}
        if function_config is not None:
            kept = ((d, k & frozenset(function_config.get(d, ()))) for d, k in self.function_config)
            changes["function_config"] = tuple((d, k) for d, k in kept if k)
        if read_only:
            changes["read_only"] = True
        if consumer_id is not None and self.consumer_id is None:
            changes.update(consumer_id=consumer_id, active_domains=None)
        return replace(self, **changes) if changes else self

    def lists(self, tool: ToolSpec) -> bool:
        """Whether ``tools/list`` shows ``tool`` in this scope's mode (calls are checked by refusal)."""
        if tool.domain == DISCOVERY_DOMAIN:
            return self.mode == "discovery"
        if self.mode == "discovery":
            return tool.operation is None  # local tools such as the docs search stay listed
        return True

    @property
    def kinds(self) -> dict[str, frozenset[str]]:
        return dict(self.function_config)

    def refusal(self, tool: ToolSpec) -> str | None:
        """Why ``tool`` is outside this scope, or None when it is allowed."""
        if tool.domain != DISCOVERY_DOMAIN:
            if tool.name in self.exclude:
                return "it is excluded by CHIFT_EXCLUDE_TOOLS"
            if self.include is not None and tool.name not in self.include:
                return "it is not in CHIFT_TOOLS"
        if tool.operation is None:  # local tool: present because settings asked for it
            return "this server is read-only" if self.read_only and tool.kind != "get" else None
        kinds = self.kinds.get(tool.domain)
        if not kinds:
            return f"the {tool.domain} domain is not enabled in the function config"
        if tool.kind not in kinds:
            return f"{tool.kind} tools of {tool.domain} are not enabled in the function config"
        if self.read_only and tool.kind != "get":
            return "this server is read-only"
        if self.consumer_id and not tool.consumer_scoped:
            return "this server is bound to one consumer; account-level tools are off"
        if (
            self.active_domains is not None
            and tool.domain in UNIFIED_DOMAINS
            and tool.domain not in self.active_domains
        ):
            return f"the consumer has no active {tool.domain} connection"
        return None

    def allows(self, tool: ToolSpec) -> bool:
        return self.refusal(tool) is None
