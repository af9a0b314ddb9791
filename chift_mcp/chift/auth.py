"""How the Chift client authenticates: two ``httpx2.Auth`` strategies the client's requests go through.

- :class:`ApiKeyAuth` (the default): ``POST /token`` with the API key; the token is cached until 60 s
  before it expires and concurrent callers share one refresh. A 401 (unless Chift's code is
  ``ERROR_CONNECTOR_AUTHENTICATION``: then the connected software, not Chift, refused) drops the
  token, fetches a new one and replays the request, once per call.
- :class:`PassThroughAuth` (the HTTP door's ``--auth chift``): sends the calling request's own Chift
  access token, read from :data:`CALLER_TOKEN`, and never fetches one. The HTTP door sets the variable
  for the one request that carried the token (each MCP handler runs in a task that inherits the
  context of the request that delivered its message), so nothing is shared between requests.

Each strategy also names the secrets the client must scrub (:meth:`ChiftAuth.secrets`) and whether the
bearer is the caller's own (the hint for a 401 differs).
"""

from __future__ import annotations

import contextvars
import logging
import math
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable
from typing import Any, ClassVar

import anyio
import httpx2

from chift_mcp.chift.codes import CONNECTOR_AUTHENTICATION
from chift_mcp.chift.failures import error_code, json_or_none
from chift_mcp.chift.hints import NO_ACCESS_TOKEN, NO_CALLER_TOKEN
from chift_mcp.chift.retry import call_of
from chift_mcp.errors import InvalidResponseError, UpstreamError

__all__ = ["CALLER_TOKEN", "TOKEN_PATH", "ApiKeyAuth", "ChiftAuth", "PassThroughAuth"]

logger = logging.getLogger("chift_mcp.chift.client")

CALLER_TOKEN: contextvars.ContextVar[str | None] = contextvars.ContextVar("chift_caller_token", default=None)

TOKEN_PATH = "/token"
TOKEN_REFRESH_MARGIN = 60.0  # seconds before expiry at which a cached token is replaced
DEFAULT_TOKEN_LIFETIME = 1800.0  # Chift's tokens live 30 minutes
RECENT_TOKENS = 5  # replaced tokens still scrubbed (an answer may echo the one it was sent with)

# Sends POST /token with this JSON body (retries included) and returns the 2xx answer, or raises the
# UpstreamError for a refusal. The client provides it.
PostToken = Callable[[dict[str, str]], Awaitable[httpx2.Response]]


class ChiftAuth(httpx2.Auth):
    """An auth strategy of the Chift client: the flow, plus what the client asks of it."""

    caller_token: ClassVar[bool] = False  # the bearer is the caller's own token, not this server's

    async def token(self) -> str:
        """The access token the next request will carry."""
        raise NotImplementedError

    def secrets(self) -> Iterable[str | None]:
        """The values to scrub from everything the client hands back."""
        raise NotImplementedError

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("the Chift client is async: use httpx2.AsyncClient")


class ApiKeyAuth(ChiftAuth):
    """This server's own token, from its API key: cached, shared refresh, one replay after a 401."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        account_id: str,
        marketplace_id: str | None = None,
        env_id: str | None = None,
        post: PostToken,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_secret = client_secret
        self._body: dict[str, str] = {
            "clientId": client_id,
            "clientSecret": client_secret,
            "accountId": account_id,
        }
        if marketplace_id:
            self._body["marketplaceId"] = marketplace_id
        if env_id:
            self._body["envId"] = env_id
        self._post = post
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._recent: deque[str] = deque(maxlen=RECENT_TOKENS)
        self._lock = anyio.Lock()

    @property
    def optional_vars(self) -> list[str]:
        """The optional settings sent with the key (a refusal may be about them too)."""
        names = {"marketplaceId": "CHIFT_MARKETPLACE_ID", "envId": "CHIFT_ENV_ID"}
        return [var for key, var in names.items() if key in self._body]

    def secrets(self) -> Iterable[str | None]:
        return (self._client_secret, self._token, *self._recent)

    async def token(self) -> str:
        """The cached token, or a new one (one fetch shared by concurrent callers)."""
        token = self._cached()
        if token is not None:
            return token
        async with self._lock:
            token = self._cached()
            if token is not None:
                return token
            return await self._fetch()

    def forget(self, token: str) -> None:
        """Stop using ``token`` (Chift refused it), if a concurrent caller has not replaced it already.
        It stays among the recent tokens, which are scrubbed: the refusal may have echoed it."""
        self._archive(token)
        if self._token == token:
            self._token = None

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        token = await self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        call = call_of(request)
        if response.status_code != 401 or (call is not None and call.replayed):
            return
        await response.aread()
        if error_code(response) == CONNECTOR_AUTHENTICATION:
            return
        # The token expired early or was revoked: one fresh token, one replay for the whole call.
        if call is not None:
            call.replayed = True
        self.forget(token)
        replay = httpx2.Request(
            request.method,
            request.url,
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        replay.headers["Authorization"] = f"Bearer {await self.token()}"
        yield replay

    def _cached(self) -> str | None:
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        return None

    def _archive(self, token: str) -> None:
        if token not in self._recent:
            self._recent.append(token)

    async def _fetch(self) -> str:
        resp = await self._post(self._body)
        data = json_or_none(resp)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise InvalidResponseError(
                f"Chift returned invalid JSON for POST {TOKEN_PATH} (HTTP {resp.status_code}): "
                "no access_token in it.",
                hint=NO_ACCESS_TOKEN,
            )
        assert isinstance(data, dict)
        now = self._clock()
        lifetime = _number(data.get("expires_on"))
        if lifetime is not None:
            lifetime -= now
        expires_in = _number(data.get("expires_in"))
        # Trust expires_on unless it disagrees with the local clock (skew): then expires_in.
        if (
            expires_in is not None
            and expires_in > 0
            and (lifetime is None or lifetime <= 0 or lifetime > expires_in + 300)
        ):
            lifetime = expires_in
        if lifetime is None or lifetime <= 0:
            lifetime = DEFAULT_TOKEN_LIFETIME
        margin = min(TOKEN_REFRESH_MARGIN, lifetime / 2)
        if self._token:
            self._archive(self._token)
        self._token = token
        self._refresh_at = now + lifetime - margin
        logger.debug("token fetched, valid for %.0f s", lifetime)
        return token


class PassThroughAuth(ChiftAuth):
    """The calling request's own Chift access token (:data:`CALLER_TOKEN`). A 401 means it is expired
    or wrong: nothing to refresh, nothing to replay."""

    caller_token = True

    def secrets(self) -> Iterable[str | None]:
        return (CALLER_TOKEN.get(),)

    async def token(self) -> str:
        token = CALLER_TOKEN.get()
        if not token:
            raise UpstreamError(
                "No Chift access token came with this request.", hint=NO_CALLER_TOKEN, retryable=False
            )
        return token

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        request.headers["Authorization"] = f"Bearer {await self.token()}"
        yield request


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
