"""ChiftClient against a scripted fake Chift API behind ``httpx2.MockTransport`` (no sockets, no sleeps)."""

from __future__ import annotations

import email.utils
import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from chift_mcp.chift.client import ChiftClient
from chift_mcp.errors import (
    ArgumentError,
    ChiftAPIError,
    ConfigError,
    InvalidResponseError,
    UnreachableError,
    UpstreamError,
)
from chift_mcp.settings import Settings

BASE = "https://chift.test"
SECRET = "sup3r-s3cret-client-secret"
CLIENT_ID = "client-id-123"
ACCOUNT = "00000000-0000-4000-a000-000000000001"
CONSUMER = "11111111-2222-4333-8444-555555555555"
INVOICES = f"/consumers/{CONSUMER}/invoicing/invoices"
T0 = 1_900_000_000.0

Step = httpx2.Response | Exception | Callable[[httpx2.Request], httpx2.Response]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def error_json(
    status: int,
    message: str,
    code: str | None = None,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx2.Response:
    body: dict[str, Any] = {"status": "error", "message": message, "error_code": code}
    if detail is not None:
        body["detail"] = detail
    return httpx2.Response(status, json=body, headers=headers)


class FakeChift:
    """A scripted Chift: ``script[path]`` is a queue of responses / exceptions / callables; when a path's
    queue is empty, an authorised request gets ``{"path": ...}`` and an unauthorised one a 401."""

    def __init__(self, clock: Clock, *, ttl: int = 1800, expires_on: bool = True) -> None:
        self.clock = clock
        self.ttl = ttl
        self.expires_on = expires_on
        self.token_calls = 0
        self.token_bodies: list[dict[str, Any]] = []
        self.tokens: list[str] = []
        self.requests: list[httpx2.Request] = []
        self.script: dict[str, list[Step]] = {}

    def on(self, path: str, *steps: Step) -> None:
        self.script.setdefault(path, []).extend(steps)

    def _next(self, request: httpx2.Request) -> httpx2.Response | None:
        queue = self.script.get(request.url.path)
        if not queue:
            return None
        step = queue.pop(0)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx2.Response):
            return step
        return step(request)

    async def handler(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/token"):
            self.token_calls += 1
            body = json.loads(request.content)
            self.token_bodies.append(body)
            await anyio.sleep(0.01)  # let concurrent callers pile up behind the refresh
            scripted = self._next(request)
            if scripted is not None:
                return scripted
            if body.get("clientSecret") != SECRET:
                return error_json(401, "Invalid credentials", "ERROR_CHIFT_AUTHENTICATION_ERROR")
            token = f"access-token-{self.token_calls}-abcdefgh"
            self.tokens.append(token)
            data: dict[str, Any] = {"access_token": token, "token_type": "bearer", "expires_in": self.ttl}
            if self.expires_on:
                data["expires_on"] = int(self.clock() + self.ttl)
            return httpx2.Response(200, json=data)
        self.requests.append(request)
        await anyio.sleep(0)
        scripted = self._next(request)
        if scripted is not None:
            return scripted
        if request.headers.get("Authorization") != f"Bearer {self.tokens[-1] if self.tokens else ''}":
            return error_json(401, "Invalid token", "ERROR_CHIFT_AUTHENTICATION_ERROR")
        return httpx2.Response(200, json={"path": request.url.path})


class Harness:
    def __init__(self, **kw: Any) -> None:
        self.clock = Clock()
        self.fake = FakeChift(self.clock, **{k: kw.pop(k) for k in ("ttl", "expires_on") if k in kw})
        self.sleeps: list[float] = []
        kw.setdefault("secret", SECRET)
        secret = kw.pop("secret")
        self.client = ChiftClient(
            base_url=kw.pop("base_url", BASE),
            client_id=CLIENT_ID,
            client_secret=secret,
            account_id=ACCOUNT,
            transport=httpx2.MockTransport(self.fake.handler),
            sleep=self.sleep,
            clock=self.clock,
            **kw,
        )

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.now += seconds


@pytest.fixture
async def h() -> Any:
    harness = Harness()
    async with harness.client:
        yield harness


def rid_of(request: httpx2.Request) -> str | None:
    return request.headers.get("X-Chift-Client-RequestId")


# ------------------------------------------------------------------ token


@pytest.mark.anyio
async def test_concurrent_requests_share_one_token_fetch(h: Harness) -> None:
    results: list[Any] = []

    async def call(i: int) -> None:
        results.append(
            await h.client.request("GET", f"/consumers/{CONSUMER}/accounting/journals", params={"i": i})
        )

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(call, i)
    assert len(results) == 20
    assert h.fake.token_calls == 1
    assert {r.headers["Authorization"] for r in h.fake.requests} == {f"Bearer {h.fake.tokens[0]}"}


@pytest.mark.anyio
async def test_token_request_body_and_headers() -> None:
    harness = Harness(marketplace_id="mkt-1", env_id="env-1")
    async with harness.client as client:
        assert await client.request("GET", "/consumers") == {"path": "/consumers"}
    assert harness.fake.token_bodies == [
        {
            "clientId": CLIENT_ID,
            "clientSecret": SECRET,
            "accountId": ACCOUNT,
            "marketplaceId": "mkt-1",
            "envId": "env-1",
        }
    ]
    sent = harness.fake.requests[0]
    assert sent.headers["User-Agent"].startswith("chift-mcp/")
    assert "X-Chift-Client-RequestId" not in sent.headers  # never on GET: a retry would be a 409
    assert "x-chift-force-refresh" not in sent.headers


@pytest.mark.anyio
async def test_token_is_refreshed_60_seconds_before_expiry(h: Harness) -> None:
    await h.client.request("GET", "/consumers")
    h.clock.now += 1800 - 61
    await h.client.request("GET", "/consumers")
    assert h.fake.token_calls == 1
    h.clock.now += 2  # now 59 s before expires_on
    await h.client.request("GET", "/consumers")
    assert h.fake.token_calls == 2
    assert h.fake.requests[-1].headers["Authorization"] == f"Bearer {h.fake.tokens[1]}"


@pytest.mark.anyio
async def test_token_lifetime_from_expires_in_without_expires_on() -> None:
    harness = Harness(expires_on=False, ttl=600)
    async with harness.client as client:
        assert await client.get_token() == harness.fake.tokens[0]
        harness.clock.now += 600 - 61
        assert await client.get_token() == harness.fake.tokens[0]
        harness.clock.now += 2
        assert await client.get_token() == harness.fake.tokens[1]
    assert harness.fake.token_calls == 2


@pytest.mark.anyio
async def test_401_refreshes_the_token_and_replays_once(h: Harness) -> None:
    h.fake.on("/consumers", error_json(401, "Token expired", "ERROR_CHIFT_AUTHENTICATION_ERROR"))
    assert await h.client.request("GET", "/consumers") == {"path": "/consumers"}
    assert h.fake.token_calls == 2
    assert [r.headers["Authorization"] for r in h.fake.requests] == [
        f"Bearer {h.fake.tokens[0]}",
        f"Bearer {h.fake.tokens[1]}",
    ]
    assert h.sleeps == []


@pytest.mark.anyio
async def test_second_401_is_an_error(h: Harness) -> None:
    h.fake.on("/consumers", *[error_json(401, "Invalid token", "ERROR_CHIFT_AUTHENTICATION_ERROR")] * 2)
    with pytest.raises(ChiftAPIError) as info:
        await h.client.request("GET", "/consumers")
    err = info.value
    assert err.status == 401 and err.retryable is False
    assert "CHIFT_CLIENT_ID" in (err.hint or "")
    assert h.fake.token_calls == 2 and len(h.fake.requests) == 2


@pytest.mark.anyio
async def test_connector_authentication_401_is_not_replayed(h: Harness) -> None:
    h.fake.on("/consumers", error_json(401, "Wrong Exact credentials", "ERROR_CONNECTOR_AUTHENTICATION"))
    with pytest.raises(ChiftAPIError) as info:
        await h.client.request("GET", "/consumers")
    assert "reconnect" in (info.value.hint or "")
    assert h.fake.token_calls == 1 and len(h.fake.requests) == 1


@pytest.mark.anyio
async def test_rejected_credentials_name_the_variables_not_the_values() -> None:
    harness = Harness(secret="wrong-secret-value")
    async with harness.client as client:
        with pytest.raises(ChiftAPIError) as info:
            await client.request("GET", "/consumers")
    err = info.value
    text = json.dumps(err.payload()) + str(err)
    assert "credentials" in err.message
    for var in ("CHIFT_CLIENT_ID", "CHIFT_CLIENT_SECRET", "CHIFT_ACCOUNT_ID"):
        assert var in (err.hint or "")
    for value in ("wrong-secret-value", CLIENT_ID, ACCOUNT):
        assert value not in text
    assert err.retryable is False
    assert harness.fake.requests == []


# ---------------------------------------------------------------- retries


@pytest.mark.anyio
async def test_429_retry_after_is_honoured(h: Harness) -> None:
    h.fake.on("/consumers", error_json(429, "Rate limit", "ERROR_RATE_LIMIT", headers={"Retry-After": "2"}))
    assert await h.client.request("GET", "/consumers") == {"path": "/consumers"}
    assert h.sleeps == [2.0]


@pytest.mark.anyio
async def test_retry_after_as_http_date(h: Harness) -> None:
    when = email.utils.formatdate(T0 + 7, usegmt=True)
    h.fake.on("/consumers", error_json(503, "Busy", headers={"Retry-After": when}))
    await h.client.request("GET", "/consumers")
    assert h.sleeps == [pytest.approx(7.0, abs=1.0)]


@pytest.mark.anyio
async def test_503_then_success(h: Harness) -> None:
    h.fake.on("/consumers", error_json(503, "Maintenance"), httpx2.Response(502, text="Bad gateway"))
    assert await h.client.request("GET", "/consumers") == {"path": "/consumers"}
    assert len(h.fake.requests) == 3 and len(h.sleeps) == 2


@pytest.mark.anyio
async def test_backoff_is_exponential_with_full_jitter() -> None:
    harness = Harness(max_retries=3, backoff_base=0.5)
    harness.fake.on("/consumers", *[httpx2.Response(504)] * 3)
    async with harness.client as client:
        await client.request("GET", "/consumers")
    assert len(harness.sleeps) == 3
    for i, slept in enumerate(harness.sleeps):
        assert 0.0 <= slept <= 0.5 * 2**i


@pytest.mark.anyio
async def test_retries_are_bounded_by_count() -> None:
    harness = Harness(max_retries=2)
    harness.fake.on("/consumers", *[error_json(503, "Down", "ERROR_CONNECTOR_MAINTENANCE")] * 5)
    async with harness.client as client:
        with pytest.raises(ChiftAPIError) as info:
            await client.request("GET", "/consumers")
    err = info.value
    assert len(harness.fake.requests) == 3 and len(harness.sleeps) == 2
    assert err.status == 503 and err.retryable is True and err.code == "ERROR_CONNECTOR_MAINTENANCE"
    assert "after 3 attempts" in err.message


@pytest.mark.anyio
async def test_retries_are_bounded_by_budget() -> None:
    harness = Harness(max_retries=5, retry_budget=30)
    limited = [error_json(429, "Rate limit", "ERROR_RATE_LIMIT", headers={"Retry-After": "20"})] * 3
    harness.fake.on("/consumers", *limited)
    async with harness.client as client:
        with pytest.raises(ChiftAPIError) as info:
            await client.request("GET", "/consumers")
    err = info.value
    assert harness.sleeps == [20.0]  # a second 20 s wait would pass the 30 s budget
    assert err.status == 429 and err.retryable is True
    assert "wait 20 s" in (err.hint or "")


@pytest.mark.anyio
async def test_zero_retries_means_one_attempt() -> None:
    harness = Harness(max_retries=0)
    harness.fake.on("/consumers", httpx2.Response(503))
    async with harness.client as client:
        with pytest.raises(ChiftAPIError):
            await client.request("GET", "/consumers")
    assert len(harness.fake.requests) == 1 and harness.sleeps == []


@pytest.mark.anyio
async def test_connection_errors_are_retried_then_unreachable(h: Harness) -> None:
    h.fake.on("/consumers", *[httpx2.ConnectError("[Errno 111] Connection refused")] * 4)
    with pytest.raises(UnreachableError) as info:
        await h.client.request("GET", "/consumers")
    err = info.value
    assert len(h.fake.requests) == 4 and len(h.sleeps) == 3
    assert BASE in err.message and "/consumers" in err.message and "refused" in err.message
    assert "retry" in (err.hint or "").lower()
    assert err.payload()["retryable"] is True and err.payload()["error"] == "CHIFT_UNREACHABLE"


@pytest.mark.anyio
async def test_connection_error_then_success(h: Harness) -> None:
    h.fake.on("/consumers", httpx2.ConnectError("refused"), httpx2.RemoteProtocolError("closed"))
    assert await h.client.request("GET", "/consumers") == {"path": "/consumers"}
    assert len(h.sleeps) == 2


@pytest.mark.anyio
async def test_timeouts_are_reported_as_timeouts() -> None:
    harness = Harness(max_retries=1, timeout=12)
    harness.fake.on("/consumers", *[httpx2.ReadTimeout("timed out")] * 2)
    async with harness.client as client:
        with pytest.raises(UnreachableError) as info:
            await client.request("GET", "/consumers")
    assert "timed out" in info.value.message and "12 s" in info.value.message


@pytest.mark.anyio
async def test_unreachable_token_endpoint_names_the_url() -> None:
    harness = Harness(max_retries=1)
    harness.fake.on("/token", *[httpx2.ConnectError("Name or service not known")] * 2)
    async with harness.client as client:
        with pytest.raises(UnreachableError) as info:
            await client.request("GET", "/consumers")
    assert BASE in info.value.message and "/token" in info.value.message and "DNS" in info.value.message


@pytest.mark.anyio
async def test_post_timeout_warns_before_resending_the_create(h: Harness) -> None:
    h.fake.on(INVOICES, *[httpx2.ReadTimeout("timed out")] * 4)
    with pytest.raises(UnreachableError) as info:
        await h.client.request("POST", INVOICES, json={}, request_id="r-9")
    assert "client_request_id=r-9" in (info.value.hint or "")
    assert info.value.payload()["client_request_id"] == "r-9"


# ------------------------------------------------------------ idempotency


@pytest.mark.anyio
async def test_post_retries_keep_the_same_request_id(h: Harness) -> None:
    h.fake.on(
        INVOICES,
        httpx2.Response(503),
        httpx2.RemoteProtocolError("connection dropped"),
        httpx2.Response(201, json={"id": "inv-1"}),
    )
    result = await h.client.request("POST", INVOICES, json={"number": "F1"}, request_id="call-42")
    assert result == {"id": "inv-1"}
    assert [rid_of(r) for r in h.fake.requests] == ["call-42"] * 3
    assert all(json.loads(r.content) == {"number": "F1"} for r in h.fake.requests)


@pytest.mark.anyio
async def test_writes_get_a_generated_request_id(h: Harness) -> None:
    h.fake.on(INVOICES, httpx2.Response(401, json={"status": "error", "message": "expired"}))
    await h.client.request("POST", INVOICES, json={})
    await h.client.request("PATCH", f"{INVOICES}/x", json={})
    await h.client.request("GET", INVOICES, request_id="ignored-on-get")
    first, replay, patch, get = h.fake.requests
    assert rid_of(first) and len(rid_of(first) or "") == 32
    assert rid_of(replay) == rid_of(first)  # the 401 replay is the same request
    assert rid_of(patch) and rid_of(patch) != rid_of(first)
    assert rid_of(get) is None


@pytest.mark.anyio
async def test_already_processed_on_a_retry_means_the_answer_was_lost(h: Harness) -> None:
    h.fake.on(
        INVOICES,
        httpx2.RemoteProtocolError("connection dropped"),
        error_json(
            409,
            "Request already processed: 200",
            "REQUEST_ALREADY_PROCESSED",
            "Request with same client request id call-7 was already successfully processed",
        ),
    )
    with pytest.raises(ChiftAPIError) as info:
        await h.client.request("POST", INVOICES, json={"number": "F1"}, request_id="call-7")
    err = info.value
    assert err.status == 409 and err.code == "REQUEST_ALREADY_PROCESSED" and err.retryable is False
    assert "earlier attempt" in err.message and "lost" in err.message
    hint = err.hint or ""
    assert "Do not resend" in hint
    assert (
        f"/consumers/{CONSUMER}/connections/{{connection_id}}/transactions?client_request_id=call-7" in hint
    )
    assert err.payload()["client_request_id"] == "call-7"


@pytest.mark.anyio
async def test_already_processed_on_the_first_attempt_is_a_plain_conflict(h: Harness) -> None:
    h.fake.on(INVOICES, error_json(409, "Request already processed: 200", "REQUEST_ALREADY_PROCESSED"))
    with pytest.raises(ChiftAPIError) as info:
        await h.client.request("POST", INVOICES, json={}, request_id="reused")
    err = info.value
    assert "earlier attempt" not in err.message
    assert "reused" in (err.hint or "") and "new request id" in (err.hint or "")
    assert h.sleeps == []


@pytest.mark.anyio
async def test_invalid_request_id_is_an_argument_error(h: Harness) -> None:
    with pytest.raises(ArgumentError):
        await h.client.request("POST", INVOICES, json={}, request_id="x" * 256)


# ----------------------------------------------------------------- errors


@pytest.mark.anyio
async def test_error_json_becomes_an_actionable_payload(h: Harness) -> None:
    h.fake.on(
        f"{INVOICES}/nope", error_json(404, "Invoice not found", "ERROR_INVOICE_NOT_FOUND", "no such id")
    )
    with pytest.raises(ChiftAPIError) as info:
        await h.client.request("GET", f"{INVOICES}/nope")
    assert info.value.payload() == {
        "error": "ERROR_INVOICE_NOT_FOUND",
        "status": 404,
        "message": "Invoice not found",
        "detail": "no such id",
        "hint": "Nothing found: check the id; list the resource to find valid ids.",
        "retryable": False,
    }


@pytest.mark.anyio
async def test_validation_errors_name_the_fields(h: Harness) -> None:
    detail = [
        {
            "loc": ["body", "lines", 0, "amount"],
            "msg": "Field required",
            "type": "missing",
            "input": {"x": 1},
        },
        {"loc": ["query", "date_from"], "msg": "Input should be a valid date", "type": "date_parsing"},
    ]
    h.fake.on(INVOICES, error_json(422, "Validation error", "ERROR_INVALID_BODY", detail))
    with pytest.raises(ChiftAPIError) as info:
        await h.client.request("POST", INVOICES, json={"lines": [{}]})
    err = info.value
    assert err.retryable is False
    assert "lines[0].amount (body): Field required" in (err.hint or "")
    assert "date_from (query)" in (err.hint or "")
    assert all("input" not in item for item in err.detail)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "code", "retryable", "words"),
    [
        (400, "ERROR_NO_ACTIVE_CONNECTION", False, "connections"),
        (403, None, False, "scope"),
        (405, "ERROR_RESOURCE_NOT_SUPPORTED", False, "does not support"),
        (409, None, False, "existing object"),
        (500, "ERROR_INTERNAL", True, "retry"),
    ],
)
async def test_hints_per_status(
    h: Harness, status: int, code: str | None, retryable: bool, words: str
) -> None:
    h.fake.on("/consumers", error_json(status, "Nope", code))
    with pytest.raises(ChiftAPIError) as info:
        await h.client.request("GET", "/consumers")
    assert info.value.retryable is retryable
    assert words in (info.value.hint or "")
    assert h.sleeps == []  # 4xx and 500 are not retried here


