"""The stdio door's own line transport: capped messages (in process, on pipes) and SIGINT (a real
process, marked slow)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from support.processes import SandboxAdmin, running_sandbox, server_env

from chift_mcp.app import Runtime
from chift_mcp.doors.stdio import LineWire, serve_wire
from chift_mcp.settings import Settings

pytestmark = pytest.mark.anyio
DEMO = "11111111-1111-4111-8111-111111111111"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}


def call(request_id: int, **arguments: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "accounting_get_clients", "arguments": {"consumer_id": DEMO, **arguments}},
    }


def line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


class Pipes:
    """The server's stdin and stdout as two pipes; this side writes whole lines and reads answers."""

    def __init__(self) -> None:
        self.server_in, self.to_server = os.pipe()
        self.from_server, self.server_out = os.pipe()
        self.pending = b""

    async def send(self, data: bytes) -> None:
        def write_all() -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(self.to_server, view) :]

        await anyio.to_thread.run_sync(write_all)

    async def answer(self) -> dict[str, Any]:
        while b"\n" not in self.pending:
            chunk = await anyio.to_thread.run_sync(os.read, self.from_server, 65536)
            assert chunk, "the server closed its output"
            self.pending += chunk
        first, _, self.pending = self.pending.partition(b"\n")
        return dict(json.loads(first))


@pytest.fixture
async def pipes() -> AsyncIterator[Pipes]:
    runtime = Runtime.open(Settings(), sandbox=True)
    p = Pipes()
    wire = LineWire(p.server_in, p.server_out, max_message=64 * 1024)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: serve_wire(runtime.server(), wire, sigint=False))
            yield p
            os.close(p.to_server)  # EOF: the server stops
    finally:
        wire.close()
        for fd in (p.server_in, p.server_out, p.from_server):
            os.close(fd)
        await runtime.aclose()


