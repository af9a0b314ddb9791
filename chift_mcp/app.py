"""Assembly, in one place: settings -> spec -> operations -> tool specs -> inventory -> registry
(+ Chift client, access) -> server.

``Runtime.open(settings)`` wires the pieces once; the doors (stdio, HTTP, the CLI's one-shot
``call`` and ``tools``) only choose and serve what it holds. ``sandbox=True`` points the client at an
in-process sandbox Chift API (no port, no account needed); ``passthrough=True`` builds the client
that forwards each HTTP caller's own Chift token (``--auth chift``) instead of one on the API key.
"""

from __future__ import annotations

__all__ = ["SANDBOX_URL", "Runtime", "base_access", "build_inventory", "load_tools"]

import difflib
import logging
from dataclasses import dataclass, field
from typing import Any

from chift_mcp.calls.registry import Registry
from chift_mcp.errors import ConfigError
from chift_mcp.openapi.operations import load_operations
from chift_mcp.openapi.spec import Spec, load_spec
from chift_mcp.settings import Settings
from chift_mcp.tools.access import Access, ConsumerAccess, parse_function_config
from chift_mcp.tools.definition import ToolSpec
from chift_mcp.tools.inventory import Inventory

logger = logging.getLogger("chift_mcp")

SANDBOX_URL = "http://sandbox.chift.local"


def load_tools(settings: Settings, spec: Spec | None = None) -> list[ToolSpec]:
    """The endpoint tool specs for ``settings``; from the on-disk cache when the bundled spec is used."""
    from chift_mcp.tools.factory import build_tools

    def build() -> list[ToolSpec]:
        source = spec or load_spec(settings.openapi, timeout=settings.timeout)
        return build_tools(load_operations(source), max_items=settings.max_items)

    if spec is None and not settings.openapi:
        from chift_mcp.openapi.spec import bundled_path
        from chift_mcp.tools import cache

        try:
            path = bundled_path()
        except ModuleNotFoundError:
            path = None
        if path is not None:
            return cache.cached(path, build, max_items=settings.max_items)
    return build()


def _principal() -> str | None:
    """Who sent the request being answered: the principal the HTTP door authenticated (``token:name``
    or ``chift:fingerprint``, in the SDK's auth context), or None (stdio, or no authentication)."""
    from mcp.server.auth.middleware.auth_context import get_access_token

    token = get_access_token()
    return token.client_id if token is not None else None


def local_tools(settings: Settings) -> tuple[list[ToolSpec], dict[str, str], dict[str, Any]]:
    """The local tools settings ask for (discovery's and code mode's always: the caller's mode, the
    server's or a token's, decides which are listed), their aliases, and the services behind them
    (``search``, ``code``)."""
    from chift_mcp.modes.code import code_mode, installed
    from chift_mcp.modes.discovery import discovery_tools

    if settings.tool_mode == "code" and not installed():
        raise ConfigError(
            'CHIFT_TOOL_MODE=code needs the code extra: pip install "chift-mcp[code]" (pydantic-monty)'
        )
    from chift_mcp.chift.client import CALL_DEADLINE

    # pydantic-monty is imported on the first execute, not here; a run ends by its request's deadline,
    # and the programs that run at once are capped per caller (the HTTP door's authenticated principal)
    code, runner = code_mode(settings, CALL_DEADLINE.get, caller=_principal)
    tools = [*discovery_tools(), *code]
    aliases: dict[str, str] = {}
    services: dict[str, Any] = {"code": runner}
    if settings.search:
        from chift_mcp.modes.docs_search import (  # no search stack imported
            ALIASES,
            search_service,
            search_tool,
        )

        services["search"] = search_service(settings)
        tools.append(search_tool(services["search"]))
        aliases.update(ALIASES)
    return tools, aliases, services


