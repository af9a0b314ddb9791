"""An async client for the Chift API, on httpx2.

One :class:`ChiftClient` holds one ``httpx2.AsyncClient`` (keep-alive) and one bearer token:

- **Token**: ``POST /token`` with the API key; cached until 60 s before it expires; concurrent callers
  share one refresh; a 401 drops the token, fetches a new one and replays the request once.
- **Retries**: 429, 502, 503, 504 and transport failures (connect errors, timeouts, dropped
  connections) are retried with exponential backoff and full jitter, honouring ``Retry-After``, at
  most ``max_retries`` times and ``retry_budget`` seconds of waiting in all.
- **Idempotency**: every POST, PUT, PATCH and DELETE carries ``X-Chift-Client-RequestId``, the same
  value on every retry, so a retried create is never booked twice. If a retry is answered 409
  ``REQUEST_ALREADY_PROCESSED``, an earlier attempt went through and its answer was lost: the error
  says so and tells the agent how to find the result instead of resending.
- **Errors**: every failure is an :class:`~chift_mcp.errors.UpstreamError` whose message and hint an
  agent can act on. The client secret and access tokens are scrubbed from everything that leaves this
  module (messages, details, hints, logs); headers are never logged.
"""

from __future__ import annotations

import email.utils
import importlib.metadata
import logging
import math
import random
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
from pydantic_core import from_json

from .errors import (
    ArgumentError,
    ChiftAPIError,
    ConfigError,
    InvalidResponseError,
    UnreachableError,
    UpstreamError,
    field_path,
)

if TYPE_CHECKING:
    from .settings import Settings

__all__ = ["ChiftClient"]

logger = logging.getLogger("chift_mcp.client")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Methods that change something: they carry X-Chift-Client-RequestId. Not GET: a retried GET with the
# same id would be answered 409 instead of data.
IDEMPOTENCY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REQUEST_ID_HEADER = "X-Chift-Client-RequestId"
FORCE_REFRESH_HEADER = "x-chift-force-refresh"
TOKEN_PATH = "/token"
TOKEN_REFRESH_MARGIN = 60.0  # seconds before expiry at which a cached token is replaced
DEFAULT_TOKEN_LIFETIME = 1800.0  # Chift's tokens live 30 minutes
MAX_EXCERPT = 200
MAX_DETAIL_CHARS = 1000
MAX_DETAIL_ITEMS = 20

ALREADY_PROCESSED = "REQUEST_ALREADY_PROCESSED"
IN_PROCESS = "REQUEST_IN_PROCESS"
CONNECTOR_AUTHENTICATION = "ERROR_CONNECTOR_AUTHENTICATION"

CREDENTIAL_VARS = "CHIFT_CLIENT_ID, CHIFT_CLIENT_SECRET and CHIFT_ACCOUNT_ID"
_TOKEN_FIELD_VARS = {
    "clientId": "CHIFT_CLIENT_ID",
    "clientSecret": "CHIFT_CLIENT_SECRET",
    "accountId": "CHIFT_ACCOUNT_ID",
    "marketplaceId": "CHIFT_MARKETPLACE_ID",
    "envId": "CHIFT_ENV_ID",
}

# Chift error codes whose meaning calls for a more precise hint than their HTTP status.
_CODE_HINTS: dict[str, str] = {
    "ERROR_CONNECTOR_AUTHENTICATION": (
        "The connected software rejected the credentials stored in this connection (this server's "
        "Chift key is fine): the consumer must reconnect the connection in Chift. Retrying will not help."
    ),
    "ERROR_BACKEND_FORBIDDEN": (
        "The connected software refused access: the consumer must re-authorise the connection in Chift. "
        "Retrying will not help."
    ),
    "ERROR_NO_ACTIVE_CONNECTION": (
        "This consumer has no active connection for this API: list the consumer's connections to see "
        "which APIs it can use."
    ),
    "ERROR_CONFIGURATION_CONNECTION": (
        "The consumer's connections are misconfigured for this API (for example two active "
        "connections): list the consumer's connections; this needs fixing in Chift, not in the arguments."
    ),
    "ERROR_RESOURCE_NOT_SUPPORTED": (
        "The connected software does not support this operation: use another tool or another resource."
    ),
    "ERROR_API_RESOURCE_NOT_FOUND": "This route does not exist in Chift: check the tool and its path.",
    "ERROR_CONNECTOR_MAINTENANCE": (
        "The connected software is temporarily unavailable: retry in a few minutes."
    ),
}

