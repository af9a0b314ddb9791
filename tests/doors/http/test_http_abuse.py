"""One caller cannot starve, block or evict another, in process: sessions per token, initialize counted
by the rate limit, unused sessions expiring fast, the consumer header checked before it costs a Chift
request, and the rate limit checked before a caller's access is looked up. (The same attacks against
real processes, with numbers: ``tests/adversarial/``.)"""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest
from support.http import DEMO, TIMEOUT, asgi_client, door

pytestmark = pytest.mark.anyio
ATTACKER = "cmcp_attacker_token_00000000000000000000"
OTHER = "cmcp_other_tenant_token_0000000000000000"
PROTOCOL = "2025-06-18"
JSON = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def initialize(token: str, **headers: str) -> dict[str, Any]:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    return {"json": body, "headers": {**JSON, "Authorization": f"Bearer {token}", **headers}}


async def open_session(http: httpx2.AsyncClient, token: str, **headers: str) -> httpx2.Response:
    return await http.post("/mcp", **initialize(token, **headers))


async def call(
    http: httpx2.AsyncClient, token: str, session: str, name: str, arguments: dict[str, Any]
) -> Any:
    headers = {
        **JSON,
        "Authorization": f"Bearer {token}",
        "Mcp-Session-Id": session,
        "Mcp-Protocol-Version": PROTOCOL,
    }
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await http.post("/mcp", json=note, headers=headers)).status_code == 202
    body = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    return await http.post("/mcp", json=body, headers=headers)


async def test_initialize_is_counted_by_the_rate_limit_and_other_tokens_still_open_sessions() -> None:
    d = door(tokens={ATTACKER: {"name": "attacker", "rate_limit": 5}, OTHER: {"name": "other"}})
    with anyio.fail_after(TIMEOUT):
        async with asgi_client(d.app) as http:
            answers = [await open_session(http, ATTACKER) for _ in range(8)]
            assert [a.status_code for a in answers] == [200] * 5 + [429] * 3
            refused = answers[-1]
            assert refused.headers["x-chift-refusal"] == "rate_limited"
            assert 1 <= int(refused.headers["retry-after"]) <= 60
            assert refused.json()["error"]["data"]["error"] == "rate_limited"
            assert len(d.extras["manager"]._server_instances) == 5
            mine = await open_session(http, OTHER)
            assert mine.status_code == 200
            # initialize does not use up the tool calls: the attacker's own session still calls 5 times
            session = answers[0].headers["mcp-session-id"]
            done = await call(
                http, ATTACKER, session, "accounting_get_clients", {"consumer_id": DEMO, "limit": 1}
            )
            assert '"isError":false' in done.text.replace(" ", "")


async def test_a_token_holds_at_most_its_sessions_and_a_closed_one_makes_room() -> None:
    d = door(
        tokens={ATTACKER: {"name": "attacker"}, OTHER: {"name": "other"}},
        settings={"http_max_sessions_per_token": 3},
    )
    with anyio.fail_after(TIMEOUT):
        async with asgi_client(d.app) as http:
            answers = [await open_session(http, ATTACKER) for _ in range(5)]
            assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
            assert answers[-1].headers["x-chift-refusal"] == "too_many_sessions"
            assert "CHIFT_HTTP_MAX_SESSIONS_PER_TOKEN" in answers[-1].json()["error"]["message"]
            assert (await open_session(http, OTHER)).status_code == 200
            first = answers[0].headers["mcp-session-id"]
            headers = {
                "Authorization": f"Bearer {ATTACKER}",
                "Mcp-Session-Id": first,
                "Mcp-Protocol-Version": PROTOCOL,
            }
            assert (await http.delete("/mcp", headers=headers)).status_code == 200
            assert (await open_session(http, ATTACKER)).status_code == 200


async def test_a_session_never_used_expires_after_the_unused_ttl_and_a_used_one_stays() -> None:
    d = door(tokens={ATTACKER: {"name": "attacker"}}, settings={"http_unused_session_ttl": 0.5})
    table = d.extras["manager"]._server_instances
    with anyio.fail_after(TIMEOUT):
        async with asgi_client(d.app) as http:
            unused = (await open_session(http, ATTACKER)).headers["mcp-session-id"]
            used = (await open_session(http, ATTACKER)).headers["mcp-session-id"]
            answer = await call(
                http, ATTACKER, used, "accounting_get_clients", {"consumer_id": DEMO, "limit": 1}
            )
            assert answer.status_code == 200
            assert set(table) == {unused, used}
            for _ in range(50):
                await anyio.sleep(0.1)
                if unused not in table:
                    break
            assert unused not in table
            assert used in table


def sandbox_requests(d: Any, part: str) -> int:
    return sum(part in r["path"] for r in d.runtime.sandbox_app.state.sandbox.log)


async def test_made_up_consumer_headers_cost_one_list_of_the_accounts_consumers_and_no_lookup() -> None:
    d = door(tokens={ATTACKER: {"name": "attacker", "rate_limit": 200}})
    with anyio.fail_after(TIMEOUT):
        async with asgi_client(d.app) as http:
            answers = [
                await open_session(http, ATTACKER, **{"X-Chift-Consumer-Id": f"made-up-{i}"})
                for i in range(100)
            ]
            assert {a.status_code for a in answers} == {403}
            assert answers[0].headers["x-chift-refusal"] == "unknown_consumer"
            assert "made-up-0" in answers[0].json()["error_description"]
            assert d.resolver.account is not None and d.resolver.account.fetches == 1
            assert sandbox_requests(d, "/consumers") == 1  # the list, no /connections
            real = await open_session(http, ATTACKER, **{"X-Chift-Consumer-Id": DEMO})
            assert real.status_code == 200


async def test_a_call_over_the_rate_limit_looks_nothing_up_and_a_token_cannot_evict_anothers_cache() -> None:
    d = door(tokens={ATTACKER: {"name": "attacker", "rate_limit": 2}, OTHER: {"name": "other"}})
    with anyio.fail_after(TIMEOUT):
        async with asgi_client(d.app) as http:
            mine = (await open_session(http, OTHER, **{"X-Chift-Consumer-Id": DEMO})).headers[
                "mcp-session-id"
            ]
            theirs = (await open_session(http, ATTACKER)).headers["mcp-session-id"]
            args = {"consumer_id": DEMO, "limit": 1}
            assert (await call(http, OTHER, mine, "accounting_get_clients", {"limit": 1})).status_code == 200
            before = sandbox_requests(d, "/connections")
            for _ in range(2):
                await call(http, ATTACKER, theirs, "accounting_get_clients", args)
            over = await call(http, ATTACKER, theirs, "accounting_get_clients", args)
            assert "RATE_LIMITED" in over.text
            assert sandbox_requests(d, "/connections") == before
    # one caller holds at most a quarter of the cached consumers, and drops its own oldest first
    access = d.resolver
    access._consumer(DEMO, "other")
    for i in range(access.per_caller + 5):
        access._may_look_up = lambda who: True  # type: ignore[method-assign]
        access._consumer(f"c{i}", "attacker")
    assert DEMO in access._consumers
    assert access._held["attacker"] == access.per_caller


async def test_a_token_has_at_most_its_lookups_a_minute_then_gets_the_configured_domains() -> None:
    d = door(tokens={ATTACKER: {"name": "attacker"}}, settings={"http_consumer_lookups": 3})
    access = d.resolver
    looked_up = [access._consumer(f"c{i}", "attacker") is not None for i in range(6)]
    assert looked_up == [True, True, True, False, False, False]
    assert access._consumer("c0", "attacker") is not None  # a cached one costs nothing