async def test_an_over_long_line_gets_a_json_rpc_error_with_its_id_and_the_server_goes_on(
    pipes: Pipes,
) -> None:
    big = call(7, search="x" * 200_000)  # over 64 KiB: skipped as it is read
    with anyio.fail_after(30):
        await pipes.send(line(INIT))
        assert (await pipes.answer())["id"] == 1
        await pipes.send(line({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        await pipes.send(line(big) + line(call(8, limit=2)))
        refused = await pipes.answer()
        served = await pipes.answer()
        # Split across writes, the limit still holds, and an id that cannot be read is null.
        await pipes.send(
            b'{"jsonrpc": "2.0", "method": "tools/call", "params": {"padding": "' + b"y" * 70_000
        )
        await pipes.send(b'"}, "id": 9}\n' + line(call(10, limit=1)))
        unknown_id = await pipes.answer()
        after = await pipes.answer()
    assert refused["id"] == 7 and refused["error"]["code"] == -32600
    assert (
        "message too large" in refused["error"]["message"]
        and "CHIFT_STDIO_MAX_MESSAGE" in refused["error"]["message"]
    )
    assert served["id"] == 8 and len(served["result"]["structuredContent"]["items"]) == 2
    assert unknown_id["id"] is None and unknown_id["error"]["code"] == -32600
    assert after["id"] == 10 and not after["result"]["isError"]


def readline(proc: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    """The next stdout line as JSON, or a failure after ``timeout`` seconds (never a hung test)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no answer within {timeout} s"
    return dict(json.loads(proc.stdout.readline()))


@pytest.mark.slow
def test_sigint_lets_the_call_in_flight_answer_then_exits_though_stdin_stays_open() -> None:
    with running_sandbox() as url:
        admin = SandboxAdmin(url)
        admin.reset()
        admin.fault(match="accounting_get_clients", kind="latency", latency=1.5)
        proc = subprocess.Popen(
            [sys.executable, "-m", "chift_mcp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=server_env(url),
        )
        try:
            assert proc.stdin and proc.stdout
            proc.stdin.write(line(INIT))
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline())["id"] == 1
            proc.stdin.write(
                line({"jsonrpc": "2.0", "method": "notifications/initialized"}) + line(call(2, limit=1))
            )
            proc.stdin.flush()
            deadline = time.monotonic() + 10
            while admin.http.get("/_sandbox/faults").json():  # taken: the call is in flight
                assert time.monotonic() < deadline
                time.sleep(0.02)
            proc.send_signal(signal.SIGINT)
            answer = readline(proc, 10)  # stdin is still open
            started = time.monotonic()
            code = proc.wait(timeout=10)
            exited_in = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
            admin.clear()
            admin.close()
        stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert answer["id"] == 2 and len(answer["result"]["structuredContent"]["items"]) == 1, (
        answer,
        stderr[-3000:],
    )
    assert code == 130 and exited_in < 3, (code, exited_in, stderr[-2000:])
    assert "Traceback" not in stderr


MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "ai-sdk-mcp-client", "version": "1.0.0"},
}


def modern(request_id: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": method,
        "params": {**(params or {}), "_meta": MODERN_META},
    }


class Unstarted(Pipes):
    """Pipes whose server starts only when asked: what a client writes before is what a slow start
    (uvx: about 4 s) leaves waiting on the pipe."""

    runtime: Any = None


@pytest.fixture
async def unstarted() -> AsyncIterator[tuple[Unstarted, Any]]:
    runtime = Runtime.open(Settings(), sandbox=True)
    p = Unstarted()
    p.runtime = runtime
    wire = LineWire(p.server_in, p.server_out, max_message=64 * 1024)
    try:
        async with anyio.create_task_group() as tg:

            def start() -> None:
                tg.start_soon(lambda: serve_wire(runtime.server(), wire, sigint=False))

            yield p, start
            os.close(p.to_server)
    finally:
        wire.close()
        for fd in (p.server_in, p.server_out, p.from_server):
            os.close(fd)
        await runtime.aclose()


async def test_initialize_one_second_after_an_unanswered_server_discover_is_served(
    unstarted: tuple[Unstarted, Any],
) -> None:
    """@ai-sdk/mcp over stdio: server/discover, 1 s without an answer, then initialize on the same
    pipe. Both are answered, and the session then works in the era of the handshake."""
    pipes, start = unstarted
    with anyio.fail_after(30):
        await pipes.send(line(modern(0, "server/discover")))
        await anyio.sleep(1)  # the client's DEFAULT_PROTOCOL_DISCOVERY_TIMEOUT; the server is still starting
        await pipes.send(
            line({**INIT, "id": 1, "params": {**INIT["params"], "protocolVersion": "2025-11-25"}})
        )
        start()
        answers = {a["id"]: a for a in [await pipes.answer(), await pipes.answer()]}
        await pipes.send(
            line({"jsonrpc": "2.0", "method": "notifications/initialized"}) + line(call(2, limit=1))
        )
        called = await pipes.answer()
    assert "2026-07-28" in answers[0]["result"]["supportedVersions"], answers[0]
    assert answers[0]["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "chift", answers[0]
    assert answers[1]["result"]["protocolVersion"] == "2025-11-25", answers[1]
    assert answers[1]["result"]["serverInfo"]["name"] == "chift"
    assert called["id"] == 2 and len(called["result"]["structuredContent"]["items"]) == 1, called


async def test_a_modern_request_after_an_initialize_is_served_too(pipes: Pipes) -> None:
    """The reverse: a client that opened with initialize and then speaks 2026-07-28 is answered in
    that era, not refused."""
    with anyio.fail_after(30):
        await pipes.send(line(INIT))
        assert "result" in await pipes.answer()
        await pipes.send(
            line(
                modern(
                    2,
                    "tools/call",
                    {"name": "accounting_get_clients", "arguments": {"consumer_id": DEMO, "limit": 2}},
                )
            )
        )
        answer = await pipes.answer()
        await pipes.send(line(modern(3, "server/discover")))
        discovered = await pipes.answer()
    assert answer["id"] == 2 and answer["result"]["resultType"] == "complete", answer
    assert len(answer["result"]["structuredContent"]["items"]) == 2
    assert discovered["id"] == 3 and "tools" in discovered["result"]["capabilities"], discovered


async def test_stdin_closed_with_calls_in_flight_answers_them_all(unstarted: tuple[Unstarted, Any]) -> None:
    """A client that writes its requests and closes stdin reads every answer, then EOF: each call
    still waits on Chift (0.3 s of sandbox latency) when the server reads the end of its input."""
    pipes, start = unstarted
    pipes.runtime.sandbox_app.state.sandbox.faults.add(
        match="accounting_get_clients", kind="latency", latency=0.3, times=5
    )
    requests = [call(i, limit=i) for i in range(2, 7)]
    await pipes.send(line(INIT) + line({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    await pipes.send(b"".join(line(r) for r in requests))
    os.close(pipes.to_server)
    pipes.to_server = os.open(os.devnull, os.O_WRONLY)  # the fixture closes it again
    start()
    with anyio.fail_after(30):
        answers = [await pipes.answer() for _ in range(1 + len(requests))]
    by_id = {a["id"]: a for a in answers}
    assert sorted(by_id) == [1, 2, 3, 4, 5, 6], answers
    for i in range(2, 7):
        assert len(by_id[i]["result"]["structuredContent"]["items"]) == i, by_id[i]
