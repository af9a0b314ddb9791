"""Match a request (method, path) to a spec operation with a segment trie: literal segments win."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from chift_mcp.sandbox.config import API_BY_DOMAIN
from chift_mcp.spec import Spec

METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"^\{([^}]+)\}(.*)$")


@dataclass(frozen=True, slots=True)
class Route:
    method: str  # upper case
    template: str
    operation_id: str
    operation: dict[str, Any] = field(repr=False, compare=False)
    domain: str | None  # unified domain segment ("accounting", "commerce", ...) or None

    @property
    def api(self) -> str | None:
        return API_BY_DOMAIN.get(self.domain) if self.domain else None


@dataclass
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    params: list[tuple[str, str, _Node]] = field(default_factory=list)  # (name, suffix, child)
    routes: dict[str, Route] = field(default_factory=dict)


class MethodNotAllowed(Exception):
    def __init__(self, allowed: list[str]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed


class Router:
    def __init__(self, spec: Spec) -> None:
        self._root = _Node()
        self.routes: list[Route] = []
        self.by_operation_id: dict[str, Route] = {}
        for template, item in spec.paths.items():
            for method, operation in item.items():
                if method not in METHODS or not isinstance(operation, dict):
                    continue
                route = Route(
                    method=method.upper(),
                    template=template,
                    operation_id=str(operation.get("operationId") or f"{method}_{template}"),
                    operation=operation,
                    domain=_domain(template),
                )
                self._insert(route)
                self.routes.append(route)
                self.by_operation_id[route.operation_id] = route

    def _insert(self, route: Route) -> None:
        node = self._root
        for segment in _segments(route.template):
            found = _PARAM.match(segment)
            if found:
                name, suffix = found.group(1), found.group(2)
                for p_name, p_suffix, child in node.params:
                    if p_name == name and p_suffix == suffix:
                        node = child
                        break
                else:
                    child = _Node()
                    node.params.append((name, suffix, child))
                    # Longer suffixes first so ``{image_type}.json`` is tried before ``{id}``.
                    node.params.sort(key=lambda entry: -len(entry[1]))
                    node = child
            else:
                node = node.literals.setdefault(segment, _Node())
        node.routes[route.method] = route

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route and its raw path parameters; None when no path matches; raises MethodNotAllowed."""
        segments = _segments(path)
        found = self._walk(self._root, segments, 0, {})
        if found is None:
            return None
        node, params = found
        route = node.routes.get(method.upper())
        if route is None:
            raise MethodNotAllowed(sorted(node.routes))
        return route, params

    def _walk(
        self, node: _Node, segments: list[str], index: int, params: dict[str, str]
    ) -> tuple[_Node, dict[str, str]] | None:
        if index == len(segments):
            return (node, params) if node.routes else None
        segment = segments[index]
        child = node.literals.get(segment)
        if child is not None:
            found = self._walk(child, segments, index + 1, params)
            if found is not None:
                return found
        for name, suffix, child in node.params:
            if suffix:
                if not segment.endswith(suffix) or len(segment) == len(suffix):
                    continue
                value = segment[: -len(suffix)]
            else:
                if not segment:
                    continue
                value = segment
            found = self._walk(child, segments, index + 1, {**params, name: value})
            if found is not None:
                return found
        return None


def _segments(path: str) -> list[str]:
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


def _domain(template: str) -> str | None:
    parts = _segments(template)
    if (
        len(parts) >= 3
        and parts[0] == "consumers"
        and parts[1] == "{consumer_id}"
        and parts[2] in API_BY_DOMAIN
    ):
        return parts[2]
    return None
