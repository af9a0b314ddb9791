"""Every error chift-mcp raises, in one place.

    ChiftMCPError
    ├── ConfigError         settings, function config or spec are wrong: start-up stops with one line
    └── ToolError           a failure the agent sees as a tool result with ``isError: true``
        ├── ArgumentError   the arguments do not match the tool's schema (nothing was sent)
        ├── AccessDenied    the tool is unknown, or outside what this caller may call
        ├── SearchUnavailable  the docs index is still building or loading, or could not be opened
        ├── ProgramError    a code-mode program failed: a syntax or runtime error (line, message)
        │   └── LimitExceeded   it hit one of its limits (which, and the value)
        ├── RateLimited     this caller's tool calls per minute are spent (nothing was sent)
        └── UpstreamError   the Chift API could not do it
            ├── ChiftAPIError         Chift answered with an error status and (usually) its error JSON
            ├── InvalidResponseError  Chift answered 2xx but the body is not valid JSON
            └── UnreachableError      no answer: DNS, connection refused, timeout

A malformed *protocol* request is not a ToolError: the MCP SDK answers it with a JSON-RPC error.
``ToolError.payload()`` is the dict the agent reads: what went wrong, what to change, whether a retry
helps. Secrets never enter these messages: they are built from status codes, Chift's own error JSON,
argument names and the (public) API base URL, never from headers or credentials.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "ArgumentError",
    "ChiftAPIError",
    "ConfigError",
    "InvalidResponseError",
    "LimitExceeded",
    "ProgramError",
    "RateLimited",
    "SearchUnavailable",
    "ToolError",
    "UnreachableError",
    "UpstreamError",
    "field_path",
]

from collections.abc import Iterable
from typing import Any


def field_path(parts: Iterable[Any]) -> str:
    """``lines[0].amount`` from a location such as ``["lines", 0, "amount"]`` (jsonschema, pydantic)."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class ChiftMCPError(Exception):
    """Base class."""


class ConfigError(ChiftMCPError):
    """Start-up configuration is invalid; the message is one line a user can act on."""


class ToolError(ChiftMCPError):
    code = "TOOL_ERROR"
    retryable = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        out["retryable"] = self.retryable
        return out


class ArgumentError(ToolError):
    code = "INVALID_ARGUMENTS"

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field

    def payload(self) -> dict[str, Any]:
        out = super().payload()
        if self.field:
            out["field"] = self.field
        return out


class AccessDenied(ToolError):
    code = "OUT_OF_SCOPE"


class SearchUnavailable(ToolError):
    """search_chift cannot answer yet (index building or loading) or at all (no index, wrong model)."""

    code = "SEARCH_UNAVAILABLE"

    def __init__(self, message: str, *, hint: str | None = None, retryable: bool = True) -> None:
        super().__init__(message, hint=hint)
        self.retryable = retryable


class ProgramError(ToolError):
    """An ``execute`` program failed. ``details`` carries what the program did before it failed (its
    line, printed output, operations called, writes done): a failed program may have written."""

    code = "PROGRAM_ERROR"

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message, hint=hint)
        self.details = {k: v for k, v in details.items() if v not in (None, "", [], {})}

    def payload(self) -> dict[str, Any]:
        out = super().payload()
        retryable = out.pop("retryable")
        out.update(self.details)
        out["retryable"] = retryable
        return out


class LimitExceeded(ProgramError):
    code = "LIMIT_EXCEEDED"


class RateLimited(ToolError):
    """The caller's token made its tool calls for this minute; ``retry_after`` seconds until one more."""

    code = "RATE_LIMITED"
    retryable = True

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "retry_after": self.retry_after}


class Busy(ToolError):
    """No room for the call now (code mode: every worker, or the caller's share of them, is taken):
    ``limit`` names what is full and ``setting`` the setting that sizes it; retry after
    ``retry_after`` seconds."""

    code = "BUSY"
    retryable = True

    def __init__(
        self, message: str, *, limit: str, setting: str, value: int, retry_after: int, hint: str
    ) -> None:
        super().__init__(message, hint=hint)
        self.limit, self.setting, self.value, self.retry_after = limit, setting, value, retry_after

    def payload(self) -> dict[str, Any]:
        out = super().payload()
        retryable = out.pop("retryable")
        out.update(limit=self.limit, setting=self.setting, value=self.value, retry_after=self.retry_after)
        out["retryable"] = retryable
        return out


class UpstreamError(ToolError):
    """The Chift API could not do it. ``request_id`` is the ``X-Chift-Client-RequestId`` sent, if any:
    with it the outcome of a write can be looked up even when its answer was lost."""

    code = "UPSTREAM_ERROR"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        retryable: bool | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        if retryable is not None:
            self.retryable = retryable
        self.request_id = request_id

    def payload(self) -> dict[str, Any]:
        out = super().payload()
        if self.request_id:
            out["client_request_id"] = self.request_id
        return out


class InvalidResponseError(UpstreamError):
    """Chift answered 2xx but the body is not the JSON it should be."""

    code = "INVALID_UPSTREAM_RESPONSE"
    retryable = True


class UnreachableError(UpstreamError):
    code = "CHIFT_UNREACHABLE"
    retryable = True


class ChiftAPIError(UpstreamError):
    """Chift answered ``status`` with ``{status: "error", message, error_code, detail?}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_code: str | None = None,
        detail: Any = None,
        hint: str | None = None,
        retryable: bool = False,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, retryable=retryable, request_id=request_id)
        self.status = status
        self.error_code = error_code
        self.detail = detail

    @property
    def code(self) -> str:  # type: ignore[override]
        return self.error_code or f"HTTP_{self.status}"

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "status": self.status, "message": self.message}
        if self.detail not in (None, "", [], {}):
            out["detail"] = self.detail
        if self.hint:
            out["hint"] = self.hint
        out["retryable"] = self.retryable
        if self.request_id:
            out["client_request_id"] = self.request_id
        return out
