"""Scripted faults: latency, error statuses, Chift's rate limits, malformed JSON and lost responses.

A fault matches requests by ``match``:

- an operationId, or a glob over operationIds (``accounting_*``, ``*``);
- ``"METHOD /path-glob"`` (``"POST /consumers/*/accounting/clients"``, method ``*`` for any), tried
  against both the real path and the spec template (``/consumers/{consumer_id}/...``);
- ``"/path-glob"`` alone, for any method.

``times`` is how many requests it hits (0 = until cleared). Over HTTP: ``POST /_sandbox/faults`` with
the JSON form of ``Fault`` (see ``Fault.from_json``).

A ``status`` fault answers any code of Chift's table (``error_table.ERROR_TABLE``) with its documented
status: give ``error_code`` alone and the status comes from the table; give ``status`` alone and the
code is the table's usual one for it (``STATUS_CODES``). ``status: 500`` is not a Chift answer (Chift
has no 500 in its table): it is the bare ``Internal Server Error`` (text/plain) of a crash in front of
Chift's error handling (invented: what Starlette/FastAPI, which Chift's spec comes from, send).

A ``rate_limit`` fault is what Chift does with a connector's limit (docs "Rate limits"):

- ``window: "short"``: Chift retries after 1, 2, 4, 8 and 16 s; the connector refuses ``refusals`` of
  Chift's attempts (default 6: the first and its 5 retries), so the request is held 31 s then answered
  429 ``ERROR_RATE_LIMIT``; with fewer refusals it succeeds after the waits it took. The waits sleep on
  the sandbox's clock, times ``SandboxConfig.backoff_scale``.
- ``window: "daily"``: 429 at once, no retry; the message names the limit and the time left before it
  resets (``reset_in`` seconds, default: the next midnight UTC on the sandbox's clock), and the
  connection stays limited until then (invented: the docs give neither the message's wording nor
  whether every request of the connection is refused until the reset).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from chift_mcp.sandbox.error_table import ERROR_TABLE

KINDS = ("latency", "status", "rate_limit", "malformed_json", "drop_after_processing")
WINDOWS = ("short", "daily")

# The code a status fault answers with when it names none: the table's usual code for that status.
STATUS_CODES: dict[int, str] = {
    400: "ERROR_INTERNAL_ERROR",
    401: "ERROR_CONNECTOR_AUTHENTICATION",
    403: "ERROR_BACKEND_FORBIDDEN",
    405: "ERROR_RESOURCE_NOT_SUPPORTED",
    409: "REQUEST_IN_PROCESS",
    422: "ERROR_INVALID_BODY",
    429: "ERROR_RATE_LIMIT",
    502: "ERROR_CONFIGURATION_LOCALAGENT",
    503: "ERROR_CONNECTOR_MAINTENANCE",
    504: "ERROR_GATEWAY_TIMEOUT",
}
BARE_500 = 500  # not a Chift answer: text/plain "Internal Server Error"
# Chift's waits between its attempts on a short-term rate limit (docs "Rate limits").
CHIFT_BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0)

_ids = itertools.count(1)


class FaultError(ValueError):
    """The fault description is invalid."""


@dataclass
class Fault:
    match: str
    kind: str = "status"
    status: int | None = None
    retry_after: float | None = None
    latency: float = 0.0
    times: int = 1
    error_code: str | None = None
    message: str | None = None
    window: str | None = None  # rate_limit: "short" (Chift retries, 31 s) or "daily" (no retry)
    refusals: int = len(CHIFT_BACKOFF) + 1  # rate_limit short: attempts the connector refuses
    reset_in: float | None = None  # rate_limit daily: seconds until the limit resets
    id: int = field(default_factory=lambda: next(_ids))
    hits: int = 0
    _method: str = field(default="*", init=False, repr=False)
    _pattern: str = field(default="*", init=False, repr=False)
    _by_path: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.match, str) or not self.match.strip():
            raise FaultError("'match' must be an operationId or 'METHOD /path-glob'")
        if self.kind not in KINDS:
            raise FaultError(f"'kind' must be one of {', '.join(KINDS)}")
        if self.kind == "rate_limit":
            self.window = self.window or "short"
            if self.window not in WINDOWS:
                raise FaultError(f"'window' must be one of {', '.join(WINDOWS)}")
            if not isinstance(self.refusals, int) or self.refusals < 0:
                raise FaultError("'refusals' must be an integer >= 0")
            if self.reset_in is not None and (
                not isinstance(self.reset_in, int | float) or self.reset_in <= 0
            ):
                raise FaultError("'reset_in' must be a number of seconds > 0")
            self.status, self.error_code = 429, "ERROR_RATE_LIMIT"
        if (
            self.error_code is not None
            and self.status is None
            and self.kind in ("status", "drop_after_processing")
        ):
            if self.error_code not in ERROR_TABLE:
                raise FaultError(f"'{self.error_code}' is not in Chift's error table: give its 'status' too")
            self.status = ERROR_TABLE[self.error_code][0]
        if self.status is None:
            self.status = {"status": 503, "drop_after_processing": 502}.get(self.kind)
        if self.status is not None and not (isinstance(self.status, int) and 400 <= self.status <= 599):
            raise FaultError("'status' must be an HTTP error status (400-599)")
        if not isinstance(self.times, int) or self.times < 0:
            raise FaultError("'times' must be an integer >= 0 (0 = forever)")
        if not isinstance(self.latency, int | float) or self.latency < 0:
            raise FaultError("'latency' must be a number of seconds >= 0")
        if self.retry_after is not None and (
            not isinstance(self.retry_after, int | float) or self.retry_after < 0
        ):
            raise FaultError("'retry_after' must be a number of seconds >= 0")
        if self.kind == "latency" and not self.latency:
            raise FaultError("a latency fault needs 'latency' > 0")
        method, _, pattern = self.match.strip().partition(" ")
        if pattern:
            self._method, self._pattern, self._by_path = method.upper(), pattern.strip(), True
        elif method.startswith("/"):
            self._method, self._pattern, self._by_path = "*", method, True
        else:
            self._method, self._pattern, self._by_path = "*", method, False

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        if not isinstance(data, dict):
            raise FaultError("a fault is a JSON object")
        allowed = {
            "match",
            "kind",
            "status",
            "retry_after",
            "latency",
            "times",
            "error_code",
            "message",
            "window",
            "refusals",
            "reset_in",
        }
        unknown = set(data) - allowed
        if unknown:
            raise FaultError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        if "match" not in data:
            raise FaultError("'match' is required")
        return cls(**data)

    def matches(self, method: str, path: str, template: str, operation_id: str) -> bool:
        if self._method not in ("*", method):
            return False
        if self._by_path:
            return fnmatchcase(path, self._pattern) or fnmatchcase(template, self._pattern)
        return fnmatchcase(operation_id, self._pattern)

    @property
    def bare(self) -> bool:
        """A bare 500 (not JSON, no Chift code)."""
        return self.status == BARE_500 and self.error_code is None

    @property
    def holds(self) -> float:
        """Seconds Chift waits in its retries before this rate limit's answer (0 unless short)."""
        if self.kind != "rate_limit" or self.window != "short":
            return 0.0
        return sum(CHIFT_BACKOFF[: min(self.refusals, len(CHIFT_BACKOFF))])

    @property
    def exhausts_retries(self) -> bool:
        """A short rate limit that outlasts Chift's retries: answered 429 after them."""
        return self.kind == "rate_limit" and self.window == "short" and self.refusals > len(CHIFT_BACKOFF)

    def error_body(self) -> dict[str, Any]:
        status = self.status or 503
        code = self.error_code or STATUS_CODES.get(status, "ERROR_UNEXPECTED")
        message = ERROR_TABLE.get(code, (status, "Unexpected error while trying to perform the request."))[1]
        return {
            "status": "error",
            "message": self.message or message,
            "error_code": code,
            "detail": "injected by the Chift sandbox",
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "match": self.match,
            "kind": self.kind,
            "status": self.status,
            "retry_after": self.retry_after,
            "latency": self.latency,
            "times": self.times,
            "hits": self.hits,
            "error_code": self.error_code,
            "message": self.message,
            "window": self.window,
            "refusals": self.refusals,
            "reset_in": self.reset_in,
        }


@dataclass
class Triggered:
    """What the faults say about one request: extra latency, then at most one action."""

    latency: float = 0.0
    action: Fault | None = None


class FaultSet:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.applied = 0

    def add(self, fault: Fault | None = None, /, **kwargs: Any) -> Fault:
        """Add ``fault``, or build one from keyword arguments (``add(match="...", kind="status", status=429)``)."""
        if fault is None:
            fault = Fault(**kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def __len__(self) -> int:
        return len(self._faults)

    def take(self, method: str, path: str, template: str, operation_id: str) -> Triggered:
        """Consume the faults matching this request."""
        out = Triggered()
        if not self._faults:
            return out
        with self._lock:
            for fault in list(self._faults):
                if fault.kind != "latency" and out.action is not None:
                    continue
                if not fault.matches(method, path, template, operation_id):
                    continue
                fault.hits += 1
                self.applied += 1
                if fault.kind == "latency":
                    out.latency += fault.latency
                else:
                    out.action = fault
                    out.latency += fault.latency
                if fault.times and fault.hits >= fault.times:
                    self._faults.remove(fault)
        return out