_TRANSPORT_RETRY = (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)
# Failures that happen before any byte of the request left: the request cannot have been processed.
_NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
_DNS_WORDS = (
    "name or service not known",
    "nodename nor servname",
    "getaddrinfo",
    "name resolution",
    "no address associated",
    "resolve",
)
_CONSUMER_RE = re.compile(r"^/consumers/([^/?#]+)/")
_TAG_RE = re.compile(r"<[^>]*>")
_SPACE_RE = re.compile(r"\s+")

Sleep = Callable[[float], Awaitable[None]]
HeadersFactory = Callable[[], Awaitable[httpx2.Headers]]


def _user_agent() -> str:
    try:
        version = importlib.metadata.version("chift-mcp")
    except importlib.metadata.PackageNotFoundError:
        version = getattr(sys.modules.get("chift_mcp"), "__version__", None) or "0+unknown"
    return f"chift-mcp/{version}"


@dataclass
class _Attempts:
    """Bookkeeping of one logical call across its retries."""

    sent: int = 0  # requests sent (or tried)
    retries: int = 0  # retries taken for 429/5xx/transport failures (not the 401 replay)
    waited: float = 0.0  # seconds slept between retries
    maybe_processed: bool = False  # an earlier attempt may have reached Chift and been carried out
    retry_after: float | None = None  # Retry-After of the last answer, seconds


