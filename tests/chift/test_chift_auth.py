"""The two auth strategies: the API key's token (cached, one refresh, one replay) and pass-through of
the caller's own token, built without a subclass."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx2
import pytest

from chift_mcp.chift.auth import CALLER_TOKEN, ApiKeyAuth, PassThroughAuth
from chift_mcp.chift.client import ChiftClient, passthrough_client
from chift_mcp.errors import ChiftAPIError, ConfigError, UpstreamError
from chift_mcp.settings import Settings

BASE = "https://chift.test"
CALLER = "caller-own-chift-token-0123456789"

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recorder:
    def __init__(self, *answers: httpx2.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if request.url.path == "/token":
            return httpx2.Response(
                200, json={"access_token": f"tok-{len(self.requests)}-xyz", "expires_in": 60}
            )
        return self.answers.pop(0) if self.answers else httpx2.Response(200, json={"echo": CALLER})


def passthrough(recorder: Recorder) -> ChiftClient:
    settings = Settings(url_base=BASE, max_retries=0)
    return passthrough_client(settings, transport=httpx2.MockTransport(recorder.handler))


async def test_passthrough_sends_the_callers_token_and_never_fetches_one() -> None:
    recorder = Recorder()
    reset = CALLER_TOKEN.set(CALLER)
    try:
        async with passthrough(recorder) as client:
            assert await client.get_token() == CALLER
            assert await client.request("GET", "/consumers") == {"echo": "***"}  # scrubbed
    finally:
        CALLER_TOKEN.reset(reset)
    assert [r.url.path for r in recorder.requests] == ["/consumers"]
    assert recorder.requests[0].headers["Authorization"] == f"Bearer {CALLER}"


async def test_passthrough_without_a_token_says_how_to_send_one() -> None:
    recorder = Recorder()
    async with passthrough(recorder) as client:
        with pytest.raises(UpstreamError) as info:
            await client.request("GET", "/consumers")
    assert "Authorization: Bearer" in (info.value.hint or "") and info.value.retryable is False
    assert recorder.requests == []


async def test_a_refused_caller_token_is_not_replayed_and_gets_its_own_hint() -> None:
    refused = httpx2.Response(401, json={"status": "error", "message": f"bad {CALLER}"})
    recorder = Recorder(refused, refused)
    reset = CALLER_TOKEN.set(CALLER)
    try:
        async with passthrough(recorder) as client:
            with pytest.raises(ChiftAPIError) as info:
                await client.request("GET", "/consumers")
    finally:
        CALLER_TOKEN.reset(reset)
    assert len(recorder.requests) == 1  # the same token again could only be refused again
    assert "POST /token" in (info.value.hint or "") and CALLER not in json.dumps(info.value.payload())


async def test_each_request_sends_its_own_callers_token() -> None:
    recorder = Recorder()
    async with passthrough(recorder) as client:

        async def call(token: str) -> None:
            CALLER_TOKEN.set(token)  # each task runs in a copy of the context
            await client.request("GET", "/consumers")

        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(call, f"caller-token-{i}-abcdef")
    assert {r.headers["Authorization"] for r in recorder.requests} == {
        f"Bearer caller-token-{i}-abcdef" for i in range(5)
    }


async def test_a_forgotten_token_stays_among_the_scrubbed_secrets() -> None:
    async def post(body: dict[str, str]) -> httpx2.Response:
        return httpx2.Response(200, json={"access_token": f"token-{len(seen)}-abcdef", "expires_in": 900})

    seen: list[str] = []
    auth = ApiKeyAuth(client_id="i", client_secret="the-secret", account_id="a", post=post)
    seen.append(await auth.token())
    auth.forget(seen[0])
    seen.append(await auth.token())
    assert seen == ["token-0-abcdef", "token-1-abcdef"]
    assert set(auth.secrets()) == {"the-secret", "token-0-abcdef", "token-1-abcdef"}


def test_an_api_key_or_an_auth_not_both_nor_neither() -> None:
    with pytest.raises(ConfigError):
        ChiftClient(base_url=BASE)
    with pytest.raises(ConfigError):
        ChiftClient(base_url=BASE, client_id="i", client_secret="s", account_id="a", auth=PassThroughAuth())
    assert ChiftClient.from_settings(Settings(url_base=BASE), auth=PassThroughAuth()).base_url == BASE


def test_the_auth_strategies_are_async_only() -> None:
    request = httpx2.Request("GET", BASE)
    with pytest.raises(RuntimeError):
        next(PassThroughAuth().sync_auth_flow(request))
    kw: dict[str, Any] = {"client_id": "i", "client_secret": "s", "account_id": "a"}
    with pytest.raises(RuntimeError):
        next(ApiKeyAuth(**kw, post=None).sync_auth_flow(request))  # type: ignore[arg-type]
