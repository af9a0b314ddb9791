"""The registry: which tools a scope sees, and what calling one does.

``Registry.call(name, arguments, scope)`` checks the scope, validates the arguments against the
published schema (nothing is sent when they are wrong), builds the HTTP request from the tool's
argument map, pages through list endpoints, and shapes the answer (nulls dropped, cut at an item
boundary when too long). Every failure comes back as a :class:`ToolResult` with ``is_error`` set and
a payload from :mod:`chift_mcp.errors`. Transports only convert ToolResults to their wire types.
"""

from __future__ import annotations

import difflib
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from pydantic_core import to_json

from chift_mcp.errors import ArgumentError, ScopeError, ToolError, field_path
from chift_mcp.toolset import CONSUMER_ARG, Scope, ToolSpec

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

logger = logging.getLogger("chift_mcp.calls")

DEFAULT_LIMIT = 50
CHIFT_MAX_PAGE = 100


class Upstream(Protocol):
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        writes: bool | None = None,
    ) -> Any: ...


@dataclass(frozen=True)
class Request:
    """One operation's HTTP request, as built from a tool call's arguments."""

    method: str
    path: str
    query: dict[str, Any]
    headers: dict[str, str]
    body: Any
    writes: bool


@dataclass(frozen=True)
class ToolResult:
    text: str
    structured: dict[str, Any] | None
    is_error: bool = False


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII kept; ``str()`` of what JSON has no type for. pydantic_core's
    encoder (in Rust) writes what ``json.dumps(separators=(",", ":"), ensure_ascii=False)`` writes,
    three to four times faster (floats under 1e-4 aside: ``1e-7``, not ``1e-07``)."""
    return to_json(value, fallback=str).decode()


class Registry:
    def __init__(
        self,
        tools: list[ToolSpec],
        upstream: Upstream,
        *,
        max_items: int = 1000,
        max_result_chars: int = 40_000,
    ) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self.upstream = upstream
        self.max_items = max_items
        self.max_result_chars = max_result_chars
        self._views: dict[Scope, list[ToolSpec]] = {}
        self.version = 0  # bumped when a tool is added: per-scope caches elsewhere key on it
        self._validators: dict[tuple[str, bool], Validator] = {}

    # ------------------------------------------------------------------ listing

    @property
    def all_tools(self) -> list[ToolSpec]:
        return list(self._tools.values())

    def add(self, tool: ToolSpec) -> None:
        """Register a local tool (or replace one of the same name)."""
        self._tools[tool.name] = tool
        self._views.clear()
        self.version += 1
        self._validators = {k: v for k, v in self._validators.items() if k[0] != tool.name}

    def get(self, name: str) -> ToolSpec | None:
        return self._tools.get(name)

    def tools(self, scope: Scope) -> list[ToolSpec]:
        """The tools ``scope`` may see, as published (``consumer_id`` hidden when bound)."""
        view = self._views.get(scope.view)
        if view is None:
            view = [
                self._published(tool, scope)
                for tool in self._tools.values()
                if scope.lists(tool) and scope.allows(tool)
            ]
            self._views[scope.view] = view
        return view

    @staticmethod
    def _published(tool: ToolSpec, scope: Scope) -> ToolSpec:
        return tool.without_consumer() if scope.consumer_id else tool

    # ------------------------------------------------------------------ calling

    async def call(self, name: str, arguments: Mapping[str, Any] | None, scope: Scope) -> ToolResult:
        started = time.perf_counter()
        try:
            tool = self.lookup(name, scope)
            required = set(tool.input_schema.get("required", ()))
            # Some clients send null for every argument they leave unset (OpenAI strict mode).
            args = {k: v for k, v in (arguments or {}).items() if v is not None or k in required}
            if scope.consumer_id and tool.consumer_scoped:
                given = args.pop(CONSUMER_ARG, None)
                if given is not None and given != scope.consumer_id:
                    raise ScopeError(
                        "this server is bound to one consumer; consumer_id cannot be chosen",
                        hint="call the tool again without consumer_id",
                    )
            self.validate(tool, args, bound=bool(scope.consumer_id))
            if scope.consumer_id and tool.consumer_scoped:
                args[CONSUMER_ARG] = scope.consumer_id
            if tool.handler is not None:
                answer = await tool.handler(args, scope)
                result = (
                    answer
                    if isinstance(answer, ToolResult)
                    else self.shape(answer, page=isinstance(answer, list))
                )
            else:
                result = await self._execute(tool, args)
        except ToolError as exc:
            logger.info("%s error %s in %.0f ms", name, exc.code, (time.perf_counter() - started) * 1000)
            payload = exc.payload()
            return ToolResult(dumps(payload), payload, is_error=True)
        logger.info("%s ok in %.0f ms", name, (time.perf_counter() - started) * 1000)
        return result

    def lookup(self, name: str, scope: Scope) -> ToolSpec:
        """The tool ``name`` if ``scope`` may call it; else ScopeError saying why."""
        tool = self._tools.get(name)
        if tool is None:
            close = difflib.get_close_matches(name, [t.name for t in self.tools(scope)], n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "list the tools to see what exists"
            raise ScopeError(f"unknown tool {name!r}", hint=hint)
        refusal = scope.refusal(tool)
        if refusal:
            raise ScopeError(f"{name} is not available: {refusal}", hint="use a tool from the tool list")
        return tool

    def validate(self, tool: ToolSpec, args: Mapping[str, Any], *, bound: bool = False) -> None:
        """Check ``args`` against the tool's published schema; raise ArgumentError naming the field."""
        schema = (tool.without_consumer() if bound else tool).input_schema
        known = schema.get("properties", {})
        unknown = [key for key in args if key not in known]
        if unknown:
            raise ArgumentError(
                f"unknown argument {unknown[0]!r}",
                field=unknown[0],
                hint=f"valid arguments: {', '.join(known) or 'none'}",
            )
        validator = self._validator(tool, schema, bound)
        error = _first_error(validator, args)
        if error is not None:
            missing = _missing_field(error)
            field = missing or field_path(error.absolute_path)
            message = (
                f"missing required argument {missing}"
                if missing
                else f"{field or 'arguments'}: {_message(error)}"
            )
            raise ArgumentError(
                message,
                field=field,
                hint="fix this argument and call again; nothing was sent to Chift",
            )

    def _validator(self, tool: ToolSpec, schema: dict[str, Any], bound: bool) -> Validator:
        key = (tool.name, bound)
        validator = self._validators.get(key)
        if validator is None:
            from jsonschema import Draft202012Validator, FormatChecker  # imported on first call only

            checker = FormatChecker(formats=("date",))
            validator = Draft202012Validator(schema, format_checker=checker)
            self._validators[key] = validator
        return validator

    async def _execute(self, tool: ToolSpec, args: dict[str, Any]) -> ToolResult:
        op = tool.operation
        assert op is not None
        path = op.path
        query: dict[str, Any] = {}
        headers: dict[str, str] = {}
        body: Any = None
        fields: dict[str, Any] = {}
        keep: list[str] | None = None
        for name, value in args.items():
            arg = tool.args[name]
            if arg.where == "path":
                path = path.replace("{" + arg.wire + "}", _path_segment(name, value))
            elif arg.where == "query":
                query[arg.wire] = _wire(value)
            elif arg.where == "header":
                headers[arg.wire] = _header_value(name, value)
            elif arg.where == "body_field":
                fields[arg.wire] = value
            elif arg.where == "body":
                body = value
            elif arg.where == "shape":
                keep = [str(v) for v in value]
        if fields:
            body = {**(body or {}), **fields}
        elif body is None and op.body is not None and op.body_required:
            body = {}
        writes = op.kind != "get"  # a POST that only reads carries no idempotency key
        request = Request(op.method, path, query, headers, body, writes)
        page = tool.paginated or op.returns_list
        if tool.paginated:
            return await self._paged(request, args, keep)
        data = await self.upstream.request(
            op.method,
            path,
            params=query or None,
            json=body,
            request_id=uuid.uuid4().hex if writes else None,
            headers=headers or None,
            writes=writes,
        )
        return self.shape(select(data, keep, page=page) if keep else data, page=page)

    async def _paged(self, request: Request, args: Mapping[str, Any], keep: list[str] | None) -> ToolResult:
        limit = max(1, min(int(args.get("limit", DEFAULT_LIMIT)), self.max_items))
        offset = max(0, int(args.get("offset", 0)))
        if limit <= CHIFT_MAX_PAGE and offset % limit == 0:
            size, page, skip = limit, offset // limit + 1, 0
        else:
            size, page, skip = CHIFT_MAX_PAGE, offset // CHIFT_MAX_PAGE + 1, offset % CHIFT_MAX_PAGE
        items: list[Any] = []
        total: int | None = None
        exhausted = False
        while len(items) < limit:
            data = await self.upstream.request(
                request.method,
                request.path,
                params={**request.query, "page": page, "size": size},
                json=request.body,
                request_id=uuid.uuid4().hex if request.writes else None,
                headers=request.headers or None,
                writes=request.writes,
            )
            batch = list((data or {}).get("items") or []) if isinstance(data, dict) else []
            if isinstance(data, dict) and isinstance(data.get("total"), int):
                total = data["total"]
            items.extend(batch[skip : skip + limit - len(items)])
            skip = 0
            if len(batch) < size or (total is not None and page * size >= total):
                exhausted = True
                break
            page += 1
        consumed = offset + len(items)
        more = consumed < total if total is not None else not exhausted
        result: dict[str, Any] = {"items": items, "total": total, "offset": offset}
        if more:
            result["next_offset"] = consumed
        return self.shape(
            select(result, keep, page=True) if keep else result, page=True, offset=offset, paged=True
        )

    # ------------------------------------------------------------------ shaping

    def shape(self, data: Any, *, page: bool = False, offset: int = 0, paged: bool = False) -> ToolResult:
        """Drop empty values and keep the text under ``max_result_chars``.

        ``page``: the answer is a list (or a page of one), so a long one is cut at an item boundary;
        ``paged``: the tool takes ``offset``, so the note can say where to continue. Each item is
        encoded once; the text is joined from those pieces, whether it is cut or not.
        """
        data = prune(data)
        if isinstance(data, list):
            data = {"items": data, "total": len(data)}
        elif not isinstance(data, dict):
            data = {"result": data} if data is not None else {"result": "done"}
        items = data.get("items")
        if page and isinstance(items, list) and items:
            encoded = [dumps(item) for item in items]
            rest = {k: v for k, v in data.items() if k != "items"}
            text = _page_text(encoded, rest)
            if len(text) <= self.max_result_chars:
                return ToolResult(text, {"items": items, **rest})
            shaped = self._cut_items(rest, items, encoded, offset, paged)
            if shaped is not None:
                return shaped
        else:
            text = dumps(data)
            if len(text) <= self.max_result_chars:
                return ToolResult(text, data)
        cut = text[: self.max_result_chars - 300]
        note = (
            f"[cut: the answer has {len(text)} characters, over the {self.max_result_chars} limit. "
            "Ask for less: fields=[...] keeps only the keys you need; filters (dates, ids) narrow the answer.]"
        )
        return ToolResult(cut + "\n" + note, None)

    def _cut_items(
        self, rest: dict[str, Any], items: list[Any], encoded: list[str], offset: int, paged: bool
    ) -> ToolResult | None:
        """The most items whose text fits, from each item's encoded length."""
        given = rest.get("total")
        total = given if isinstance(given, int) else len(items)
        keep, size = 0, len(_page_text([], self._truncation(rest, 0, total, offset, paged)))
        for piece in encoded:
            size += len(piece) + 1  # the item and its comma
            if size > self.max_result_chars:
                break
            keep += 1
        while keep > 0:  # the note's numbers may be a few digits longer than in the frame
            tail = self._truncation(rest, keep, total, offset, paged)
            text = _page_text(encoded[:keep], tail)
            if len(text) <= self.max_result_chars:
                return ToolResult(text, {"items": items[:keep], **tail})
            keep -= 1
        return None  # not even one item fits: the caller cuts the text and suggests fields

    @staticmethod
    def _truncation(rest: dict[str, Any], keep: int, total: int, offset: int, paged: bool) -> dict[str, Any]:
        """The fields that follow the items in a cut answer: what was kept and how to go on."""
        out = {**rest, "truncated": True}
        narrow = "fields=[...] keeps only the keys you need; filters (dates, ids) narrow the list"
        if paged:
            out["next_offset"] = offset + keep
            out["note"] = (
                f"showing {keep} of {total} items: the full answer is too long for one result. "
                f"Continue with offset={offset + keep}, or ask for less: {narrow}, or a smaller limit."
            )
        else:
            out["note"] = (
                f"showing {keep} of {total} items: the full answer is too long for one result. Ask for less: {narrow}."
            )
        return out


