"""Code mode's shared limits: who gets a worker (per caller, the pool, the wait), and values that expand
(a program's value or an operation's arguments) measured while converted, off the event loop."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import pytest
from mcp import Client

from chift_mcp.app import Runtime
from chift_mcp.errors import Busy
from chift_mcp.modes.code.admission import Admission
from chift_mcp.modes.code.values import MAX_DEPTH, TooDeep, TooLarge, to_json_value
from chift_mcp.settings import Settings
from chift_mcp.tools.result import dumps

pytestmark = pytest.mark.anyio
DEMO = "11111111-1111-4111-8111-111111111111"


def bomb(n: int) -> str:
    return f"x = [1]\nfor i in range({n}):\n    x = [x, x]\n"


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    "value",
    [
        [1, "a", None, True, False, 1.5, -12345, {"a": [1, 2], "b": {}}, [], ""],
        {"ünïcode": "é€", "n": 10**40, "f": 1e-3},
        {(1, (2, 3)): None, 1: 2, None: 3, 2.5: "x", False: 1},
        ["".join(map(chr, range(128))) + '\u2028\xad"\\é', {'k\x00"\n': "\t"}, {("\x01", 2): 0}],
    ],
)
def test_a_value_is_converted_and_its_size_is_its_json_length(value: Any) -> None:
    data, size = to_json_value(value, 10_000)
    assert size == len(dumps(data))
    assert to_json_value(data, 10_000) == (data, size)


def test_a_string_is_counted_with_its_json_escapes() -> None:
    # a control character is written \u00XX: 1000 of them are 6002 characters of JSON, not 1002
    with pytest.raises(TooLarge):
        to_json_value(["\x00" * 1000], 2000)
    with pytest.raises(TooLarge):
        to_json_value({"\x1f" * 1000: 1}, 2000)
    data, size = to_json_value(["\x00" * 1000], 6004)
    assert size == len(dumps(data)) == 6004


def test_non_json_values_become_text_never_their_repr() -> None:
    class Holder:  # stands for any object of no JSON type: its repr could expand what it holds
        def __repr__(self) -> str:
            raise AssertionError("repr must not be called")

    data, _ = to_json_value([float("nan"), float("inf"), b"ab\xff", {1, 2}, (3,), Holder()], 1000)
    assert data == [None, None, "ab\ufffd", [1, 2], [3], "<Holder>"]


def test_a_value_that_shares_its_parts_stops_at_the_cap_without_expanding() -> None:
    x: list[Any] = [1]
    for _ in range(60):  # 2^60 items once written out
        x = [x, x]
    started = time.perf_counter()
    with pytest.raises(TooLarge) as caught:
        to_json_value(x, 100_000)
    assert caught.value.size > 100_000
    assert time.perf_counter() - started < 0.5  # a shared part met again is not walked again
    key: tuple[Any, ...] = (1,)
    for _ in range(18):  # a key too (not deeper: CPython hashes a tuple by expanding it)
        key = (key, key)
    with pytest.raises(TooLarge) as caught:
        to_json_value({key: 1}, 1000)
    assert caught.value.size < 1010


def test_a_value_nested_past_the_encoders_depth_is_refused() -> None:
    x: list[Any] = [1]
    for _ in range(MAX_DEPTH - 1):
        x = [x]
    data, _ = to_json_value(x, 10_000)
    dumps({"result": data})  # the encoder takes it, wrapped in the answer
    with pytest.raises(TooDeep):
        to_json_value([x], 10_000)
    with pytest.raises(TooDeep):  # a shared part, met again deeper than it was first
        to_json_value([x[0], x], 10_000)


def test_shared_parts_are_counted_each_time_they_would_be_written() -> None:
    x: list[Any] = [1, "ab"]
    for _ in range(10):
        x = [x, {"k": x}]
    data, size = to_json_value({"a": x, "b": [x, x]}, 10**7)
    assert size == len(dumps(data)) > 3 * 2**10


# --------------------------------------------------------------------------- admission


async def test_one_caller_gets_at_most_its_share_of_the_workers_and_then_a_busy_error() -> None:
    admission = Admission(workers=3, per_caller=5, wait=0.3)  # the share is capped at workers - 1
    assert admission.per_caller == 2
    async with admission.admitted("hog"), admission.admitted("hog"):
        started = time.monotonic()
        with pytest.raises(Busy) as caught:
            async with admission.admitted("hog"):
                pass
        waited = time.monotonic() - started
        async with admission.admitted("victim") as victim_waited:
            assert victim_waited < 0.05
    payload = caught.value.payload()
    assert 0.3 <= waited < 1
    assert payload["error"] == "BUSY" and payload["retryable"] is True and payload["retry_after"] >= 1
    assert payload["limit"] == "programs per caller" and payload["value"] == 2
    assert payload["setting"] == "CHIFT_CODE_MAX_PROGRAMS_PER_CALLER"
    assert "CHIFT_CODE_MAX_PROGRAMS_PER_CALLER=2" in payload["message"] and payload["hint"]
    assert admission.running == {}


async def test_a_program_of_no_known_caller_has_no_share_only_the_pool() -> None:
    # over stdio (or HTTP without authentication) there is no other caller to leave a worker to
    admission = Admission(workers=4, per_caller=2, wait=0.2)
    async with (
        admission.admitted(None),
        admission.admitted(None),
        admission.admitted(None),
        admission.admitted(None) as waited,
    ):
        assert waited < 0.05 and admission.running == {}
        with pytest.raises(Busy) as caught:
            async with admission.admitted(None):
                pass
    assert caught.value.payload()["setting"] == "CHIFT_CODE_WORKERS"


async def test_a_full_pool_makes_a_program_wait_then_refuses_it_naming_the_pool() -> None:
    admission = Admission(workers=2, per_caller=2, wait=0.5)
    waits: list[float] = []

    async def hold(caller: str, seconds: float) -> None:
        async with admission.admitted(caller) as waited:
            waits.append(waited)
            await anyio.sleep(seconds)

    async with anyio.create_task_group() as tg:
        tg.start_soon(hold, "a", 0.3)
        tg.start_soon(hold, "b", 2.0)
        await anyio.sleep(0.05)
        await hold("c", 0)  # gets a's worker when a ends: it waited about 0.25 s
        assert 0.15 < waits[-1] < 0.5
        tg.start_soon(hold, "d", 1.0)  # b holds one worker, d the other: e waits 0.5 s in vain
        await anyio.sleep(0.05)
        with pytest.raises(Busy) as caught:
            await hold("e", 0)
    assert caught.value.payload()["setting"] == "CHIFT_CODE_WORKERS"


async def test_the_wait_is_cut_to_what_the_request_has_left() -> None:
    admission = Admission(workers=2, per_caller=1, wait=5)
    async with admission.admitted("a"):
        started = time.monotonic()
        with pytest.raises(Busy):
            async with admission.admitted("a", within=0.2):
                pass
        assert time.monotonic() - started < 1


# --------------------------------------------------------------------------- through the protocol


async def test_bombs_end_as_tool_errors_while_other_calls_answer() -> None:
    """A 2^30-item value and a 2^30-item argument end as LIMIT_EXCEEDED within seconds, nothing is
    sent to Chift, and a plain call made meanwhile answers within 2 s."""
    runtime = Runtime.open(Settings(tool_mode="code", code_max_result_chars=200_000), sandbox=True)
    answers: dict[str, Any] = {}
    slowest = 0.0

    async def execute(client: Client, name: str, code: str) -> None:
        started = time.perf_counter()
        result = await client.call_tool("execute", {"code": code})
        answers[name] = (result.is_error, json.loads(result.content[0].text), time.perf_counter() - started)  # type: ignore[union-attr]

    try:
        with anyio.fail_after(60):
            async with Client(runtime.server()) as client:
                await client.call_tool("execute", {"code": "1"})  # a warm worker
                async with anyio.create_task_group() as tg:
                    tg.start_soon(execute, client, "value", bomb(30) + "x")
                    tg.start_soon(
                        execute, client, "argument", bomb(30) + "accounting_get_clients(limit=1, fields=x)"
                    )
                    while len(answers) < 2:
                        started = time.perf_counter()
                        await client.call_tool("find_operations", {"query": "clients", "limit": 3})
                        slowest = max(slowest, time.perf_counter() - started)
                        await anyio.sleep(0.05)
    finally:
        await runtime.aclose()
    for name, limit in (("value", "result size"), ("argument", "argument size")):
        failed, body, seconds = answers[name]
        assert failed and body["error"] == "LIMIT_EXCEEDED" and body["limit"] == limit, body
        assert body["actual"] == "more than 200000" and seconds < 5
    assert slowest < 2
    assert not [
        e for e in runtime.sandbox_app.state.sandbox.log if e["operation_id"] == "accounting_get_clients"
    ]


async def test_waiting_for_a_worker_does_not_use_up_the_programs_wall_time() -> None:
    """One worker: the second program waits about 2.7 s for the first (an endless loop, cut at 3 s),
    then runs for about half a second within its own 3 s: it answers more than 3 s after it was sent,
    where counting the wait would have cut it."""
    runtime = Runtime.open(
        Settings(tool_mode="code", code_timeout=3, code_workers=1, code_queue_timeout=5), sandbox=True
    )
    answers: dict[str, Any] = {}

    async def execute(client: Client, name: str, code: str) -> None:
        started = time.perf_counter()
        result = await client.call_tool("execute", {"code": code})
        body = json.loads(result.content[0].text)  # type: ignore[union-attr]
        answers[name] = (result.is_error, body, time.perf_counter() - started)

    try:
        with anyio.fail_after(30):
            async with Client(runtime.server()) as client, anyio.create_task_group() as tg:
                tg.start_soon(execute, client, "endless", "while True:\n    pass")
                await anyio.sleep(0.3)
                tg.start_soon(execute, client, "waiting", "n = 0\nfor i in range(15000000):\n    n += i\nn")
    finally:
        await runtime.aclose()
    assert answers["endless"][1]["limit"] == "wall time"
    failed, body, seconds = answers["waiting"]
    assert not failed and body["result"] == sum(range(15000000)), body
    assert seconds > 3


async def test_the_one_client_over_stdio_runs_as_many_programs_as_there_are_workers() -> None:
    """In memory, as over stdio: two endless programs on two workers both run (and end at their wall
    time), where a share of workers - 1 would have refused the second BUSY after the 0.3 s wait."""
    runtime = Runtime.open(
        Settings(tool_mode="code", code_timeout=1.5, code_workers=2, code_queue_timeout=0.3), sandbox=True
    )
    answers: list[dict[str, Any]] = []

    async def execute(client: Client) -> None:
        result = await client.call_tool("execute", {"code": "while True:\n    pass"})
        answers.append(json.loads(result.content[0].text))  # type: ignore[union-attr]

    try:
        with anyio.fail_after(30):
            async with Client(runtime.server()) as client:
                await client.call_tool("execute", {"code": "1"})  # a warm worker
                async with anyio.create_task_group() as tg:
                    tg.start_soon(execute, client)
                    tg.start_soon(execute, client)
    finally:
        await runtime.aclose()
    assert [a.get("limit") for a in answers] == ["wall time", "wall time"], answers
