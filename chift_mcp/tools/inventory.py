"""The inventory: every tool this server has, and what each caller is shown of it.

An :class:`Inventory` is built once from the endpoint tools and the local ones, and never changes.
``inventory.view(access)`` is what one caller may see and call, as published to them: the tools
``tools/list`` shows (consumer_id gone from their schemas when a consumer is bound), the operations
discovery and code mode find and call, the MCP ``Tool`` list and the operation finder's index, and
the refusal for every tool they may not call. It is computed once per ``access.key`` and cached
here, the one place visibility is decided (modelled on github-mcp-server's builder -> immutable
inventory -> per-request filters).
"""

from __future__ import annotations

__all__ = ["Inventory", "View", "mcp_tool"]

import difflib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chift_mcp.errors import AccessDenied
from chift_mcp.tools.definition import ToolSpec

if TYPE_CHECKING:
    import mcp_types

    from chift_mcp.tools.access import Access
    from chift_mcp.tools.finder import OperationFinder

MAX_VIEWS = 512  # access keys are few (modes x grants x active-domain sets); bounded all the same


class Inventory:
    """The tools, and ``aliases``: names still answered for a tool listed under another name."""

    def __init__(self, tools: Iterable[ToolSpec], aliases: Mapping[str, str] | None = None) -> None:
        # By name. Discovery and code mode each have their own find_operations and describe_operation:
        # a caller sees one mode's, so two tools may share a name when they belong to different modes.
        self._tools: dict[str, ToolSpec] = {}
        self._all: list[ToolSpec] = []
        for tool in tools:
            other = self._tools.get(tool.name)
            if other is not None and not _other_modes(other, tool):
                raise ValueError(f"two tools are named {tool.name!r}")
            if (tool.operation is None) != tool.local or (tool.handler is None) != (not tool.local):
                raise ValueError(f"{tool.name}: an endpoint tool has an operation, a local tool a handler")
            self._tools.setdefault(tool.name, tool)
            self._all.append(tool)
        self.aliases = {old: new for old, new in (aliases or {}).items() if new in self._tools}
        self._views: OrderedDict[Access, View] = OrderedDict()

    def __len__(self) -> int:
        return len(self._all)

    def __iter__(self) -> Any:
        return iter(self._all)

    def get(self, name: str) -> ToolSpec | None:
        return self._tools.get(self.aliases.get(name, name))

    @property
    def endpoint_tools(self) -> list[ToolSpec]:
        return [t for t in self._all if not t.local]

    def view(self, access: Access) -> View:
        """What ``access`` may see and call; one per ``access.key``, cached."""
        key = access.key
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = View(self, key)
            if len(self._views) > MAX_VIEWS:
                self._views.popitem(last=False)
        return view


class View:
    """One caller's view of the inventory (see the module docstring). Immutable once built."""

    def __init__(self, inventory: Inventory, access: Access) -> None:
        self.access = access  # its key: the bound consumer, if any, is erased
        bound = access.consumer_id is not None
        listed: list[ToolSpec] = []
        callable_: dict[str, ToolSpec] = {}
        refusals: dict[str, str] = {}
        for tool in inventory:
            reason = access.refusal(tool)
            if reason is not None:
                refusals.setdefault(tool.name, reason)
                continue
            shown = tool.bound if bound else tool
            if tool.domain in access.shared_domains:
                shown = shown.choosing
            callable_[tool.name] = shown
            if access.lists(tool):
                listed.append(shown)
        self.tools: tuple[ToolSpec, ...] = tuple(listed)  # what tools/list shows this caller
        # the endpoint tools this caller may call, listed or not (discovery and code mode reach them)
        self.operations: tuple[ToolSpec, ...] = tuple(t for t in callable_.values() if not t.local)
        self._callable = callable_  # name -> the tool as this caller sees it (bound schema if bound)
        self._refusals = refusals  # name -> why this caller may not call it
        self._aliases = inventory.aliases  # alternative names (SearchChift's) -> tool name

    def lookup(self, name: str) -> ToolSpec:
        """The tool ``name`` as this caller sees it, if they may call it; else AccessDenied saying why."""
        name = self._aliases.get(name, name)
        tool = self._callable.get(name)
        if tool is not None:
            return tool
        reason = self._refusals.get(name)
        if reason is not None:
            raise AccessDenied(f"{name} is not available: {reason}", hint="use a tool from the tool list")
        close = difflib.get_close_matches(name, list(self._callable), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "list the tools to see what exists"
        raise AccessDenied(f"unknown tool {name!r}", hint=hint)

    def operation(self, name: str) -> ToolSpec:
        """The endpoint tool ``name`` (for discovery and code mode); local tools are not operations."""
        tool = self.lookup(name)
        if tool.local:
            raise AccessDenied(f"{name} is not an operation", hint="find_operations lists the operations")
        return tool

    @cached_property
    def mcp_tools(self) -> list[mcp_types.Tool]:
        """``tools/list``'s answer, converted once."""
        return [mcp_tool(tool) for tool in self.tools]

    @cached_property
    def finder(self) -> OperationFinder:
        """The operation finder over the operations this caller may call."""
        from chift_mcp.tools.finder import OperationFinder

        return OperationFinder(self.operations)


def _other_modes(a: ToolSpec, b: ToolSpec) -> bool:
    """Whether ``a`` and ``b`` are local tools of two different modes (never listed together)."""
    return a.origin != b.origin and {a.origin, b.origin} <= {"discovery", "code"}


def mcp_tool(tool: ToolSpec) -> mcp_types.Tool:
    import mcp_types

    return mcp_types.Tool(
        name=tool.name,
        description=tool.description,
        input_schema=tool.input_schema,
        annotations=mcp_types.ToolAnnotations(
            title=tool.annotations["title"],
            read_only_hint=tool.annotations["readOnlyHint"],
            destructive_hint=tool.annotations["destructiveHint"],
            idempotent_hint=tool.annotations["idempotentHint"],
            open_world_hint=tool.annotations["openWorldHint"],
        ),
    )
