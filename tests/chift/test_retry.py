"""The retry policy on its own: count, budget, full-jitter backoff, Retry-After, the call's deadline."""

from __future__ import annotations

import email.utils

import httpx2
import pytest

from chift_mcp.chift.retry import Call, Next, RetryPolicy, retry_after

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def policy(slept: list[float], **kw: object) -> RetryPolicy:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return RetryPolicy(sleep=sleep, jitter=lambda low, high: high, **kw)  # type: ignore[arg-type]


async def test_backoff_doubles_up_to_the_retry_count() -> None:
    slept: list[float] = []
    p, call = policy(slept, max_retries=3, backoff_base=0.5), Call("GET", "/x", None)
    assert [await p.pause(call, None, None) for _ in range(4)] == [Next.RETRY] * 3 + [Next.GIVE_UP]
    assert slept == [0.5, 1.0, 2.0] and call.retries == 3 and call.waited == 3.5


async def test_retry_after_is_honoured_within_the_budget() -> None:
    slept: list[float] = []
    p, call = policy(slept, max_retries=5, budget=30), Call("GET", "/x", None)
    assert await p.pause(call, 20, None) is Next.RETRY
    assert await p.pause(call, 20, None) is Next.GIVE_UP
    assert slept == [20]


async def test_no_retry_that_would_end_past_the_deadline() -> None:
    slept: list[float] = []
    p, call = policy(slept), Call("POST", "/x", "r")
    assert await p.pause(call, 4, time_left=4.2) is Next.OUT_OF_TIME  # no time left to send it again
    assert await p.pause(call, 4, time_left=5) is Next.RETRY
    assert slept == [4]


def test_negative_settings_mean_none() -> None:
    p = RetryPolicy(max_retries=-1, budget=-5)
    assert p.max_retries == 0 and p.budget == 0
    assert p.delay(Call("GET", "/", None), None) is None


def test_retry_after_as_seconds_or_http_date() -> None:
    now = 1_900_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert retry_after(httpx2.Response(503, headers={"Retry-After": "3"}), now) == 3
    assert retry_after(httpx2.Response(503, headers={"Retry-After": date}), now) == pytest.approx(7, abs=1)
    assert retry_after(httpx2.Response(503, headers={"Retry-After": "soon"}), now) is None
    assert retry_after(httpx2.Response(503, headers={"Retry-After": "-4"}), now) == 0
    assert retry_after(httpx2.Response(503), now) is None