class ChiftClient:
    """Async Chift API client: token management, retries, idempotency keys and agent-readable errors."""

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        account_id: str,
        marketplace_id: str | None = None,
        env_id: str | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_retries: int = 3,
        retry_budget: float = 30.0,
        transport: httpx2.AsyncBaseTransport | None = None,
        sleep: Sleep = anyio.sleep,
        backoff_base: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        url = httpx2.URL(base_url.strip().rstrip("/"))
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigError(
                f"CHIFT_URL_BASE must be an http(s) URL such as https://api.chift.eu, got {base_url!r}"
            )
        port = f":{url.port}" if url.port else ""
        # Shown in errors; built without any user:password part the URL might carry.
        self.base_url = f"{url.scheme}://{url.host}{port}{url.path}".rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._account_id = account_id
        self._marketplace_id = marketplace_id
        self._env_id = env_id
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._max_retries = max(0, max_retries)
        self._retry_budget = max(0.0, retry_budget)
        self._sleep = sleep
        self._backoff_base = backoff_base
        self._clock = clock
        self._token: str | None = None
        self._token_refresh_at = 0.0
        self._old_tokens: list[str] = []  # recently used tokens, scrubbed from error texts too
        self._token_lock = anyio.Lock()
        self._http_args: dict[str, Any] = {
            "base_url": str(url),
            "timeout": httpx2.Timeout(timeout, connect=connect_timeout),
            "headers": {"User-Agent": _user_agent(), "Accept": "application/json"},
            "limits": httpx2.Limits(max_connections=50, max_keepalive_connections=10, keepalive_expiry=30.0),
            "transport": transport,
            "follow_redirects": False,
        }
        self._http_client: httpx2.AsyncClient | None = None

    @property
    def _http(self) -> httpx2.AsyncClient:
        """The connection pool, made on first use: building its TLS context costs ~30 ms of start-up."""
        if self._http_client is None:
            self._http_client = httpx2.AsyncClient(**self._http_args)
        return self._http_client

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> ChiftClient:
        """Build a client from :class:`~chift_mcp.settings.Settings`; ``kw`` overrides or adds arguments
        (``transport``, ``sleep``, ...)."""
        missing = settings.missing_credentials()
        if missing:
            raise ConfigError(f"Chift credentials missing: set {', '.join(missing)}.")
        assert settings.client_id and settings.client_secret and settings.account_id
        args: dict[str, Any] = {
            **transport_args(settings),
            "client_id": settings.client_id,
            "client_secret": settings.client_secret.get_secret_value(),
            "account_id": settings.account_id,
            "marketplace_id": settings.marketplace_id,
            "env_id": settings.env_id,
        }
        args.update(kw)
        return cls(**args)

    def __repr__(self) -> str:
        return f"ChiftClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> ChiftClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http_client is not None:
            await self._http_client.aclose()

    # ------------------------------------------------------------------ token

    async def get_token(self) -> str:
        """A valid access token: the cached one, or a new one (one fetch shared by concurrent callers)."""
        token = self._cached_token()
        if token is not None:
            return token
        async with self._token_lock:
            token = self._cached_token()
            if token is not None:
                return token
            return await self._fetch_token()

    def _cached_token(self) -> str | None:
        if self._token is not None and self._clock() < self._token_refresh_at:
            return self._token
        return None

    def _drop_token(self, token: str) -> None:
        """Forget ``token`` if it is still the current one (a concurrent caller may have replaced it)."""
        if self._token == token:
            self._token = None

    async def _fetch_token(self) -> str:
        body: dict[str, str] = {
            "clientId": self._client_id,
            "clientSecret": self._client_secret,
            "accountId": self._account_id,
        }
        if self._marketplace_id:
            body["marketplaceId"] = self._marketplace_id
        if self._env_id:
            body["envId"] = self._env_id

        async def no_auth() -> httpx2.Headers:
            return httpx2.Headers()

        state = _Attempts()
        resp = await self._exchange("POST", TOKEN_PATH, None, body, no_auth, state, None)
        status = resp.status_code
        if not 200 <= status < 300:
            raise self._token_error(resp, state)
        try:
            data = resp.json()
        except ValueError:
            data = None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise InvalidResponseError(
                f"Chift returned invalid JSON for POST {TOKEN_PATH} (HTTP {status}): no access_token in it.",
                hint="Retry in a few seconds; if it persists, check that CHIFT_URL_BASE points at the Chift API.",
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
            self._old_tokens = [*self._old_tokens[-4:], self._token]
        self._token = token
        self._token_refresh_at = now + lifetime - margin
        logger.debug("token fetched, valid for %.0f s", lifetime)
        return token

    def _token_error(self, resp: httpx2.Response, state: _Attempts) -> UpstreamError:
        status = resp.status_code
        body = _json_or_none(resp)
        code = body.get("error_code") if isinstance(body, dict) else None
        code = code if isinstance(code, str) else None
        if status in (400, 401, 403, 422):
            fields = []
            detail = body.get("detail") if isinstance(body, dict) else None
            if isinstance(detail, list):  # names only: a validation detail may echo the secret
                for item in detail:
                    if isinstance(item, dict) and isinstance(item.get("loc"), list) and item["loc"]:
                        fields.append(_TOKEN_FIELD_VARS.get(str(item["loc"][-1]), str(item["loc"][-1])))
            which = f" (Chift objected to {', '.join(dict.fromkeys(fields))})" if fields else ""
            extra = []
            if self._marketplace_id:
                extra.append("CHIFT_MARKETPLACE_ID")
            if self._env_id:
                extra.append("CHIFT_ENV_ID")
            also = f" (and {' and '.join(extra)})" if extra else ""
            return ChiftAPIError(
                status,
                f"Chift rejected the API credentials (HTTP {status}){which}.",
                error_code=code,
                hint=(
                    f"Check {CREDENTIAL_VARS}{also}: they must be an active API key of that Chift "
                    "account (a sandbox key works only with the sandbox). Retrying will not help."
                ),
            )
        if status == 404:
            return ChiftAPIError(
                status,
                f"There is no Chift token endpoint at {self.base_url}{TOKEN_PATH} (HTTP 404).",
                error_code=code,
                hint="Check CHIFT_URL_BASE: it should be the Chift API root, such as https://api.chift.eu.",
            )
        return self._error(resp, "POST", TOKEN_PATH, None, state)

    # ---------------------------------------------------------------- request

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        force_refresh: bool = False,
        writes: bool | None = None,
    ) -> Any:
        """Call the Chift API and return the decoded JSON answer (``None`` for 204 or an empty body).

        ``path`` is relative to the base URL and starts with ``/``. Writes (POST, PUT, PATCH, DELETE,
        unless ``writes=False``: a POST that only reads) carry ``X-Chift-Client-RequestId:
        request_id`` (a new uuid4 when None), the same on every retry, and their errors say how to
        check whether a lost answer's write went through. ``force_refresh`` asks Chift to bypass its
        5-minute GET cache. Raises an ``UpstreamError``.
        """
        method = method.upper()
        if not path.startswith("/") or path.startswith("//"):
            raise ValueError(f"path must be relative to the Chift base URL and start with '/': {path!r}")
        rid: str | None = None
        if writes is None:
            writes = method in IDEMPOTENCY_METHODS
        if writes:
            rid = request_id or uuid.uuid4().hex
            if len(rid) > 255 or not (rid.isascii() and rid.isprintable()):
                raise ArgumentError(
                    "The client request id must be at most 255 printable ASCII characters.",
                    field="request_id",
                )
        base = httpx2.Headers(headers or {})
        if force_refresh:
            base[FORCE_REFRESH_HEADER] = "true"
        if rid:
            base[REQUEST_ID_HEADER] = rid
        query = {k: v for k, v in (params or {}).items() if v is not None} or None

        sent_token = ""

        async def with_auth() -> httpx2.Headers:
            nonlocal sent_token
            sent_token = await self.get_token()
            out = base.copy()
            out["Authorization"] = f"Bearer {sent_token}"
            return out

        state = _Attempts()
        replayed = False
        while True:
            resp = await self._exchange(method, path, query, json, with_auth, state, rid)
            if resp.status_code == 401 and not replayed and _error_code(resp) != CONNECTOR_AUTHENTICATION:
                # The token expired early or was revoked: one fresh token, one replay.
                replayed = True
                self._drop_token(sent_token)
                continue
            break
        if 200 <= resp.status_code < 300:
            return self._decode(resp, method, path, rid)
        raise self._error(resp, method, path, rid, state)

    async def _exchange(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        make_headers: HeadersFactory,
        state: _Attempts,
        rid: str | None,
    ) -> httpx2.Response:
        """Send until an answer that is not worth retrying, or the retries/budget run out.

        Returns the last response (possibly a 429/5xx); raises ``UnreachableError`` when no answer came.
        """
        while True:
            headers = await make_headers()
            state.sent += 1
            started = time.perf_counter()
            try:
                resp = await self._http.request(method, path, params=params, json=json, headers=headers)
            except _TRANSPORT_RETRY as exc:
                self._log(method, path, type(exc).__name__, started, state.sent)
                if not isinstance(exc, _NOT_SENT):
                    state.maybe_processed = True
                if await self._backoff(state, None):
                    continue
                raise self._unreachable(exc, method, path, rid, state) from None
            except httpx2.DecodingError:
                self._log(method, path, "DecodingError", started, state.sent)
                raise InvalidResponseError(
                    f"Chift's answer to {method} {path} could not be decoded.",
                    hint="Retry in a few seconds; if it persists, report it.",
                    request_id=rid,
                ) from None
            except httpx2.TransportError as exc:  # not retryable: unsupported scheme, bad header, proxy...
                self._log(method, path, type(exc).__name__, started, state.sent)
                raise UnreachableError(
                    f"Could not send {method} {path} to the Chift API at {self.base_url} "
                    f"({type(exc).__name__}).",
                    hint="Check CHIFT_URL_BASE and the network or proxy settings.",
                    retryable=False,
                    request_id=rid,
                ) from None
            self._log(method, path, resp.status_code, started, state.sent)
            if resp.status_code not in RETRY_STATUSES:
                return resp
            if resp.status_code >= 500:
                state.maybe_processed = True
            state.retry_after = _retry_after(resp, self._clock())
            if await self._backoff(state, state.retry_after):
                continue
            return resp

    async def _backoff(self, state: _Attempts, retry_after: float | None) -> bool:
        """Sleep before the next retry and return True, or return False when retries or budget are spent."""
        if state.retries >= self._max_retries:
            return False
        if retry_after is not None:
            wait = retry_after
        else:  # exponential backoff with full jitter
            wait = random.uniform(0.0, self._backoff_base * (2**state.retries))
        if state.waited + wait > self._retry_budget:
            return False
        state.retries += 1
        state.waited += wait
        logger.debug("retry %d in %.2f s", state.retries, wait)
        await self._sleep(wait)
        return True

    def _log(self, method: str, path: str, outcome: int | str, started: float, attempt: int) -> None:
        ms = (time.perf_counter() - started) * 1000
        logger.debug("%s %s status=%s ms=%.0f attempt=%d", method, path, outcome, ms, attempt)

    # ----------------------------------------------------------------- answers

    def _decode(self, resp: httpx2.Response, method: str, path: str, rid: str | None) -> Any:
        if resp.status_code == 204 or not resp.content.strip():
            return None
        try:
            return from_json(resp.content)  # what resp.json() returns, in half the time
        except ValueError:
            try:
                return resp.json()  # a BOM, UTF-16/32 or deep nesting, which from_json refuses
            except (ValueError, RecursionError):
                pass
        if method == "POST" and rid:
            hint = (
                f"Chift answered {resp.status_code}, so the {method} was probably carried out, but its answer "
                "could not be read: do not resend it; look the result up first ("
                + self._lookup_hint(path, rid)
                + ")."
            )
            retryable = False
        else:
            hint = (
                "Retry in a few seconds; if it persists, the connected software is returning a broken answer."
            )
            retryable = True
        raise InvalidResponseError(
            f"Chift returned invalid JSON for {method} {path} (HTTP {resp.status_code}, "
            f"{len(resp.content)} bytes).",
            hint=hint,
            retryable=retryable,
            request_id=rid,
        )

    def _lookup_hint(self, path: str, rid: str | None) -> str:
        m = _CONSUMER_RE.match(path)
        consumer = m.group(1) if m else "{consumer_id}"
        out = "get or list the resource"
        if rid:
            out += (
                f", or GET /consumers/{consumer}/connections/{{connection_id}}/transactions"
                f"?client_request_id={rid} (its created_entity_id is the id of what was created)"
            )
        return out

    def _error(
        self, resp: httpx2.Response, method: str, path: str, rid: str | None, state: _Attempts
    ) -> ChiftAPIError:
        """Turn an error answer into a ChiftAPIError with a hint an agent can act on."""
        status = resp.status_code
        body = _json_or_none(resp)
        message = ""
        code: str | None = None
        detail: Any = None
        if isinstance(body, dict):
            raw_message = body.get("message")
            message = raw_message if isinstance(raw_message, str) else ""
            raw_code = body.get("error_code")
            code = raw_code if isinstance(raw_code, str) and raw_code else None
            detail = body.get("detail")
            if not message and isinstance(detail, str):
                message, detail = detail, None
        if not message:
            reason = resp.reason_phrase or ""
            message = f"Chift answered HTTP {status} {reason}".rstrip()
            if body is None:
                # Scrub before shortening: a cut could otherwise keep most of a secret the body echoes.
                excerpt = _excerpt(self._scrub(resp.text))
                if excerpt and not _CREDENTIAL_RE.search(excerpt):
                    message += f": {excerpt}"
        detail = _clean_detail(self._scrub(detail))
        fields = _fields(detail)

        retryable = False
        lost_answer = False
        if code and code in _CODE_HINTS:
            hint = _CODE_HINTS[code]
            retryable = status in RETRY_STATUSES or status >= 500
        elif status in (400, 422):
            if fields:
                hint = "Fix these arguments and call again: " + "; ".join(fields) + "."
            elif status == 422:
                hint = "Fix the arguments and call again; the message says which value Chift rejected."
            else:
                hint = (
                    "Chift could not process the request as sent: fix the arguments the message points at "
                    "and call again. If they look right, the connection's configuration may need attention."
                )
        elif status == 401:
            hint = (
                "Chift rejected this server's access token even after a fresh one was fetched: check "
                f"{CREDENTIAL_VARS} and that the API key is still active. Retrying will not help."
            )
        elif status == 403:
            hint = (
                "This server's Chift API key may not do this (for example it is limited to other consumers): "
                "check the consumer id and the key's scope. Retrying will not help."
            )
        elif status == 404:
            hint = "Nothing found: check the id; list the resource to find valid ids."
        elif status == 409 and code == ALREADY_PROCESSED and state.maybe_processed:
            lost_answer = True
            message = (
                f"An earlier attempt of this {method} reached Chift and was carried out, but its answer was "
                f"lost; the retry was refused as a duplicate (Chift: {message})."
            )
            hint = (
                f"Do not resend this {method}: it already happened. Look up its result instead: "
                + self._lookup_hint(path, rid)
                + "."
            )
        elif status == 409 and code == ALREADY_PROCESSED:
            hint = (
                f"The client request id {rid} was already used by a request that succeeded, so Chift did not "
                "run this one. If it is the same operation, it is already done: look it up ("
                + self._lookup_hint(path, rid)
                + "); otherwise send it again with a new request id."
            )
        elif status == 409 and code == IN_PROCESS:
            hint = (
                f"A request with the client request id {rid} is still being processed: do not resend it. "
                "Wait a few seconds, then check whether it took effect ("
                + self._lookup_hint(path, rid)
                + ")."
            )
        elif status == 409:
            hint = (
                "The request conflicts with the current state (for example the object already exists): "
                "look up the existing object instead of creating it again."
            )
        elif status == 429:
            wait = math.ceil(state.retry_after) if state.retry_after is not None else 60
            hint = f"Rate limit reached (usually the connected software's): wait {wait} s, then retry."
            retryable = True
        elif status >= 500:
            hint = "Chift or the connected software had a temporary problem: retry in a few seconds."
            if state.retry_after is not None:
                hint = (
                    "Chift or the connected software is temporarily unavailable: wait "
                    f"{math.ceil(state.retry_after)} s, then retry."
                )
            retryable = True
        elif 400 <= status < 500:
            hint = f"Chift refused the request (HTTP {status}): read the message and change the request."
        else:
            hint = f"Unexpected answer from Chift (HTTP {status}); report it if it persists."

        if retryable and state.retry_after is not None and "wait" not in hint:
            hint += f" Chift asks to wait {math.ceil(state.retry_after)} s before retrying."
        if retryable and state.retries:
            message += f" (gave up after {state.sent} attempts)"
        if (
            retryable
            and method == "POST"
            and rid
            and status >= 500
            and not lost_answer
            and path != TOKEN_PATH
        ):
            hint += (
                " Before sending the create again, check whether it went through ("
                + self._lookup_hint(path, rid)
                + ")."
            )
        return ChiftAPIError(
            status,
            self._scrub(message),
            error_code=code,
            detail=self._scrub(detail),
            hint=self._scrub(hint),
            retryable=retryable,
            request_id=rid,
        )

    def _unreachable(
        self, exc: Exception, method: str, path: str, rid: str | None, state: _Attempts
    ) -> UnreachableError:
        if isinstance(exc, httpx2.ConnectTimeout):
            what = f"the connection timed out after {self._connect_timeout:g} s"
        elif isinstance(exc, httpx2.ReadTimeout):
            what = f"the request timed out: no answer within {self._timeout:g} s"
        elif isinstance(exc, httpx2.WriteTimeout):
            what = f"the request timed out while sending it ({self._timeout:g} s)"
        elif isinstance(exc, httpx2.PoolTimeout):
            what = "the request timed out waiting for a free connection"
        elif isinstance(exc, httpx2.ConnectError):
            text = str(exc).lower()
            if any(word in text for word in _DNS_WORDS):
                what = "the host name could not be resolved (DNS)"
            else:
                what = "the connection was refused or could not be opened"
        elif isinstance(exc, httpx2.RemoteProtocolError):
            what = "the server closed the connection without a complete answer"
        else:
            what = "the connection broke during the request"
        attempts = f"{state.sent} attempt" + ("s" if state.sent != 1 else "")
        hint = (
            "A retry in a little while may help. If it keeps failing, check CHIFT_URL_BASE and the network."
        )
        if method == "POST" and rid and state.maybe_processed and path != TOKEN_PATH:
            hint += (
                " The request may have reached Chift before the connection failed: before sending the "
                "create again, check whether it went through (" + self._lookup_hint(path, rid) + ")."
            )
        return UnreachableError(
            f"Could not reach the Chift API at {self.base_url} ({method} {path}): {what}, after {attempts}.",
            hint=hint,
            request_id=rid,
        )

    def _scrub(self, value: Any) -> Any:
        """Replace the client secret and any access token in ``value`` (strings, lists, dicts) by ``***``."""
        secrets = [s for s in (self._client_secret, self._token, *self._old_tokens) if s and len(s) >= 4]
        return _replace_all(value, secrets)


