"""Sessions on the HTTP door, in process: what a stateful session needs from the replica that opened
it (why ``--stateless`` exists)."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from http_helpers import DEMO, TIMEOUT, RoundRobin, door, serving
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

pytestmark = pytest.mark.anyio
TOKEN = "cmcp_scale_out_token_0000000000000000000"


async def test_stateful_replicas_without_affinity_lose_the_session_which_is_why_stateless_exists() -> None:
    replicas = [door(tokens={TOKEN: {"name": "lb"}}) for _ in range(2)]
    with anyio.fail_after(TIMEOUT):
        async with serving(replicas[0].app) as first, serving(replicas[1].app) as second:
            balancer = RoundRobin([httpx2.URL(u).port or 80 for u in (first, second)])
            with pytest.RaisesGroup(
                pytest.RaisesExc(MCPError, match="^Session not found$"), flatten_subgroups=True
            ):
                async with (
                    httpx2.AsyncClient(
                        transport=balancer, headers={"Authorization": f"Bearer {TOKEN}"}
                    ) as http,
                    Client(streamable_http_client(first + "/mcp", http_client=http), mode="legacy") as client,
                ):
                    # initialize went to the first replica; this request goes to the second.
                    await client.call_tool("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
    assert balancer.sent[httpx2.URL(second).port or 80] >= 1
