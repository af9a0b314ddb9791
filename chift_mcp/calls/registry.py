"""The registry: what calling a tool does.

``Registry.call(name, arguments, access)`` finds the tool in the caller's view of the inventory (or
the reason they may not call it), validates the arguments against the schema that caller was shown
(nothing is sent when they are wrong), binds the consumer, then either runs a local tool's handler
or builds the HTTP request from the tool's argument map, pages through list endpoints and shapes the
answer (:mod:`chift_mcp.calls.shaping`). Every failure comes back as a :class:`ToolResult` with
``is_error`` set and a payload from :mod:`chift_mcp.errors`. Doors only convert ToolResults to their
wire types.
"""

from __future__ import annotations

__all__ = ["Registry"]

import logging
import math
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, unquote, urlencode

from chift_mcp.calls.connections import CONNECTION_HEADER, SEVERAL_CONNECTIONS, list_connections
from chift_mcp.calls.shaping import select, shape
from chift_mcp.errors import AccessDenied, ArgumentError, ChiftAPIError, ToolError, UpstreamError, field_path
from chift_mcp.tools.definition import CONNECTION_ARG, CONSUMER_ARG, ToolSpec
from chift_mcp.tools.inventory import Inventory, View
from chift_mcp.tools.result import ToolResult, dumps

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

    from chift_mcp.tools.access import Access

logger = logging.getLogger("chift_mcp.calls")

DEFAULT_LIMIT = 50
CHIFT_MAX_PAGE = 100
MAX_OFFSET = 10_000_000  # items: far past any list, short of page numbers no server expects
MAX_URL = 8000  # characters of path + query; proxies and servers commonly refuse longer request lines
_NOTHING_SENT = "fix this argument and call again; nothing was sent to Chift"
# Path ids that a proxy decoding %2F or collapsing dot segments would turn into another route.
_UNSAFE_SEGMENT = re.compile(r"[/\\]|^\.\.?$")


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
    keep: list[str] | None  # the ``fields`` to keep in the answer


@dataclass(frozen=True)
class _LocalCall:
    """What a local tool's handler gets (``toolspec.LocalCall``)."""

    registry: Registry
    access: Access
    view: View

    async def call_operation(
        self, name: str, arguments: Mapping[str, Any], *, max_chars: int | None = None
    ) -> ToolResult:
        """Call the endpoint tool ``name`` with this caller's access: same validation, scope and
        errors as a direct call; a local tool's name is refused. ``max_chars`` replaces the size cap
        (a program reads the whole answer; only what reaches the model is capped)."""
        try:
            self.view.operation(name)
        except ToolError as exc:
            return _error_result(exc)
        return await self.registry.call(name, arguments, self.access, max_chars=max_chars)


