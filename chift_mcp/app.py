"""Assembly: settings -> spec -> operations -> tool specs -> registry (+ client, scope) -> server.

``Runtime.open(settings)`` wires the pieces once; the doors (stdio, HTTP, the CLI's one-shot
``call``) use what it holds. ``sandbox=True`` points the client at an in-process sandbox Chift API
(no port, no account needed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from chift_mcp.connections import ScopeProvider
from chift_mcp.errors import ConfigError
from chift_mcp.operations import load_operations
from chift_mcp.registry import Registry
from chift_mcp.settings import Settings
from chift_mcp.spec import Spec, load_spec
from chift_mcp.toolset import Scope, ToolSpec, build_tools, parse_function_config

logger = logging.getLogger("chift_mcp")

SANDBOX_URL = "http://sandbox.chift.local"


def load_tools(settings: Settings, spec: Spec | None = None) -> list[ToolSpec]:
    """The tool specs for ``settings``; from the on-disk cache when the bundled spec is used."""
    key = None
    if spec is None and not settings.openapi:
        from chift_mcp import cache
        from chift_mcp.spec import bundled_path

        try:
            path = bundled_path()
        except ModuleNotFoundError:
            path = None
        if path is not None:
            key = cache.key_for(path, max_items=settings.max_items)
            cached = cache.load(key)
            if isinstance(cached, list):
                return cached
    spec = spec or load_spec(settings.openapi, timeout=settings.timeout)
    tools = build_tools(load_operations(spec), max_items=settings.max_items)
    if key is not None:
        from chift_mcp import cache

        cache.store(key, tools)
    return tools


def base_scope(settings: Settings) -> Scope:
    return Scope.of(
        parse_function_config(settings.function_config),
        read_only=settings.read_only,
        consumer_id=settings.consumer_id or None,
    )


@dataclass
class Runtime:
    settings: Settings
    tools: list[ToolSpec]
    registry: Registry
    scopes: ScopeProvider
    client: Any
    sandbox_app: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings, *, sandbox: bool = False, transport: Any = None) -> Runtime:
        """Build everything from ``settings``; raises ConfigError with a one-line message."""
        scope = base_scope(settings)  # validate the function config before anything slow
        tools = load_tools(settings)
        sandbox_app = None
        if sandbox:
            from chift_mcp.sandbox import build_app

            settings = settings.for_sandbox(SANDBOX_URL)
            sandbox_app = build_app(load_spec(settings.openapi, timeout=settings.timeout))
            import httpx2

            transport = httpx2.ASGITransport(app=sandbox_app)
        missing = settings.missing_credentials()
        if missing:
            raise ConfigError(
                f"missing Chift credentials: set {', '.join(missing)} (or run with --sandbox to try the demo API)"
            )
        from chift_mcp.client import ChiftClient

        client = ChiftClient.from_settings(settings, transport=transport)
        registry = Registry(
            tools, client, max_items=settings.max_items, max_result_chars=settings.max_result_chars
        )
        scopes = ScopeProvider(scope, client, ttl=settings.connections_ttl)
        if settings.search:
            logger.warning("CHIFT_SEARCH=true: the search_chift tool is not available in this build yet")
        return cls(settings, tools, registry, scopes, client, sandbox_app)

    def server(self) -> Any:
        from chift_mcp.server import build_server

        return build_server(self.registry, self.scopes)

    async def aclose(self) -> None:
        await self.scopes.aclose()
        await self.client.aclose()
