"""The client against Chift's documented contract, on a scripted ``httpx2.MockTransport``: which error
answers are retried (Chift's error table), the rate limits (Chift retries ~31 s itself; a daily limit
says when it resets), reads after a write past Chift's 5-minute GET cache, and lost writes pointing at
the transactions lookup first. Sources: docs.chift.eu developer-guides/errors, /rate-limits,
/advanced/caching, /advanced/idempotency."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest

from chift_mcp.chift.client import FORCE_REFRESH_HEADER, ChiftClient
from chift_mcp.chift.ratelimit import reset_in
from chift_mcp.errors import ChiftAPIError, UnreachableError

BASE = "https://chift.test"
CONSUMER = "11111111-2222-4333-8444-555555555555"
OTHER = "99999999-2222-4333-8444-555555555555"
CLIENTS = f"/consumers/{CONSUMER}/accounting/clients"
T0 = 1_900_000_000.0  # 2030-03-17 17:46:40 UTC

pytestmark = pytest.mark.anyio

Step = httpx2.Response | Exception


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Fake:
    """Answers ``/token``, then each API request with the next scripted step (200 ``{}`` when none)."""

    def __init__(self) -> None:
        self.now = T0
        self.steps: list[Step] = []
        self.requests: list[httpx2.Request] = []
        self.sleeps: list[float] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/token":
            return httpx2.Response(200, json={"access_token": "tok-abcdef", "expires_in": 1800})
        self.requests.append(request)
        step = self.steps.pop(0) if self.steps else httpx2.Response(200, json={})
        if isinstance(step, Exception):
            raise step
        return step

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def client(self, **kw: Any) -> ChiftClient:
        return ChiftClient(
            base_url=BASE,
            client_id="id",
            client_secret="secret-value",
            account_id="acc",
            transport=httpx2.MockTransport(self.handler),
            sleep=self.sleep,
            clock=self.clock,
            monotonic=self.clock,
            **kw,
        )


def chift_error(status: int, code: str | None, message: str = "x", **headers: str) -> httpx2.Response:
    return httpx2.Response(
        status, json={"status": "error", "message": message, "error_code": code}, headers=headers
    )


async def failing(fake: Fake, method: str, *steps: Step, path: str = CLIENTS) -> ChiftAPIError:
    fake.steps.extend(steps)
    async with fake.client() as client:
        with pytest.raises(ChiftAPIError) as info:
            await client.request(method, path, json={} if method != "GET" else None)
    return info.value


# ------------------------------------------------------------------ the error table


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (502, "ERROR_CONFIGURATION_LOCALAGENT", "local agent"),
        (504, "ERROR_BACKEND_NOT_FOUND", "URL or host"),
    ],
)
async def test_configuration_errors_answered_as_5xx_are_not_retried(
    status: int, code: str, words: str
) -> None:
    fake = Fake()
    err = await failing(fake, "GET", *[chift_error(status, code)] * 4)
    assert len(fake.requests) == 1 and fake.sleeps == []
    assert err.retryable is False and err.code == code
    assert words in (err.hint or "") and "temporary" not in (err.hint or "")


@pytest.mark.parametrize(
    ("status", "code"), [(503, "ERROR_CONNECTOR_MAINTENANCE"), (504, "ERROR_GATEWAY_TIMEOUT"), (502, None)]
)
async def test_temporary_5xx_are_retried(status: int, code: str | None) -> None:
    fake = Fake()
    err = await failing(fake, "GET", *[chift_error(status, code)] * 4)
    assert len(fake.requests) == 4 and len(fake.sleeps) == 3
    assert err.retryable is True


@pytest.mark.parametrize(
    "code",
    [
        "ERROR_INTERNAL_ERROR",
        "ERROR_UNEXPECTED",
        "ERROR_TECHNICAL_MAPPING",
        "ERROR_UNKNOWN",
        "ERROR_CONNECTOR_CONFIGURATION",
    ],
)
async def test_chift_side_400s_do_not_blame_the_arguments(code: str) -> None:
    fake = Fake()
    err = await failing(fake, "POST", chift_error(400, code))
    hint = err.hint or ""
    assert len(fake.requests) == 1 and err.retryable is False
    assert "fix the arguments" not in hint.lower()
    assert re.search(r"not (caused by )?the arguments|arguments are not the cause", hint)
    if code != "ERROR_CONNECTOR_CONFIGURATION":  # a create may have half-happened: check first
        assert "connections_get_transactions" in hint


async def test_a_plain_400_still_points_at_the_arguments() -> None:
    err = await failing(Fake(), "GET", chift_error(400, None, "Error while trying to perform your request"))
    assert "fix the arguments" in (err.hint or "")


async def test_several_connections_and_an_unknown_folder_say_which_argument_chooses() -> None:
    err = await failing(
        Fake(),
        "GET",
        chift_error(400, "ERROR_CONFIGURATION_CONNECTION", "The connection is not correctly configured"),
    )
    assert "connection_id" in (err.hint or "") and "needs fixing in Chift" not in (err.hint or "")
    err = await failing(Fake(), "GET", chift_error(404, "ERROR_FOLDER_NOT_FOUND", "Folder not found"))
    assert "accounting_get_folders" in (err.hint or "") and "folder_id" in (err.hint or "")


# ------------------------------------------------------------------ rate limits


async def test_a_429_without_retry_after_is_not_retried_chift_already_waited() -> None:
    fake = Fake()
    err = await failing(fake, "GET", *[chift_error(429, "ERROR_RATE_LIMIT")] * 4)
    assert len(fake.requests) == 1 and fake.sleeps == []
    assert err.retryable is True and "already retried" in (err.hint or "")


async def test_a_429_with_retry_after_is_retried_after_that_wait() -> None:
    fake = Fake()
    fake.steps.extend(
        [chift_error(429, "ERROR_RATE_LIMIT", **{"Retry-After": "3"}), httpx2.Response(200, json=[])]
    )
    async with fake.client() as client:
        assert await client.request("GET", CLIENTS) == []
    assert fake.sleeps == [3.0]


@pytest.mark.parametrize(
    ("message", "seconds"),
    [
        ("Daily rate limit of 5000 calls reached for Exact Online. It resets in 3 hours 20 minutes.", 12000),
        ("The daily limit has been reached; it will reset in 03:20:00", 12000),
        ("Daily quota reached, resets at 2030-03-17T21:06:40Z", 12000),
        ("Rate limit per day reached. Reset in 12000 seconds", 12000),
        # the sandbox's wording (invented): the time left wins over an instant on another clock
        (
            "The daily rate limit of this connector (Odoo) has been reached. It resets in 3 h 20 min, at "
            "2031-01-01T00:00:00Z. Please try again later.",
            12000,
        ),
    ],
)
async def test_a_daily_limit_is_not_retried_and_says_when_it_resets(message: str, seconds: int) -> None:
    assert reset_in(message, T0) == pytest.approx(seconds)
    fake = Fake()
    err = await failing(
        fake, "GET", *[chift_error(429, "ERROR_RATE_LIMIT", message, **{"Retry-After": "1"})] * 2
    )
    assert len(fake.requests) == 1 and err.retryable is False
    at = datetime.fromtimestamp(T0 + seconds, UTC)
    hint = err.hint or ""
    assert "daily" in hint and "3 h 20 min" in hint and f"{at:%H:%M} UTC" in hint
    assert "wait 60 s" not in hint


@pytest.mark.parametrize(
    ("message", "seconds"),
    [
        # a time of day after "at" is the next such time, UTC (T0 is 17:46:40 UTC)
        ("Daily rate limit reached. It resets at 00:00:00 UTC.", 6 * 3600 + 13 * 60 + 20),
        ("Daily rate limit reached, it resets at 21:06 UTC", 3 * 3600 + 19 * 60 + 20),
        ("Daily rate limit reached. Resets at 10:00:00 UTC", 16 * 3600 + 13 * 60 + 20),  # tomorrow
        # only an amount after "in" (or "within", "after") is the time left; the first group only
        ("Daily quota (24h) exceeded. Try again in 2 hours", 7200),
        ("Daily limit of 24 h reached: try again in 1 hour 30 min (window: 24 hours)", 5400),
        ("Daily limit reached; retry within 45 minutes", 2700),
        ("Daily quota (24h) exceeded.", None),
    ],
)
def test_when_a_daily_limit_resets_is_read_as_the_message_means_it(message: str, seconds: int | None) -> None:
    assert reset_in(message, T0) == (None if seconds is None else pytest.approx(seconds))


async def test_a_daily_limit_whose_reset_time_cannot_be_read_says_so() -> None:
    err = await failing(Fake(), "GET", chift_error(429, "ERROR_RATE_LIMIT", "Daily limit reached"))
    assert err.retryable is False and "message says when it resets" in (err.hint or "")


def test_the_default_read_timeout_outlasts_chifts_own_rate_limit_retries() -> None:
    from chift_mcp.chift.ratelimit import CHIFT_RETRY_WINDOW
    from chift_mcp.settings import Settings

    assert Settings().timeout > CHIFT_RETRY_WINDOW + 15  # 31 s of backoff plus the connector's calls


# ------------------------------------------------------------------ lost writes


async def test_a_create_whose_answer_timed_out_is_not_resent_and_points_at_the_lookup() -> None:
    fake = Fake()
    fake.steps.extend([httpx2.ReadTimeout("timed out"), httpx2.Response(200, json={})])
    async with fake.client() as client:
        with pytest.raises(UnreachableError) as info:
            await client.request("POST", CLIENTS, json={"name": "A"}, request_id="rid-1")
    assert len(fake.requests) == 1
    hint = info.value.hint or ""
    assert hint.index("connections_get_transactions") < hint.index("list the resource")
    assert f"/consumers/{CONSUMER}/connections/{{connection_id}}/transactions?client_request_id=rid-1" in hint


async def test_a_dropped_create_is_resent_with_its_request_id_and_the_hint_looks_up_first() -> None:
    fake = Fake()
    fake.steps.extend([httpx2.RemoteProtocolError("dropped")] * 4)
    async with fake.client() as client:
        with pytest.raises(UnreachableError) as info:
            await client.request("POST", CLIENTS, json={"name": "A"}, request_id="rid-2")
    assert len(fake.requests) == 4
    assert {r.headers["x-chift-client-requestid"] for r in fake.requests} == {"rid-2"}
    hint = info.value.hint or ""
    assert hint.index("connections_get_transactions") < hint.index("list the resource")


async def test_a_5xx_after_a_create_points_at_the_lookup_first() -> None:
    err = await failing(Fake(), "POST", *[chift_error(500, None)] * 4)
    hint = err.hint or ""
    assert hint.index("connections_get_transactions") < hint.index("list the resource")


# ------------------------------------------------------------------ the GET cache


def forced(request: httpx2.Request) -> bool:
    return request.headers.get(FORCE_REFRESH_HEADER) == "true"


async def test_reads_after_a_write_bypass_the_cache_for_that_consumer_within_five_minutes() -> None:
    fake = Fake()
    async with fake.client() as client:
        await client.request("GET", CLIENTS)  # before any write: the cache is fine
        await client.request("POST", CLIENTS, json={"name": "A"})
        await client.request("GET", CLIENTS)  # read-your-write
        await client.request("GET", f"/consumers/{OTHER}/accounting/clients")  # another consumer
        await client.request("GET", f"/consumers/{CONSUMER}/spend_management/payables", params={"cursor": ""})
        fake.now += 299
        await client.request("GET", CLIENTS)
        fake.now += 2  # past Chift's 5 minutes: its cache holds nothing older than the write
        await client.request("GET", CLIENTS)
    assert [forced(r) for r in fake.requests] == [False, False, True, False, False, True, False]


async def test_a_lost_write_counts_as_a_write() -> None:
    fake = Fake()
    fake.steps.append(httpx2.ReadTimeout("timed out"))
    async with fake.client() as client:
        with pytest.raises(UnreachableError):
            await client.request("POST", CLIENTS, json={"name": "A"})
        await client.request("GET", CLIENTS)
    assert forced(fake.requests[-1])


async def test_a_post_that_only_reads_is_not_a_write() -> None:
    fake = Fake()
    balances = f"/consumers/{CONSUMER}/accounting/chart-of-accounts/balance"
    async with fake.client() as client:
        await client.request("POST", balances, json={}, writes=False)
        await client.request("GET", CLIENTS)
    assert not forced(fake.requests[-1])


def test_the_cache_window_is_a_setting() -> None:
    from chift_mcp.chift.client import transport_args
    from chift_mcp.settings import Settings

    assert transport_args(Settings(cache_window=0))["cache_window"] == 0


async def test_a_write_with_an_encoded_consumer_id_is_read_back_fresh() -> None:
    fake = Fake()
    async with fake.client() as client:
        await client.request("POST", "/consumers/a%2Db/accounting/clients", json={"name": "A"})
        await client.request("GET", "/consumers/a-b/accounting/clients")
    assert forced(fake.requests[-1])


async def test_reads_of_account_resources_after_a_write_to_them_bypass_the_cache() -> None:
    """Chift caches every GET (docs "Caching"): a consumer created or changed, then the list of
    consumers read, must show it; a consumer's own resources and other account resources need not."""
    fake = Fake()
    async with fake.client() as client:
        await client.request("POST", "/consumers", json={"name": "New"})
        await client.request("GET", "/consumers")
        await client.request("GET", CLIENTS)  # a consumer's resources: not changed by it
        await client.request("GET", "/webhooks")  # another account resource
        fake.now += 301
        await client.request("GET", "/consumers")
        await client.request("PATCH", f"/consumers/{CONSUMER}", json={"name": "Renamed"})
        await client.request("GET", "/consumers")
        await client.request("GET", f"/consumers/{CONSUMER}")
        await client.request("GET", f"/consumers/{OTHER}/accounting/clients")
        await client.request("DELETE", "/webhooks/w-1")
        await client.request("GET", "/webhooks/list")
    assert [forced(r) for r in fake.requests if r.method == "GET"] == [
        True, False, False, False, True, True, False, True
    ]  # fmt: skip


async def test_the_window_runs_from_the_answer_of_the_write() -> None:
    """A write Chift takes 200 s to answer changed the data near its end, not when it was sent."""

    class Slow(Fake):
        def handler(self, request: httpx2.Request) -> httpx2.Response:
            if request.method == "POST" and request.url.path != "/token":
                self.now += 200
            return super().handler(request)

    fake = Slow()
    async with fake.client() as client:
        await client.request("POST", CLIENTS, json={"name": "A"})
        fake.now += 150  # 350 s after it was sent, 150 s after its answer
        await client.request("GET", CLIENTS)
    assert forced(fake.requests[-1])
