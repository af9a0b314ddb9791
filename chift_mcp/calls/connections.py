"""Choosing a consumer's connection: Chift's ``X-Chift-Connectionid``, and the error that asks for it.

A consumer may have several active connections on one API (two accounting packages, say); then
Chift needs ``X-Chift-Connectionid`` (or ``X-Chift-Integrationid``) on every call of that API, or
answers "The connection is not correctly configured" (400 ``ERROR_CONFIGURATION_CONNECTION``;
docs.chift.eu developer-guides/implementation/connections and developer-guides/errors). A tool call
chooses with its ``connection_id`` argument, which the registry sends as that header. It is listed
in a tool's schema only where the caller's view knows the bound consumer has several connections on
the tool's API, and accepted on every tool of a connection's API, so that the error below can ask
for it where the view could not know (an unbound server): :func:`list_connections` fetches the
consumer's connections and names the active ones of that API in the hint (with only one there is
nothing to choose: the hint says that connection's configuration is what Chift refuses).
"""

from __future__ import annotations

__all__ = ["CONNECTION_HEADER", "SEVERAL_CONNECTIONS", "list_connections"]

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from chift_mcp.errors import ChiftAPIError, ToolError
from chift_mcp.tools.access.live import active_connections
from chift_mcp.tools.definition import CONSUMER_ARG, ToolSpec

if TYPE_CHECKING:
    from chift_mcp.calls.registry import Upstream

CONNECTION_HEADER = "X-Chift-Connectionid"  # as docs.chift.eu spells it; HTTP header names ignore case
SEVERAL_CONNECTIONS = "ERROR_CONFIGURATION_CONNECTION"
MAX_CHOICES = 20


async def list_connections(
    upstream: Upstream | None, exc: ChiftAPIError, tool: ToolSpec, args: Mapping[str, Any]
) -> None:
    """Put the consumer's active connections for ``tool``'s API in the hint of ``exc`` (Chift's answer
    to a call that did not choose among several). Leaves the hint as it is if they cannot be listed."""
    consumer = args.get(CONSUMER_ARG)
    if upstream is None or not consumer:
        return
    try:
        answer = await upstream.request("GET", f"/consumers/{quote(str(consumer), safe='')}/connections")
    except ToolError:
        return  # the hint already says where to find them
    choices = active_connections(answer, tool.domain)[:MAX_CHOICES]
    if not choices:
        return
    listed = "; ".join(
        f"{c.get('connectionid')} ({', '.join(str(c[k]) for k in ('name', 'integration') if c.get(k))})"
        for c in choices
    )
    if len(choices) == 1:  # nothing to choose: the one connection's configuration is what Chift refuses
        exc.hint = (
            f"This consumer has one active {tool.domain} connection, {listed}, so choosing is not the "
            "problem: Chift finds that connection's configuration incorrect, and the consumer must fix it "
            "in Chift. Retrying will not help."
        )
        return
    exc.hint = (
        f"This consumer has {len(choices)} active {tool.domain} connections and Chift cannot tell which "
        f"one to use: call {tool.name} again with connection_id set to one of: {listed}."
    )