class Registry:
    def __init__(
        self,
        inventory: Inventory,
        upstream: Upstream | None,
        *,
        max_items: int = 1000,
        max_result_chars: int = 40_000,
    ) -> None:
        self.inventory = inventory
        self.upstream = upstream
        self.max_items = max_items
        self.max_result_chars = max_result_chars
        self._validators: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Validator] = {}

    def view(self, access: Access) -> View:
        return self.inventory.view(access)

    # ------------------------------------------------------------------ calling

    async def call(
        self,
        name: str,
        arguments: Mapping[str, Any] | None,
        access: Access,
        *,
        max_chars: int | None = None,
    ) -> ToolResult:
        started = time.perf_counter()
        try:
            view = self.inventory.view(access)
            tool = view.lookup(name)
            args = self._bind(tool, arguments or {}, access)
            if tool.handler is not None:
                answer = await tool.handler(args, _LocalCall(self, access, view))
                result = (
                    answer
                    if isinstance(answer, ToolResult)
                    else self.shape(answer, page=isinstance(answer, list))
                )
            else:
                result = await self._execute(tool, args, max_chars or self.max_result_chars)
        except ToolError as exc:
            logger.info("%s error %s in %.0f ms", name, exc.code, (time.perf_counter() - started) * 1000)
            return _error_result(exc)
        logger.info("%s ok in %.0f ms", name, (time.perf_counter() - started) * 1000)
        return result

    def _bind(self, tool: ToolSpec, arguments: Mapping[str, Any], access: Access) -> dict[str, Any]:
        """The validated arguments, with the bound consumer put in."""
        # null is validated like any value: no published schema allows it, and taking it for "unset"
        # answered the default page to a "limit": null the caller meant as a number (the Inspector
        # sends null for a number field it cannot read). The refusal says to leave the argument out.
        args = dict(arguments)
        bound = access.consumer_id is not None and tool.consumer_scoped
        if bound:
            given = args.pop(CONSUMER_ARG, None)
            if given is not None and given != access.consumer_id:
                raise AccessDenied(
                    "this server is bound to one consumer; consumer_id cannot be chosen",
                    hint="call the tool again without consumer_id",
                )
        # connection_id is listed only where the view knows it matters, and accepted on every tool of
        # a connection's API: an error answer may ask for it where the view could not know.
        unlisted = CONNECTION_ARG not in tool.input_schema.get("properties", {})
        connection = args.pop(CONNECTION_ARG, None) if unlisted and tool.takes_connection else None
        self.validate(tool, args)
        if connection is not None:
            if not isinstance(connection, str) or not 0 < len(connection) <= 255:
                raise ArgumentError(
                    "connection_id: must be a connection id (a string)",
                    field=CONNECTION_ARG,
                    hint=_NOTHING_SENT,
                )
            args[CONNECTION_ARG] = connection
        if bound:
            args[CONSUMER_ARG] = access.consumer_id
        return args

    def validate(self, tool: ToolSpec, args: Mapping[str, Any]) -> None:
        """Check ``args`` against the schema the caller was shown; raise ArgumentError naming the field."""
        schema = tool.input_schema
        known = schema.get("properties", {})
        unknown = [key for key in args if key not in known]
        if unknown:
            raise ArgumentError(
                f"unknown argument {unknown[0]!r}",
                field=unknown[0],
                hint=f"valid arguments: {', '.join(known) or 'none'}",
            )
        where = _non_finite(args)
        if where is not None:
            raise ArgumentError(
                f"{where}: not a finite number (NaN, Infinity and out-of-range values are refused)",
                field=where,
                hint=_NOTHING_SENT,
            )
        error = _first_error(self._validator(tool), args)
        if error is not None:
            missing = _missing_field(error)
            field = missing or field_path(error.absolute_path)
            message = (
                f"missing required argument {missing}"
                if missing
                else f"{field or 'arguments'}: {_message(error)}"
            )
            raise ArgumentError(message, field=field, hint=_NOTHING_SENT)

    def _validator(self, tool: ToolSpec) -> Validator:
        # One tool is shown with different schemas (consumer_id hidden for a bound caller, connection_id
        # listed where the consumer has several connections): key on the schema this caller was shown.
        schema = tool.input_schema
        key = (tool.name, tuple(schema.get("properties", {})), tuple(schema.get("required", ())))
        validator = self._validators.get(key)
        if validator is None:
            from jsonschema import Draft202012Validator, FormatChecker  # imported on first call only

            checker = FormatChecker(formats=("date",))
            validator = Draft202012Validator(schema, format_checker=checker)
            self._validators[key] = validator
        return validator

    def shape(self, data: Any, *, page: bool = False, offset: int = 0, paged: bool = False) -> ToolResult:
        return shape(data, max_chars=self.max_result_chars, page=page, offset=offset, paged=paged)

    # ------------------------------------------------------------------ requests

    async def _execute(self, tool: ToolSpec, args: dict[str, Any], max_chars: int) -> ToolResult:
        if self.upstream is None:
            raise ToolError(
                "this server has no Chift client", hint="run it with Chift credentials or --sandbox"
            )
        request = build_request(tool, args)
        try:
            return await self._request(tool, request, args, max_chars)
        except ChiftAPIError as exc:
            if exc.error_code == SEVERAL_CONNECTIONS and tool.takes_connection:
                await list_connections(self.upstream, exc, tool, args)
            raise
        except UpstreamError as exc:  # a lost write's lookup needs the connection: fill in the chosen one
            chosen = args.get(CONNECTION_ARG)
            if chosen and exc.hint:
                exc.hint = exc.hint.replace("{connection_id}", quote(str(chosen), safe=""))
            raise

    async def _request(
        self, tool: ToolSpec, request: Request, args: Mapping[str, Any], max_chars: int
    ) -> ToolResult:
        assert self.upstream is not None
        op = tool.operation
        assert op is not None
        if tool.paginated:
            return await self._paged(request, args, max_chars)
        page = op.returns_list
        data = await self.upstream.request(
            request.method,
            request.path,
            params=request.query or None,
            json=request.body,
            request_id=uuid.uuid4().hex if request.writes else None,
            headers=request.headers or None,
            writes=request.writes,
        )
        data = select(data, request.keep, page=page) if request.keep else data
        return shape(data, max_chars=max_chars, page=page)

    async def _paged(self, request: Request, args: Mapping[str, Any], max_chars: int) -> ToolResult:
        assert self.upstream is not None
        limit = max(1, min(int(args.get("limit", DEFAULT_LIMIT)), self.max_items))
        offset = max(0, int(args.get("offset", 0)))
        if offset > MAX_OFFSET:
            raise ArgumentError(
                f"offset: {offset:.3g} is past any list Chift holds (at most {MAX_OFFSET})",
                field="offset",
                hint="continue from the next_offset a previous page gave; nothing was sent to Chift",
            )
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
        keep = request.keep
        return shape(
            select(result, keep, page=True) if keep else result,
            max_chars=max_chars,
            page=True,
            offset=offset,
            paged=True,
        )