@pytest.mark.anyio
async def test_non_json_error_body_gives_a_short_clean_excerpt(h: Harness) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1>\n\x00" + "<p>nginx</p>" * 200 + "</body></html>"
    h.fake.on("/consumers", httpx2.Response(500, text=html))
    with pytest.raises(ChiftAPIError) as info:
        await h.client.request("GET", "/consumers")
    msg = info.value.message
    assert msg.startswith("Chift answered HTTP 500 Internal Server Error: 502 Bad Gateway nginx")
    assert "<" not in msg and "\x00" not in msg
    assert len(msg) <= 200 + len("Chift answered HTTP 500 Internal Server Error: ")


@pytest.mark.anyio
async def test_malformed_json_on_success(h: Harness) -> None:
    h.fake.on("/consumers", httpx2.Response(200, text='{"items": [1, 2'))
    h.fake.on(INVOICES, httpx2.Response(201, text="<html>ok</html>"))
    with pytest.raises(InvalidResponseError) as info:
        await h.client.request("GET", "/consumers")
    assert "invalid JSON" in info.value.message and info.value.retryable is True
    assert isinstance(info.value, UpstreamError)
    with pytest.raises(InvalidResponseError) as info:
        await h.client.request("POST", INVOICES, json={}, request_id="r-1")
    assert info.value.retryable is False  # the create went through: do not send it again
    assert "client_request_id=r-1" in (info.value.hint or "")


