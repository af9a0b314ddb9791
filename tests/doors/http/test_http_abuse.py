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


async def test_closed_sessions_of_callers_that_never_come_back_are_forgotten() -> None:
    """With --auth chift each Chift token is a caller of its own (30 minutes' lifetime): the sessions the
    SDK closed must not pile up, one owner per token, waiting for that token to open another."""
    from dataclasses import dataclass

    from chift_mcp.doors.http.guard import CALLER_KEY
    from chift_mcp.doors.http.sessions import SWEEP_FLOOR, SessionQuota
    from chift_mcp.tools.access import Caller

    @dataclass(frozen=True)
    class Grant:
        name: str
        rate_limit: int | None = None

    live: dict[str, object] = {}  # the SDK's table of open sessions

    async def sdk(scope: Any, receive: Any, send: Any) -> None:  # opens one, answers its id
        sid = f"s{len(live)}-{scope[CALLER_KEY].grant.name}"
        live[sid] = object()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"mcp-session-id", sid.encode())]}
        )
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    quota = SessionQuota(sdk, instances=lambda: live, per_token=5, unused_ttl=5)
    kept = [f"kept-{i}" for i in range(3)]
    for token in [*kept, *(f"chift:{i}" for i in range(1000))]:
        scope = {"type": "http", "method": "POST", "headers": [], CALLER_KEY: Caller(Grant(token))}
        await quota(scope, receive, send)
        if token.startswith("chift:"):  # closed by the SDK (idle, DELETE) before the next token comes
            live.pop(next(s for s in live if s.endswith(token)))
    assert len(quota._sessions) <= SWEEP_FLOOR and len(quota._owned) <= SWEEP_FLOOR
    assert all(quota.open_sessions(k) == 1 for k in kept)  # open ones are never forgotten


async def test_a_session_never_used_expires_after_the_unused_ttl_and_a_used_one_stays() -> None:
    d = door(tokens={ATTACKER: {"name": "attacker"}}, settings={"http_unused_session_ttl": 1.5})
    table = d.extras["manager"]._server_instances
    with anyio.fail_after(TIMEOUT):
        async with asgi_client(d.app) as http:
            used = (await open_session(http, ATTACKER)).headers["mcp-session-id"]
            answer = await call(
                http, ATTACKER, used, "accounting_get_clients", {"consumer_id": DEMO, "limit": 1}
            )
            assert answer.status_code == 200
            unused = (await open_session(http, ATTACKER)).headers["mcp-session-id"]
            opened = anyio.current_time()
            assert unused in table
            while unused in table and anyio.current_time() - opened < 10:
                await anyio.sleep(0.05)
            assert unused not in table
            assert 1.0 < anyio.current_time() - opened < 5  # its ttl, not the 30-minute idle timeout
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


# ------------------------------------------------------------------ request heads and connections


async def hello(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def guarded(**limits: Any) -> tuple[Any, int]:
    import socket

    import uvicorn

    from chift_mcp.doors.http.connections import guarded_protocol

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    protocol = guarded_protocol(
        **{"head_timeout": 0.5, "max_head_bytes": 8192, "max_connections": 16, **limits}
    )
    config = uvicorn.Config(
        hello, http=protocol, lifespan="off", log_level="warning", timeout_graceful_shutdown=0
    )
    return (uvicorn.Server(config), sock), sock.getsockname()[1]


async def read_all(stream: Any) -> bytes:
    out = b""
    with anyio.move_on_after(5):
        try:
            while chunk := await stream.receive():
                out += chunk
        except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError):
            pass
    return out


async def get_kept_alive(stream: Any) -> bytes:
    """One request on a kept-alive connection, and its whole answer (``hello``'s body ends it)."""
    await stream.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    out = b""
    while not out.endswith(b"\r\n\r\nok"):
        out += await stream.receive()
    return out