def build_inventory(
    settings: Settings, tools: list[ToolSpec] | None = None
) -> tuple[Inventory, dict[str, Any]]:
    """The inventory for ``settings`` (endpoint tools + local tools) and the local tools' services."""
    endpoint = tools if tools is not None else load_tools(settings)
    local, aliases, services = local_tools(settings)
    inventory = Inventory([*endpoint, *local], aliases)
    check_tool_names(settings, inventory)
    return inventory, services


def base_access(settings: Settings, inventory: Inventory | None = None) -> Access:
    """What the settings allow (before a bound consumer's connections or a token narrow it)."""
    aliases = inventory.aliases if inventory is not None else {}
    include = [aliases.get(n, n) for n in settings.tool_names("tools")]
    return Access.of(
        parse_function_config(settings.function_config),
        read_only=settings.read_only,
        consumer_id=settings.consumer_id or None,
        include=include or None,
        exclude=[aliases.get(n, n) for n in settings.tool_names("exclude_tools")],
        mode=settings.tool_mode,
    )


def check_tool_names(settings: Settings, inventory: Inventory) -> None:
    """CHIFT_TOOLS / CHIFT_EXCLUDE_TOOLS may only name tools that exist: a typo is a start-up error."""
    known = {t.name for t in inventory} | set(inventory.aliases)
    for which in ("tools", "exclude_tools"):
        for name in settings.tool_names(which):
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ConfigError(f"CHIFT_{which.upper()}: no tool named {name!r}{hint}")


@dataclass
class Runtime:
    settings: Settings
    inventory: Inventory
    registry: Registry
    access: ConsumerAccess
    client: Any
    sandbox_app: Any = None
    services: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        sandbox: bool = False,
        passthrough: bool = False,
        transport: Any = None,
        offline: bool = False,
    ) -> Runtime:
        """Build everything from ``settings``; raises ConfigError with a one-line message.

        ``offline``: no Chift client (``chift-mcp tools`` without credentials): the tools are listed
        from the settings alone.
        """
        access = base_access(settings)  # validate the function config before anything slow
        inventory, services = build_inventory(settings)
        access = base_access(settings, inventory)
        sandbox_app = None
        if sandbox:
            if passthrough:
                raise ConfigError(
                    "--auth chift forwards callers' Chift tokens and the in-process sandbox has no /token "
                    "to get one from: run `chift-mcp sandbox --port 8765` and set "
                    "CHIFT_URL_BASE=http://127.0.0.1:8765"
                )
            from chift_mcp.sandbox import build_app

            settings = settings.for_sandbox(SANDBOX_URL)
            sandbox_app = build_app(load_spec(settings.openapi, timeout=settings.timeout))
            import httpx2

            transport = httpx2.ASGITransport(app=sandbox_app)
        client = None if offline else _client(settings, passthrough=passthrough, transport=transport)
        registry = Registry(
            inventory, client, max_items=settings.max_items, max_result_chars=settings.max_result_chars
        )
        live = ConsumerAccess(access, client, ttl=settings.connections_ttl)
        return cls(settings, inventory, registry, live, client, sandbox_app, services)

    def start(self) -> None:
        """Begin background work once a door serves: open (or build) the docs index in a thread."""
        if "search" in self.services:
            self.services["search"].start()

    def server(self, **options: Any) -> Any:
        from chift_mcp.server import build_server

        options.setdefault("name", self.settings.server_name)
        return build_server(self.registry, self.access, **options)

    async def aclose(self) -> None:
        await self.access.aclose()
        for service in self.services.values():
            if hasattr(service, "aclose"):
                await service.aclose()
        if self.client is not None:
            await self.client.aclose()


def _client(settings: Settings, *, passthrough: bool, transport: Any) -> Any:
    if passthrough:
        from chift_mcp.chift.client import passthrough_client

        return passthrough_client(settings, transport)
    missing = settings.missing_credentials()
    if missing:
        raise ConfigError(
            f"missing Chift credentials: set {', '.join(missing)} (or run with --sandbox to try the demo API)"
        )
    from chift_mcp.chift.client import ChiftClient

    return ChiftClient.from_settings(settings, transport=transport)