@pytest.mark.anyio
async def test_204_and_empty_bodies_return_none(h: Harness) -> None:
    h.fake.on("/consumers/a", httpx2.Response(204))
    h.fake.on("/consumers/b", httpx2.Response(200, content=b""))
    assert await h.client.request("DELETE", "/consumers/a") is None
    assert await h.client.request("GET", "/consumers/b") is None


# ------------------------------------------------------------------ misc


@pytest.mark.anyio
async def test_force_refresh_header_and_none_params(h: Harness) -> None:
    await h.client.request(
        "GET",
        "/consumers",
        params={"page": 2, "size": None},
        force_refresh=True,
        headers={"Authorization": "Bearer caller-value"},
    )
    sent = h.fake.requests[0]
    assert sent.headers["x-chift-force-refresh"] == "true"
    assert sent.url.params.multi_items() == [("page", "2")]
    assert sent.headers.get_list("Authorization") == [f"Bearer {h.fake.tokens[0]}"]


@pytest.mark.anyio
async def test_base_url_with_a_path_prefix() -> None:
    harness = Harness(base_url="https://chift.test/v2/")
    async with harness.client as client:
        await client.request("GET", "/consumers")
    assert str(harness.fake.requests[0].url) == "https://chift.test/v2/consumers"


@pytest.mark.anyio
async def test_absolute_urls_are_refused(h: Harness) -> None:
    for path in ("https://evil.test/x", "//evil.test/x", "consumers"):
        with pytest.raises(ValueError):
            await h.client.request("GET", path)
    assert h.fake.token_calls == 0