async def test_request_heads_have_a_time_and_a_size_limit_and_connections_a_cap() -> None:
    (server, sock), port = await guarded()
    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            while not server.started:
                await anyio.sleep(0.01)
            # a head that never ends: 408 and closed after head_timeout
            slow = await anyio.connect_tcp("127.0.0.1", port)
            await slow.send(b"POST /mcp HTTP/1.1\r\nHost: x\r\n")
            started = anyio.current_time()
            answer = await read_all(slow)
            assert answer.startswith(b"HTTP/1.1 408"), answer
            assert anyio.current_time() - started < 2
            # a header line past the size limit: 431 and closed
            big = await anyio.connect_tcp("127.0.0.1", port)
            await big.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000)
            assert (await read_all(big)).startswith(b"HTTP/1.1 431")
            # a 1 MB one: closed once past the limit (the rest is never read, so the client may see
            # a reset rather than the 431)
            huge = await anyio.connect_tcp("127.0.0.1", port)
            try:
                await huge.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
                for _ in range(16):
                    await huge.send(b"a" * 65536)
            except (anyio.BrokenResourceError, ConnectionError):
                pass
            started = anyio.current_time()
            assert not (await read_all(huge)).startswith(b"HTTP/1.1 200")
            assert anyio.current_time() - started < 2
            server.should_exit = True


async def test_past_the_connection_cap_the_oldest_half_sent_head_is_dropped_not_a_new_request() -> None:
    (server, sock), port = await guarded(head_timeout=60)
    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            while not server.started:
                await anyio.sleep(0.01)
            # 16 half-open heads fill the cap: a whole request still gets through, the oldest goes
            waiting = [await anyio.connect_tcp("127.0.0.1", port) for _ in range(16)]
            for stream in waiting:
                await stream.send(b"GET / HTTP/1.1\r\n")
            await anyio.sleep(0.05)
            ok = await anyio.connect_tcp("127.0.0.1", port)
            await ok.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert (await read_all(ok)).startswith(b"HTTP/1.1 200")
            started = anyio.current_time()
            assert await read_all(waiting[0]) == b""  # dropped without an answer, at once
            assert anyio.current_time() - started < 1
            assert len(server.server_state.connections) <= 16
            server.should_exit = True


async def test_past_the_connection_cap_the_oldest_idle_keep_alive_connection_is_dropped() -> None:
    # idle keep-alive connections (uvicorn keeps them 5 s) must not hold the slots: re-sending a cheap
    # request on each every few seconds would otherwise lock every new client out
    (server, sock), port = await guarded(head_timeout=60)
    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            while not server.started:
                await anyio.sleep(0.01)
            idle = []
            for _ in range(16):  # each one whole request answered, then kept alive
                stream = await anyio.connect_tcp("127.0.0.1", port)
                assert (await get_kept_alive(stream)).startswith(b"HTTP/1.1 200")
                idle.append(stream)
            # the oldest is used again: now idle[1] has been idle longest
            assert (await get_kept_alive(idle[0])).startswith(b"HTTP/1.1 200")
            ok = await anyio.connect_tcp("127.0.0.1", port)
            await ok.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert (await read_all(ok)).startswith(b"HTTP/1.1 200")
            started = anyio.current_time()
            assert await read_all(idle[1]) == b""  # dropped, at once
            assert anyio.current_time() - started < 1
            assert (await get_kept_alive(idle[0])).startswith(b"HTTP/1.1 200")  # the others still serve
            assert len(server.server_state.connections) <= 16
            server.should_exit = True


# ------------------------------------------------------------------ shutting down


async def test_on_drain_a_create_waiting_on_a_slow_chift_answers_with_its_client_request_id() -> None:
    d = door(
        tokens={OTHER: {"name": "other"}}, settings={"http_drain_timeout": 2.0, "upstream_concurrency": 1}
    )
    d.runtime.sandbox_app.state.sandbox.faults.add(
        match="accounting_create_client", kind="latency", latency=6
    )
    args = {"consumer_id": DEMO, "name": "Drained", "addresses": []}
    with anyio.fail_after(TIMEOUT):
        async with asgi_client(d.app) as http:
            sessions = [(await open_session(http, OTHER)).headers["mcp-session-id"] for _ in range(2)]
            answers: list[httpx2.Response] = []

            async def create(session: str) -> None:
                answers.append(await call(http, OTHER, session, "accounting_create_client", args))

            async with anyio.create_task_group() as tg:
                for session in sessions:  # one waits on Chift, the other for its slot behind it
                    tg.start_soon(create, session)
                await anyio.sleep(0.5)
                started = anyio.current_time()
                d.extras["drain"].start()
            assert anyio.current_time() - started < 2.0  # inside the drain window
    assert len(answers) == 2
    for answer in answers:
        assert answer.status_code == 200
        assert '"isError":true' in answer.text.replace(" ", "").replace("\\", "")
        assert "client_request_id" in answer.text
        assert "CHIFT_UNREACHABLE" in answer.text