def _page_text(encoded_items: list[str], rest: dict[str, Any]) -> str:
    """``dumps({"items": [...], **rest})`` from items already encoded."""
    tail = dumps(rest)
    return '{"items":[' + ",".join(encoded_items) + "]" + ("," + tail[1:] if len(tail) > 2 else "}")


def select(data: Any, paths: list[str], *, page: bool = False) -> Any:
    """Keep only ``paths`` (dotted for nested keys; through lists) in the returned object, or in
    each item when the answer is a list or a page (``page``).

    Paths that match nothing anywhere are reported in ``fields_not_found`` with the keys that exist.
    """
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
    seen: set[str] = set()
    if page and isinstance(data, dict) and isinstance(data.get("items"), list):
        objects: list[Any] = data["items"]
        out: Any = {**data, "items": [_select(o, tree, seen) for o in objects]}
    elif isinstance(data, list):
        objects = data
        out = {"items": [_select(o, tree, seen) for o in objects], "total": len(data)}
    else:
        objects = [data]
        out = _select(data, tree, seen)
    missing = [p for p in tree if p not in seen]
    if missing and isinstance(out, dict):
        sample = next((o for o in objects if isinstance(o, dict)), {})
        out = {**out, "fields_not_found": missing, "fields_available": sorted(sample)}
    return out