def test_invalid_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="CHIFT_URL_BASE"):
        ChiftClient(base_url="ftp://x", client_id="a", client_secret="b", account_id="c")


@pytest.mark.anyio
async def test_from_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    for var in ("CHIFT_CLIENT_ID", "CHIFT_CLIENT_SECRET", "CHIFT_ACCOUNT_ID"):
        monkeypatch.delenv(var, raising=False)
    settings = Settings(
        client_id=CLIENT_ID, client_secret=SecretStr(SECRET), account_id=ACCOUNT, url_base=BASE, max_retries=1
    )
    fake = FakeChift(Clock())
    async with ChiftClient.from_settings(settings, transport=httpx2.MockTransport(fake.handler)) as client:
        assert client.base_url == BASE
        assert await client.request("GET", "/consumers") == {"path": "/consumers"}
    assert fake.token_bodies[0]["clientSecret"] == SECRET
    with pytest.raises(ConfigError, match="CHIFT_CLIENT_SECRET"):
        ChiftClient.from_settings(Settings(client_id="x", account_id="y"))


@pytest.mark.anyio
async def test_secrets_never_reach_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    harness = Harness(max_retries=2)

    def echo(request: httpx2.Request) -> httpx2.Response:  # a careless upstream echoing what it got
        return error_json(
            400,
            f"Bad request with {request.headers['Authorization']} and {SECRET}",
            detail=[{"loc": ["body", "x"], "msg": f"got {SECRET}", "input": SECRET}],
        )

    def echo_text(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(500, text=f"<pre>{request.headers['Authorization']}</pre>")

    harness.fake.on("/consumers/a", echo)
    harness.fake.on("/consumers/b", echo_text)
    harness.fake.on("/consumers/c", *[httpx2.ReadTimeout("timed out")] * 3)
    harness.fake.on("/consumers/d", *[error_json(401, "bad token")] * 2)
    errors: list[UpstreamError] = []
    async with harness.client as client:
        for path in ("/consumers/a", "/consumers/b", "/consumers/c", "/consumers/d"):
            with pytest.raises(UpstreamError) as info:
                await client.request("POST", path, json={"secret_field": 1})
            errors.append(info.value)
    tokens = harness.fake.tokens
    assert len(tokens) == 2
    texts = (
        [caplog.text] + [str(e) + repr(e) + json.dumps(e.payload()) for e in errors] + [repr(harness.client)]
    )
    for text in texts:
        assert SECRET not in text
        for token in tokens:
            assert token not in text
    assert "***" in errors[0].message
    # one debug line per attempt: 2 token fetches + 1 + 1 + 1 (a create whose answer timed out is
    # not resent) + 2 API calls
    attempts = [
        r for r in caplog.records if r.name == "chift_mcp.chift.client" and "attempt=" in r.getMessage()
    ]
    assert len(attempts) == 2 + 1 + 1 + 1 + 2


@pytest.mark.anyio
async def test_an_error_page_echoing_the_secret_never_leaks_any_part_of_it() -> None:
    secret = "cs_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0"

    def upstream(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/token":
            return httpx2.Response(200, json={"access_token": "tok-1234567890", "expires_in": 1800})
        page = (
            "<html><body>Bad gateway. Rejected body: "
            + '{"clientSecret":"'
            + secret
            + '"}' * 20
            + "</body></html>"
        )
        return httpx2.Response(500, text=page)

    client = ChiftClient(
        base_url="https://api.example",
        client_id="id",
        client_secret=secret,
        account_id="acc",
        transport=httpx2.MockTransport(upstream),
        max_retries=0,
    )
    with pytest.raises(ChiftAPIError) as caught:
        await client.request("GET", "/consumers")
    text = json.dumps(caught.value.payload())
    assert secret[:12] not in text and secret[-12:] not in text
    await client.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("code", [None, "ERROR_CONNECTOR_AUTHENTICATION"])
async def test_a_connector_refusing_chifts_credentials_on_502_is_not_retried(
    h: Harness, code: str | None
) -> None:
    """Chift's spec answers 502 "Error while trying to authenticate to {ConnectorName}" (POS
    modifiers, no code): configuration, which a retry only meets again."""
    h.fake.on(INVOICES, *[error_json(502, "Error while trying to authenticate to Lightspeed", code)] * 5)
    with pytest.raises(ChiftAPIError) as info:
        await h.client.request("GET", INVOICES)
    err = info.value
    assert len(h.fake.requests) == 1 and h.sleeps == []
    assert err.retryable is False and err.code == "ERROR_CONNECTOR_AUTHENTICATION"
    assert "reconnect" in (err.hint or "") and "will not help" in (err.hint or "")
