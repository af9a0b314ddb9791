"""A call never runs past CALL_DEADLINE, and a write it cuts off says how to check its outcome.

The clock is injected: the fake upstream "takes" time by moving it (up to the timeout the client set
for the attempt) and the client's sleep moves it too; only the hanging-upstream tests use real
(short) time, bounded by ``anyio.fail_after``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import pytest

from chift_mcp.chift.client import CALL_DEADLINE, ChiftClient, deadline_in
from chift_mcp.errors import ChiftAPIError, UnreachableError

BASE = "https://chift.test"
CONSUMER = "11111111-2222-4333-8444-555555555555"
INVOICES = f"/consumers/{CONSUMER}/invoicing/invoices"
LOOKUP = f"/consumers/{CONSUMER}/connections/{{connection_id}}/transactions?client_request_id=r-1"

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Upstream:
    """Tokens on /token; elsewhere each request is handled by ``answer(request)``."""

    def __init__(self, clock: Clock, answer: Callable[[httpx2.Request], Any]) -> None:
        self.clock = clock
        self.answer = answer
        self.requests: list[httpx2.Request] = []

    async def handler(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/token":
            return httpx2.Response(200, json={"access_token": "tok-123456", "expires_in": 1800})
        self.requests.append(request)
        result = self.answer(request)
        if hasattr(result, "__await__"):
            result = await result
        if isinstance(result, Exception):
            raise result
        assert isinstance(result, httpx2.Response)
        return result

    def times_out(self, request: httpx2.Request) -> Exception:
        """No answer: the attempt lasts as long as the read timeout the client gave it."""
        self.clock.now += request.extensions["timeout"]["read"]
        return httpx2.ReadTimeout("timed out")


def client(upstream: Upstream, clock: Clock, sleeps: list[float] | None = None, **kw: Any) -> ChiftClient:
    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)
        clock.now += seconds

    return ChiftClient(
        base_url=BASE,
        client_id="id",
        client_secret="secret-value",
        account_id="acc",
        transport=httpx2.MockTransport(upstream.handler),
        sleep=sleep,
        monotonic=clock,
        **kw,
    )


async def test_the_defaults_give_up_on_a_create_inside_the_limit_and_say_how_to_check_it() -> None:
    """A create with no answer within the 60 s read timeout is not resent (Chift is likely still at it:
    a resend would meet REQUEST_IN_PROCESS): one attempt, inside the door's 120 s, and the hint says
    how to check it."""
    clock = Clock()
    upstream = Upstream(clock, lambda r: upstream.times_out(r))
    with deadline_in(115, clock=clock):
        async with client(upstream, clock) as c:
            with pytest.raises(UnreachableError) as info:
                await c.request("POST", INVOICES, json={"number": "F1"}, request_id="r-1")
    assert clock.now == pytest.approx(1000.0 + 60)
    assert len(upstream.requests) == 1
    err = info.value
    assert "no answer within 60 s" in err.message and INVOICES in err.message
    assert err.payload()["client_request_id"] == "r-1"
    hint = err.hint or ""
    assert hint.index("connections_get_transactions") < hint.index("list the resource")
    assert LOOKUP in hint and "Do not resend the create" in hint


async def test_the_defaults_give_up_on_a_read_inside_the_limit() -> None:
    """A read that times out is retried with what is left of the 115 s, and ends at the deadline."""
    clock = Clock()
    upstream = Upstream(clock, lambda r: upstream.times_out(r))
    with deadline_in(115, clock=clock) as deadline:
        async with client(upstream, clock) as c:
            with pytest.raises(UnreachableError) as info:
                await c.request("GET", INVOICES)
    assert clock.now == pytest.approx(deadline)  # not a moment past it
    assert len(upstream.requests) == 2  # 60 s, then what is left of the 115 s
    assert upstream.requests[-1].extensions["timeout"]["read"] < 60
    assert "ran out" in info.value.message


async def test_a_read_out_of_time_is_a_retryable_error_that_says_so() -> None:
    clock = Clock()
    sleeps: list[float] = []
    busy = httpx2.Response(503, headers={"Retry-After": "4"})
    upstream = Upstream(clock, lambda r: busy)
    with deadline_in(10, clock=clock):
        async with client(upstream, clock, sleeps, max_retries=5, retry_budget=60) as c:
            with pytest.raises(UnreachableError) as info:
                await c.request("GET", INVOICES)
    assert sleeps == [4.0, 4.0]  # a third 4 s wait would leave no time for the attempt after it
    err = info.value
    assert err.retryable is True and "time for this call ran out after 3 attempts" in err.message
    assert "transactions" not in (err.hint or "") and "wait 4 s" in (err.hint or "")
    assert CALL_DEADLINE.get() is None  # deadline_in restores what was there


async def test_a_write_that_reached_no_one_may_simply_be_retried() -> None:
    clock = Clock()

    def refused(request: httpx2.Request) -> Exception:
        clock.now += 6
        return httpx2.ConnectError("refused")

    upstream = Upstream(clock, refused)
    with deadline_in(10, clock=clock):
        async with client(upstream, clock) as c:
            with pytest.raises(UnreachableError) as info:
                await c.request("POST", INVOICES, json={}, request_id="r-1")
    assert "transactions" not in (info.value.hint or "") and "Retry" in (info.value.hint or "")


async def test_nothing_is_sent_once_the_deadline_has_passed() -> None:
    clock = Clock()
    upstream = Upstream(clock, lambda r: httpx2.Response(200, json={}))
    with deadline_in(-1, clock=clock):
        async with client(upstream, clock) as c:
            with pytest.raises(UnreachableError) as info:
                await c.request("POST", INVOICES, json={}, request_id="r-1")
    assert upstream.requests == []
    assert "before anything was sent" in info.value.message
    assert "transactions" not in (info.value.hint or "")


async def test_an_earlier_deadline_wins_and_answers_in_time_are_untouched() -> None:
    clock = Clock()
    upstream = Upstream(clock, lambda r: httpx2.Response(200, json={"ok": True}))
    with deadline_in(50, clock=clock) as outer, deadline_in(100, clock=clock) as inner:
        assert inner == outer == clock.now + 50
        async with client(upstream, clock, timeout=30) as c:
            assert await c.request("GET", INVOICES) == {"ok": True}
    assert upstream.requests[0].extensions["timeout"]["read"] == 30


async def test_without_a_deadline_the_configured_timeouts_apply() -> None:
    clock = Clock()
    upstream = Upstream(clock, lambda r: error_409())
    async with client(upstream, clock, timeout=12, connect_timeout=3) as c:
        with pytest.raises(ChiftAPIError):
            await c.request("GET", INVOICES)
    assert upstream.requests[0].extensions["timeout"] == {"connect": 3, "read": 12, "write": 12, "pool": 12}


def error_409() -> httpx2.Response:
    return httpx2.Response(409, json={"status": "error", "message": "conflict"})


async def test_a_hanging_create_is_cut_off_at_the_deadline() -> None:
    """The upstream never answers (and a transport's per-read timeout would not stop a slow trickle):
    the attempt itself ends at the deadline, and the create may have gone through."""
    never = anyio.Event()

    async def hang(request: httpx2.Request) -> httpx2.Response:
        await never.wait()
        raise AssertionError("unreachable")

    upstream = Upstream(Clock(), hang)
    with anyio.fail_after(5), deadline_in(0.7):
        async with ChiftClient(
            base_url=BASE,
            client_id="id",
            client_secret="secret-value",
            account_id="acc",
            transport=httpx2.MockTransport(upstream.handler),
        ) as c:
            with pytest.raises(UnreachableError) as info:
                await c.request("POST", INVOICES, json={}, request_id="r-1")
            with pytest.raises(UnreachableError) as read:
                await c.request("GET", INVOICES)
    assert LOOKUP in (info.value.hint or "")
    assert "before anything was sent" in read.value.message  # the first call used the time up