def _select(value: Any, tree: dict[str, Any], seen: set[str] | None = None) -> Any:
    if isinstance(value, list):
        return [_select(v, tree, seen) for v in value]
    if not isinstance(value, dict) or not tree:
        return value
    out = {}
    for key, sub in tree.items():
        if key in value:
            if seen is not None:
                seen.add(key)
            out[key] = _select(value[key], sub) if sub else value[key]
    return out


def prune(value: Any) -> Any:
    """Drop None, empty strings, empty lists and empty objects, recursively.

    Hot path (every item of every result): scalars are never recursed into.
    """
    kind = type(value)
    if kind is dict:
        return _prune_dict(value)
    if kind is list:
        return _prune_list(value)
    return value


def _prune_dict(data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        kind = type(value)
        if kind is dict:
            value = _prune_dict(value)
            if not value:
                continue
        elif kind is list:
            value = _prune_list(value)
            if not value:
                continue
        elif value is None or (kind is str and not value):
            continue
        out[key] = value
    return out


def _prune_list(items: list[Any]) -> list[Any]:
    out = []
    for value in items:
        kind = type(value)
        if kind is dict:
            value = _prune_dict(value)
            if not value:
                continue
        elif kind is list:
            value = _prune_list(value)
            if not value:
                continue
        elif value is None or (kind is str and not value):
            continue
        out.append(value)
    return out


def _path_segment(name: str, value: Any) -> str:
    """A path parameter, percent-encoded; empty, "." and ".." would change the route, so they are refused."""
    text = str(value)
    if text.strip() in ("", ".", ".."):
        raise ArgumentError(
            f"{name}: {text!r} is not a valid id",
            field=name,
            hint="pass the object's id as returned by the list tool; nothing was sent to Chift",
        )
    return quote(text, safe="")


def _header_value(name: str, value: Any) -> str:
    text = str(_wire(value))
    if not all(" " <= ch <= "~" for ch in text):
        raise ArgumentError(
            f"{name}: only printable ASCII is allowed", field=name, hint="nothing was sent to Chift"
        )
    return text


def _wire(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


def _first_error(validator: Validator, args: Mapping[str, Any]) -> Any:
    from jsonschema.exceptions import best_match

    return best_match(validator.iter_errors(dict(args)))


def _missing_field(error: Any) -> str | None:
    if error.validator == "required":
        match = re.match(r"'([^']+)' is a required property", error.message)
        if match:
            prefix = field_path(error.absolute_path)
            return f"{prefix}.{match.group(1)}" if prefix else match.group(1)
    return None


def _message(error: Any) -> str:
    message = str(error.message)
    return message if len(message) <= 300 else message[:297] + "..."