def build_request(tool: ToolSpec, args: Mapping[str, Any]) -> Request:
    """The HTTP request for validated ``args``, from the tool's argument map."""
    op = tool.operation
    assert op is not None
    path = op.path
    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    body: Any = None
    fields: dict[str, Any] = {}
    keep: list[str] | None = None
    for name, value in args.items():
        if name == CONNECTION_ARG and name not in tool.args:
            headers[CONNECTION_HEADER] = _header_value(name, value)
            continue
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
    _check_url_length(tool, path, query)
    # A POST that only reads carries no idempotency key.
    return Request(op.method, path, query, headers, body, op.kind != "get", keep)


def _error_result(exc: ToolError) -> ToolResult:
    payload = exc.payload()
    return ToolResult(dumps(payload), payload, is_error=True)


def _path_segment(name: str, value: Any) -> str:
    """A path parameter, percent-encoded. Empty, ``.``, ``..``, or holding ``/`` or ``\\`` (also
    percent-encoded): refused, since a proxy that decodes ``%2F`` or collapses dot segments would
    send the request to another route."""
    text = str(value)
    decoded = text
    for _ in range(3):  # %252F -> %2F -> /
        decoded, previous = unquote(decoded), decoded
        if decoded == previous:
            break
    if not text.strip() or _UNSAFE_SEGMENT.search(decoded.strip()):
        raise ArgumentError(
            f"{name}: {text[:80]!r} is not a valid id",
            field=name,
            hint="pass the object's id as returned by the list tool; nothing was sent to Chift",
        )
    return quote(text, safe="")


def _check_url_length(tool: ToolSpec, path: str, query: Mapping[str, Any]) -> None:
    length = len(path) + len(urlencode({k: v for k, v in query.items() if v is not None}, doseq=True))
    if length <= MAX_URL:
        return
    wire_to_arg = {a.wire: n for n, a in tool.args.items() if a.where == "query"}
    longest = max(query, key=lambda k: len(str(query[k])), default=None)
    name = wire_to_arg.get(longest or "", longest or "arguments")
    raise ArgumentError(
        f"{name}: the request would be {length} characters long, over the {MAX_URL} a URL may have",
        field=name,
        hint="send a shorter value (fewer ids, a shorter search); nothing was sent to Chift",
    )


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


def _non_finite(value: Any, where: str = "") -> str | None:
    """The path of the first NaN or infinite number in ``value`` (JSON has neither), or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (where or "arguments")
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _non_finite(item, f"{where}.{key}" if where else str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _non_finite(item, f"{where}[{i}]")
            if found is not None:
                return found
    return None


def _first_error(validator: Validator, args: Mapping[str, Any]) -> Any:
    from jsonschema.exceptions import best_match

    return best_match(validator.iter_errors(dict(args)))


def _a(types: Any) -> str:
    names = [types] if isinstance(types, str) else list(types)
    return " or ".join(f"an {t}" if t[0] in "aeiou" else f"a {t}" for t in names)


def _missing_field(error: Any) -> str | None:
    """The missing property of a ``required`` error, from the error's data (not its message)."""
    if error.validator != "required" or not isinstance(error.instance, Mapping):
        return None
    missing = next((name for name in error.validator_value if name not in error.instance), None)
    if missing is None:
        return None
    prefix = field_path(error.absolute_path)
    return f"{prefix}.{missing}" if prefix else str(missing)


def _message(error: Any) -> str:
    if error.instance is None and error.validator == "type":
        return (
            f"null is not {_a(error.validator_value)} (to use an optional argument's default, leave it out)"
        )
    message = str(error.message)
    return message if len(message) <= 300 else message[:297] + "..."
