"""Match a request (method, path) to a spec operation with a segment trie: literal segments win.

The operations are ``chift_mcp.openapi.operations.all_operations(spec)``: the one reading of the spec the
server's tools are built from, plus the token endpoints. A spec's router is built once and shared by
every sandbox app built on that ``Spec`` object (it holds no state).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

from chift_mcp.openapi.operations import Operation, all_operations
from chift_mcp.openapi.spec import Spec

TOKEN_DOMAIN = "token"  # all_operations' domain for /token and /mcp-token
_PARAM = re.compile(r"^\{([^}]+)\}(.*)$")
_ROUTERS: weakref.WeakKeyDictionary[Spec, Router] = weakref.WeakKeyDictionary()


@dataclass
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    params: list[tuple[str, str, _Node]] = field(default_factory=list)  # (name, suffix, child)
    operations: dict[str, Operation] = field(default_factory=dict)  # by upper-case method


class MethodNotAllowed(Exception):
    def __init__(self, allowed: list[str]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed


class Router:
    def __init__(self, operations: Iterable[Operation]) -> None:
        self._root = _Node()
        self.operations: tuple[Operation, ...] = tuple(operations)
        self.by_id: dict[str, Operation] = {}
        for operation in self.operations:
            self._insert(operation)
            self.by_id[operation.id] = operation

    @classmethod
    def for_spec(cls, spec: Spec) -> Router:
        """The router of ``spec``'s operations, built on first use and kept while ``spec`` lives."""
        router = _ROUTERS.get(spec)
        if router is None:
            router = _ROUTERS[spec] = cls(all_operations(spec))
        return router

    def _insert(self, operation: Operation) -> None:
        node = self._root
        for segment in _segments(operation.path):
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
        node.operations[operation.method] = operation

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation and its raw path parameters; None when no path matches; raises MethodNotAllowed."""
        segments = _segments(path)
        found = self._walk(self._root, segments, 0, {})
        if found is None:
            return None
        node, params = found
        operation = node.operations.get(method.upper())
        if operation is None:
            raise MethodNotAllowed(sorted(node.operations))
        return operation, params

    def _walk(
        self, node: _Node, segments: list[str], index: int, params: dict[str, str]
    ) -> tuple[_Node, dict[str, str]] | None:
        if index == len(segments):
            return (node, params) if node.operations else None
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
