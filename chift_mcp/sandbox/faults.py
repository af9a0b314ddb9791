"""Scripted faults: latency, error statuses, malformed JSON and lost responses.

A fault matches requests by ``match``:

- an operationId, or a glob over operationIds (``accounting_*``, ``*``);
- ``"METHOD /path-glob"`` (``"POST /consumers/*/accounting/clients"``, method ``*`` for any), tried
  against both the real path and the spec template (``/consumers/{consumer_id}/...``);
- ``"/path-glob"`` alone, for any method.

``times`` is how many requests it hits (0 = until cleared). Over HTTP: ``POST /_sandbox/faults`` with
the JSON form of ``Fault`` (see ``Fault.from_json``).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

KINDS = ("latency", "status", "malformed_json", "drop_after_processing")

# Chift's error codes for the statuses a fault can return.
STATUS_ERRORS: dict[int, tuple[str, str]] = {
    429: ("ERROR_RATE_LIMIT", "The rate limit has been reached for this connector. Please try again later."),
    500: ("ERROR_INTERNAL_ERROR", "Internal server error."),
    502: ("ERROR_CONFIGURATION_LOCALAGENT", "Impossible to connect to the target application (bad gateway)."),
    503: (
        "ERROR_CONNECTOR_MAINTENANCE",
        "Impossible to connect to the target application. Please retry later.",
    ),
    504: ("ERROR_GATEWAY_TIMEOUT", "Impossible to connect to a remote application (timeout)."),
}

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
        allowed = {"match", "kind", "status", "retry_after", "latency", "times", "error_code", "message"}
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

    def error_body(self) -> dict[str, Any]:
        status = self.status or 503
        code, message = STATUS_ERRORS.get(status, ("ERROR_UNEXPECTED", "Unexpected error."))
        return {
            "status": "error",
            "message": self.message or message,
            "error_code": self.error_code or code,
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
