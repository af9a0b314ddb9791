"""Sessions on the HTTP door, in process: what a stateful session needs from the replica that opened
it (why ``--stateless`` exists), and resuming a dropped SSE stream (``Last-Event-ID``) within it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from support.http import DEMO, TIMEOUT, RoundRobin, door, serving

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


# ------------------------------------------------------------------ resumable SSE streams

MODERN = "2025-11-25"  # the first version with priming events
SSE = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


async def sse_events(resp: httpx2.Response) -> AsyncIterator[dict[str, str]]:
    """The events of an SSE answer as they arrive: {"id", "retry", "data", ...}."""
    event: dict[str, str] = {}
    async for line in resp.aiter_lines():
        if not line:
            if event:
                yield event
            event = {}
            continue
        name, _, value = line.partition(":")
        event[name] = event.get(name, "") + value.removeprefix(" ")


async def open_session(http: httpx2.AsyncClient, url: str, token: str) -> dict[str, str]:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": MODERN,
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    headers = {**SSE, "Authorization": f"Bearer {token}"}
    opened = await http.post(url, json=init, headers=headers)
    assert opened.status_code == 200, opened.text
    headers |= {"Mcp-Session-Id": opened.headers["mcp-session-id"], "Mcp-Protocol-Version": MODERN}
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await http.post(url, json=note, headers=headers)).status_code == 202
    return headers


async def test_a_dropped_stream_resumes_with_last_event_id_and_gets_the_answer_it_missed() -> None:
    d = door(tokens={TOKEN: {"name": "lb"}})
    d.runtime.sandbox_app.state.sandbox.faults.add(
        match="accounting_get_clients", kind="latency", latency=1.0
    )
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "accounting_get_clients", "arguments": {"consumer_id": DEMO, "limit": 2}},
    }
    with anyio.fail_after(TIMEOUT):
        async with serving(d.app) as base, httpx2.AsyncClient(timeout=TIMEOUT) as http:
            url = base + "/mcp"
            headers = await open_session(http, url, TOKEN)
            async with http.stream("POST", url, json=call, headers=headers) as resp:
                assert resp.headers["content-type"].startswith("text/event-stream")
                priming = await anext(aiter(sse_events(resp)))
            # The stream is gone (the client dropped it) before the answer: it reconnects.
            assert priming["data"] == "" and priming["id"] and priming["retry"] == "1000"
            resume = {**headers, "Accept": "text/event-stream", "Last-Event-ID": priming["id"]}
            async with http.stream("GET", url, headers=resume) as resp:
                assert resp.status_code == 200
                async for event in sse_events(resp):
                    if event.get("data"):
                        answer = json.loads(event["data"])
                        break
            # Another session of the same token cannot replay this one's events.
            other = await open_session(http, url, TOKEN)
            stolen = await http.get(
                url, headers={**other, "Accept": "text/event-stream", "Last-Event-ID": priming["id"]}
            )
    assert answer["id"] == 2 and event["id"] and event["id"] != priming["id"]
    assert not answer["result"]["isError"] and len(answer["result"]["structuredContent"]["items"]) == 2
    assert stolen.status_code == 200 and '"result"' not in stolen.text


def test_the_event_store_is_bounded_by_count_bytes_and_age() -> None:
    from chift_mcp.doors.http.events import BoundedEventStore

    now = [0.0]
    store = BoundedEventStore(max_events=3, max_bytes=1_000, max_age=60, clock=lambda: now[0])

    class Message:
        def __init__(self, size: int) -> None:
            self.size = size

        def model_dump_json(self, **_: object) -> str:
            return "x" * self.size

    async def fill() -> None:
        for _ in range(5):
            await store.store_event("1", Message(10))
        assert store.count == 3  # by count
        await store.store_event("1", Message(900))
        assert store.count == 1 and store.bytes <= 1_000  # by bytes: the big one alone
        now[0] = 61
        await store.store_event("2", None)
        assert store.count == 1  # by age: only the new priming event is left

    anyio.run(fill)
