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

    def build() -> list[ToolSpec]:
        source = spec or load_spec(settings.openapi, timeout=settings.timeout)
        return build_tools(load_operations(source), max_items=settings.max_items)

    if spec is None and not settings.openapi:
        from chift_mcp import cache
        from chift_mcp.spec import bundled_path

        try:
            path = bundled_path()
        except ModuleNotFoundError:
            path = None
        if path is not None:
            return cache.cached(path, build, max_items=settings.max_items)
    return build()


def base_scope(settings: Settings) -> Scope:
    include = settings.tool_names("tools")
    return Scope.of(
        parse_function_config(settings.function_config),
        read_only=settings.read_only,
        consumer_id=settings.consumer_id or None,
        include=include or None,
        exclude=settings.tool_names("exclude_tools"),
        mode=settings.tool_mode,
    )


def check_tool_names(settings: Settings, tools: list[ToolSpec]) -> None:
    """CHIFT_TOOLS / CHIFT_EXCLUDE_TOOLS may only name tools that exist: a typo is a start-up error."""
    import difflib

    known = {t.name for t in tools} | {"search_chift"}
    for which in ("tools", "exclude_tools"):
        for name in settings.tool_names(which):
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ConfigError(f"CHIFT_{which.upper()}: no tool named {name!r}{hint}")


def build_registry(settings: Settings, tools: list[ToolSpec], upstream: Any) -> Registry:
    """The registry of the endpoint tools plus the local ones (discovery; listed per the scope's mode)."""
    from chift_mcp.discovery import discovery_tools

    registry = Registry(
        tools, upstream, max_items=settings.max_items, max_result_chars=settings.max_result_chars
    )
    for tool in discovery_tools(registry):
        registry.add(tool)
    return registry


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
    def open(
        cls, settings: Settings, *, sandbox: bool = False, transport: Any = None, upstream: Any = None
    ) -> Runtime:
        """Build everything from ``settings``; raises ConfigError with a one-line message.

        ``upstream(settings, transport)`` builds the Chift client instead of a ChiftClient on the API
        key (the HTTP door's pass-through auth, which needs no key).
        """
        scope = base_scope(settings)  # validate the function config before anything slow
        tools = load_tools(settings)
        check_tool_names(settings, tools)
        sandbox_app = None
        if sandbox:
            from chift_mcp.sandbox import build_app

            settings = settings.for_sandbox(SANDBOX_URL)
            sandbox_app = build_app(load_spec(settings.openapi, timeout=settings.timeout))
            import httpx2

            transport = httpx2.ASGITransport(app=sandbox_app)
        missing = settings.missing_credentials()
        if missing and upstream is None:
            raise ConfigError(
                f"missing Chift credentials: set {', '.join(missing)} (or run with --sandbox to try the demo API)"
            )
        from chift_mcp.client import ChiftClient

        if upstream is not None:
            client = upstream(settings, transport)
        else:
            client = ChiftClient.from_settings(settings, transport=transport)
        registry = build_registry(settings, tools, client)
        scopes = ScopeProvider(scope, client, ttl=settings.connections_ttl)
        extras: dict[str, Any] = {}
        if settings.search:
            from chift_mcp.search_tool import search_service, search_tool  # no search stack imported

            extras["search"] = search_service(settings)
            registry.add(search_tool(extras["search"]))
        return cls(settings, tools, registry, scopes, client, sandbox_app, extras)

    def start(self) -> None:
        """Begin background work once a door serves: open (or build) the docs index in a thread."""
        if "search" in self.extras:
            self.extras["search"].start()

    def server(self) -> Any:
        from chift_mcp.server import build_server

        return build_server(self.registry, self.scopes)

    async def aclose(self) -> None:
        await self.scopes.aclose()
        await self.client.aclose()