# ------------------------------------------------------------------- helpers


def transport_args(settings: Settings) -> dict[str, Any]:
    """The connection settings every client built from :class:`Settings` shares."""
    return {
        "base_url": settings.url_base,
        "timeout": settings.timeout,
        "connect_timeout": settings.connect_timeout,
        "max_retries": settings.max_retries,
        "retry_budget": settings.retry_budget,
    }


def _replace_all(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, list):
        return [_replace_all(v, secrets) for v in value]
    if isinstance(value, dict):
        return {_replace_all(k, secrets): _replace_all(v, secrets) for k, v in value.items()}
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _json_or_none(resp: httpx2.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _error_code(resp: httpx2.Response) -> str | None:
    body = _json_or_none(resp)
    code = body.get("error_code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def _retry_after(resp: httpx2.Response, now: float) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or HTTP-date), or None when absent or unreadable."""
    value = resp.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


_CREDENTIAL_RE = re.compile(r"client_?secret|access_?token|authorization|bearer", re.I)


def _excerpt(text: str) -> str:
    """A short, single-line, tag-free excerpt of a non-JSON error body."""
    text = _TAG_RE.sub(" ", text)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = _SPACE_RE.sub(" ", text).strip()
    if len(text) > MAX_EXCERPT:
        text = text[: MAX_EXCERPT - 1].rstrip() + "…"
    return text


def _clean_detail(detail: Any) -> Any:
    """Keep what helps from Chift's ``detail``: a string (shortened) or pydantic items' loc/msg/type."""
    if isinstance(detail, str):
        return detail if len(detail) <= MAX_DETAIL_CHARS else detail[: MAX_DETAIL_CHARS - 1] + "…"
    if isinstance(detail, list):
        out: list[Any] = []
        for item in detail[:MAX_DETAIL_ITEMS]:
            if isinstance(item, dict) and "loc" in item:  # drop "input"/"ctx": they echo the values sent
                out.append({k: item[k] for k in ("loc", "msg", "type") if k in item})
            elif isinstance(item, str | int | float | bool):
                out.append(item)
        return out
    if isinstance(detail, dict):
        text = str(detail)
        return detail if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"
    return None


def _fields(detail: Any) -> list[str]:
    """``"lines[0].amount: Field required"`` for each pydantic-style item of ``detail``."""
    if not isinstance(detail, list):
        return []
    out = []
    for item in detail:
        if not isinstance(item, dict) or not isinstance(item.get("loc"), list):
            continue
        loc = list(item["loc"])
        where = ""
        if loc and loc[0] in ("body", "query", "path", "header"):
            where = f" ({loc.pop(0)})"
        name = field_path(loc)
        msg = item.get("msg")
        out.append(f"{name or 'request'}{where}: {msg}" if msg else f"{name or 'request'}{where}")
    return out
