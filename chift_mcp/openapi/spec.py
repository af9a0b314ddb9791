"""Load Chift's OpenAPI spec and resolve its ``$ref`` pointers.

The spec ships inside the ``chift`` package on PyPI (``chift/openapi/openapi.json``); we read it
from there with ``importlib.resources`` and never keep a copy. ``CHIFT_OPENAPI`` may name a file
or an http(s) URL instead.
"""

from __future__ import annotations

__all__ = ["Spec", "bundled_path", "load_spec"]

import hashlib
import importlib.util
import json
from importlib import resources
from pathlib import Path
from typing import Any

from chift_mcp.errors import ConfigError

BUNDLED = "chift.openapi/openapi.json"


class Spec:
    """A loaded OpenAPI document with a memoising ``$ref`` resolver.

    ``resolve()`` returns a tree with every local ``$ref`` inlined. Resolved component schemas are
    shared between callers, so treat what it returns as read-only.
    """

    def __init__(self, document: dict[str, Any], *, source: str, digest: str) -> None:
        self.document = document
        self.source = source
        self.digest = digest
        self._resolved: dict[str, Any] = {}

    @property
    def paths(self) -> dict[str, dict[str, Any]]:
        return self.document.get("paths", {})

    def lookup(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise ConfigError(f"only local $ref pointers are supported, got {ref!r}")
        node: Any = self.document
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def resolve(self, node: Any, _stack: tuple[str, ...] = ()) -> Any:
        """Inline every ``$ref`` below ``node``; a recursive reference becomes a plain object."""
        if isinstance(node, list):
            return [self.resolve(item, _stack) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in _stack:
                return {"type": "object", "description": "(recursive)"}
            if ref not in self._resolved:
                self._resolved[ref] = self.resolve(self.lookup(ref), (*_stack, ref))
            target = self._resolved[ref]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if siblings and isinstance(target, dict):
                return {**target, **self.resolve(siblings, _stack)}
            return target
        return {key: self.resolve(value, _stack) for key, value in node.items()}


def bundled_path() -> Path | None:
    """The spec file inside the installed ``chift`` package, when it is a plain file.

    ``resources.files("chift.openapi")`` would import ``chift``, whose models take 0.7 s to import;
    finding the package without executing it and reading the file beside it costs nothing.
    """
    found = importlib.util.find_spec("chift")
    if found is None or not found.submodule_search_locations:
        raise ModuleNotFoundError("chift")
    for location in found.submodule_search_locations:
        candidate = Path(location) / "openapi" / "openapi.json"
        if candidate.is_file():
            return candidate
    return None


def _bundled_bytes() -> bytes:
    path = bundled_path()
    if path is not None:
        return path.read_bytes()
    # Not a plain directory (zipped install): let importlib.resources find it, at the import's cost.
    return resources.files("chift.openapi").joinpath("openapi.json").read_bytes()


def load_spec(source: str | None = None, *, timeout: float = 30.0) -> Spec:
    """Load the spec from ``source`` (a path or URL) or, when it is empty, from the chift package."""
    if not source:
        try:
            raw = _bundled_bytes()
        except (ModuleNotFoundError, FileNotFoundError) as exc:
            raise ConfigError(
                "the bundled Chift spec was not found: install the 'chift' package or set CHIFT_OPENAPI"
            ) from exc
        origin = BUNDLED
    elif source.startswith(("http://", "https://")):
        import httpx2

        try:
            response = httpx2.get(source, timeout=timeout, follow_redirects=True)
            response.raise_for_status()
        except httpx2.HTTPError as exc:
            raise ConfigError(f"could not fetch the OpenAPI spec from {source}: {exc}") from exc
        raw, origin = response.content, source
    else:
        path = Path(source).expanduser()
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"could not read the OpenAPI spec at {path}: {exc.strerror}") from exc
        origin = str(path)
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"the OpenAPI spec from {origin} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or "paths" not in document:
        raise ConfigError(f"{origin} does not look like an OpenAPI document (no 'paths')")
    return Spec(document, source=origin, digest=hashlib.sha256(raw).hexdigest())
