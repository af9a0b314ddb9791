"""No secret leaves the client: the Scrubber alone, then through ChiftClient behind a MockTransport."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx2
import pytest

from chift_mcp.chift.client import ChiftClient
from chift_mcp.chift.scrub import Scrubber, forms_of
from chift_mcp.errors import ChiftAPIError, UpstreamError

BASE = "https://chift.test"
SECRET = "s3cr3t/with+odd&chars"
ODD_SECRET = 'quote"and\\backslash-secret'

Handler = Callable[[httpx2.Request, str], httpx2.Response]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def error_json(status: int, message: str, code: str | None = None, detail: Any = None) -> httpx2.Response:
    return httpx2.Response(
        status, json={"status": "error", "message": message, "error_code": code, "detail": detail}
    )


class Upstream:
    """Issues access-token-1, -2, ... on /token; every other path goes to ``script`` (one handler per
    request, given the request and the bearer it carries) and, once it is empty, answers ``{}``."""

    def __init__(self, *script: Handler) -> None:
        self.script = list(script)
        self.tokens: list[str] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/token":
            self.tokens.append(f"access-token-{len(self.tokens) + 1}-abcdefgh")
            return httpx2.Response(200, json={"access_token": self.tokens[-1], "expires_in": 1800})
        bearer = request.headers["Authorization"].removeprefix("Bearer ")
        return self.script.pop(0)(request, bearer) if self.script else httpx2.Response(200, json={})


def client_for(upstream: Upstream, secret: str = SECRET) -> ChiftClient:
    return ChiftClient(
        base_url=BASE,
        client_id="id",
        client_secret=secret,
        account_id="acc",
        transport=httpx2.MockTransport(upstream.handler),
        max_retries=0,
    )


async def failure(client: ChiftClient, method: str = "GET") -> UpstreamError:
    with pytest.raises(UpstreamError) as info:
        await client.request(method, "/consumers/x", json={} if method != "GET" else None)
    return info.value


def shown(error: UpstreamError) -> str:
    """Everything an agent or a log can see of an error."""
    return str(error) + repr(error) + json.dumps(error.payload())


# --------------------------------------------------------------- the Scrubber


def test_every_form_of_a_secret_is_masked_in_keys_and_values_at_any_depth() -> None:
    scrub = Scrubber(lambda: [ODD_SECRET, None, "abc"])
    escaped = json.dumps(ODD_SECRET)[1:-1]
    value = {
        ODD_SECRET: [f"x {escaped} y", {"deep": quote(ODD_SECRET, safe="")}],
        "upper": ODD_SECRET.upper(),
        "short": "abc",  # under 4 characters: not treated as a secret
    }
    assert scrub.value(value) == {"***": ["x *** y", {"deep": "***"}], "upper": "***", "short": "abc"}


def test_forms_cover_json_escapes_and_url_encodings() -> None:
    forms = forms_of("a/b é")
    assert {"a/b é", "a\\/b é", "a/b \\u00e9", "a%2Fb%20%C3%A9", "a/b%20%C3%A9", "a%2Fb+%C3%A9"} <= forms


def test_a_clean_answer_is_returned_as_is_without_a_walk() -> None:
    scrub = Scrubber(lambda: [SECRET])
    data = {"items": [{"name": "ACME"}]}
    assert scrub.answer(json.dumps(data).encode(), data) is data
    echoed = {"items": [{"note": SECRET.upper()}]}
    assert scrub.answer(json.dumps(echoed).encode(), echoed) == {"items": [{"note": "***"}]}


def test_the_raw_scan_finds_json_escaped_and_non_ascii_secrets() -> None:
    for secret in (ODD_SECRET, "clé-secrète-ÉTÉ"):
        scrub = Scrubber(lambda s=secret: [s])  # type: ignore[misc]
        data = {"echo": secret}
        for raw in (json.dumps(data), json.dumps(data, ensure_ascii=False)):
            assert scrub.answer(raw.encode(), data) == {"echo": "***"}


def test_secrets_are_asked_for_on_every_use() -> None:
    current = ["first-token"]
    scrub = Scrubber(lambda: current)
    assert scrub.text("first-token second-token") == "*** second-token"
    current.append("second-token")
    assert scrub.text("first-token second-token") == "*** ***"


# ------------------------------------------------- through the client (issue items)


@pytest.mark.anyio
async def test_an_error_code_echoing_the_bearer_or_the_secret_is_scrubbed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream = Upstream(
        lambda r, bearer: error_json(400, "Bad request", f"ERROR_BAD_TOKEN_{bearer}"),
        lambda r, bearer: error_json(422, "Invalid", f"ERROR_{SECRET}"),
    )
    async with client_for(upstream) as client:
        errors = [await failure(client), await failure(client)]
    for error in errors:
        assert isinstance(error, ChiftAPIError)
        assert upstream.tokens[0] not in shown(error) and SECRET not in shown(error)
        assert "***" in error.payload()["error"]
    assert upstream.tokens[0] not in caplog.text and SECRET not in caplog.text


@pytest.mark.anyio
async def test_a_successful_answer_echoing_the_bearer_or_the_secret_is_scrubbed() -> None:
    upstream = Upstream(
        lambda r, bearer: httpx2.Response(200, json={"echo": {"auth": f"Bearer {bearer}", bearer: SECRET}})
    )
    async with client_for(upstream) as client:
        answer = await client.request("GET", "/consumers/x")
    assert answer == {"echo": {"auth": "Bearer ***", "***": "***"}}


@pytest.mark.anyio
async def test_the_token_refused_by_a_401_is_still_scrubbed_after_the_new_one_is_fetched() -> None:
    upstream = Upstream(
        lambda r, bearer: error_json(401, "Token expired"),
        lambda r, bearer: error_json(400, f"Conflicts with the request sent with {upstream.tokens[0]}"),
    )
    async with client_for(upstream) as client:
        error = await failure(client)
    assert len(upstream.tokens) == 2
    assert upstream.tokens[0] not in shown(error) and "***" in error.message


@pytest.mark.anyio
async def test_a_secret_with_quotes_and_backslashes_echoed_as_json_is_scrubbed() -> None:
    page = "<html>Rejected body: " + json.dumps({"clientSecret": ODD_SECRET}) + "</html>"
    upstream = Upstream(
        lambda r, bearer: httpx2.Response(500, text=page),
        lambda r, bearer: error_json(400, "Body was: " + json.dumps({"clientSecret": ODD_SECRET})),
    )
    async with client_for(upstream, secret=ODD_SECRET) as client:
        errors = [await failure(client), await failure(client)]
    escaped = json.dumps(ODD_SECRET)[1:-1]
    for error in errors:
        assert escaped not in shown(error) and ODD_SECRET not in shown(error)
        assert "quote" not in error.message and "backslash" not in error.message


@pytest.mark.anyio
async def test_url_encoded_and_upper_cased_tokens_are_scrubbed() -> None:
    upstream = Upstream(
        lambda r, bearer: error_json(400, f"Bad redirect https://x.test/?token={quote(bearer, safe='')}"),
        lambda r, bearer: error_json(400, f"TOKEN {bearer.upper()} IS NOT VALID"),
        lambda r, bearer: error_json(400, "no", detail={"SECRET": quote(SECRET, safe="").lower()}),
    )
    async with client_for(upstream) as client:
        errors = [await failure(client) for _ in range(3)]
    token = upstream.tokens[0]
    for error in errors:
        text = shown(error)
        assert token.lower() not in text.lower() and "ABCDEFGH" not in text
        assert quote(SECRET, safe="").lower() not in text.lower()
    assert "***" in errors[0].message and "***" in errors[1].message
    assert isinstance(errors[2], ChiftAPIError) and errors[2].detail == {"SECRET": "***"}
