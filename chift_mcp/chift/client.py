"""An async client for the Chift API, on httpx2: the request flow.

One :class:`ChiftClient` holds one ``httpx2.AsyncClient`` (keep-alive) and one auth strategy
(:mod:`chift_mcp.chift.auth`): this server's API key, or with ``auth=PassThroughAuth()`` the caller's
own Chift token. A call to :meth:`ChiftClient.request`:

- **builds the request**, the same for every attempt: every POST, PUT, PATCH and DELETE carries
  ``X-Chift-Client-RequestId``, the same value on every retry, so a retried create is never booked twice. If a retry is answered 409
  ``REQUEST_ALREADY_PROCESSED``, an earlier attempt went through and its answer was lost: the error
  says so and tells the agent how to find the result instead of resending.
- **sends it through the auth flow** (token, and after a 401 a new token and one replay), again
  while the :class:`~chift_mcp.chift.retry.RetryPolicy` allows: 502, 503, 504 and transport failures,
  with backoff honouring ``Retry-After``, within a count and a budget of waiting; not Chift's
  configuration errors (a local agent or backend out of reach), not a 429 unless Chift asks for a
  wait (it retried the connector ~31 s before answering), never a daily limit, and not a write
  whose answer timed out (Chift is still at it: a resend would meet ``REQUEST_IN_PROCESS``).
- **reads what was written**: a GET on a consumer (or an account resource such as ``/consumers``)
  within Chift's 5-minute cache window after this client's write to it ended carries
  ``x-chift-force-refresh: true`` (:mod:`chift_mcp.chift.freshness`).
- **never runs past its deadline**, :data:`CALL_DEADLINE` (a ``time.monotonic()`` instant set by
  whoever serves the request, e.g. with :func:`deadline_in`): an attempt is cut off there and no retry
  is started that could not finish. A write that may have reached Chift then fails with the
  ``UnreachableError`` that names its client request id and how to look it up; a read with a
  retryable error saying the time ran out.
- **turns a failure into an** :class:`~chift_mcp.errors.UpstreamError` whose message and hint an agent
  can act on (:mod:`chift_mcp.chift.hints`), and **scrubs** the client secret and access tokens
  (:mod:`chift_mcp.chift.scrub`) from everything it hands back: errors, successful answers, logs. Headers are
  never logged.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.metadata
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
from pydantic_core import from_json

from chift_mcp.chift import failures as failure
from chift_mcp.chift.auth import TOKEN_PATH, ApiKeyAuth, ChiftAuth, PassThroughAuth
from chift_mcp.chift.freshness import CHIFT_CACHE_SECONDS, RecentWrites
from chift_mcp.chift.hints import TOKEN_FIELD_VARS
from chift_mcp.chift.retry import (
    CALL_EXTENSION,
    MIN_ATTEMPT_TIME,
    NOT_SENT,
    TRANSPORT_RETRY,
    Call,
    Next,
    RetryPolicy,
    Sleep,
    call_of,
    retry_after,
    worth_retrying,
)
from chift_mcp.chift.scrub import Scrubber
from chift_mcp.errors import ArgumentError, ConfigError, UpstreamError

if TYPE_CHECKING:
    from chift_mcp.settings import Settings

__all__ = ["CALL_DEADLINE", "ChiftClient", "deadline_in", "passthrough_client", "transport_args"]

logger = logging.getLogger("chift_mcp.chift.client")

# The instant (time.monotonic()) by which a call must be over, set by whoever serves the request.
CALL_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "chift_call_deadline", default=None
)

# Methods that change something: they carry X-Chift-Client-RequestId. Not GET: a retried GET with the
# same id would be answered 409 instead of data.
IDEMPOTENCY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REQUEST_ID_HEADER = "X-Chift-Client-RequestId"
FORCE_REFRESH_HEADER = "x-chift-force-refresh"
_STARTED = "chift_mcp.started"  # request extension: time.perf_counter() when it was sent


@contextlib.contextmanager
def deadline_in(seconds: float, *, clock: Callable[[], float] = time.monotonic) -> Iterator[float]:
    """Bound the Chift calls made inside to ``seconds`` from now (or to the earlier deadline already
    set); yields the deadline."""
    at = clock() + seconds
    current = CALL_DEADLINE.get()
    if current is not None:
        at = min(at, current)
    reset = CALL_DEADLINE.set(at)
    try:
        yield at
    finally:
        CALL_DEADLINE.reset(reset)


def _user_agent() -> str:
    try:
        version = importlib.metadata.version("chift-mcp")
    except importlib.metadata.PackageNotFoundError:
        version = getattr(sys.modules.get("chift_mcp"), "__version__", None) or "0+unknown"
    return f"chift-mcp/{version}"


class ChiftClient:
    """Async Chift API client: auth, retries, deadline, idempotency keys and agent-readable errors.

    Give either the API key (``client_id``, ``client_secret``, ``account_id`` and optionally
    ``marketplace_id``, ``env_id``) or an ``auth`` strategy such as ``PassThroughAuth()``.
    """

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str | None = None,
        client_secret: str | None = None,
        account_id: str | None = None,
        marketplace_id: str | None = None,
        env_id: str | None = None,
        auth: ChiftAuth | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        cache_window: float = CHIFT_CACHE_SECONDS,
        max_retries: int = 3,
        retry_budget: float = 30.0,
        transport: httpx2.AsyncBaseTransport | None = None,
        sleep: Sleep = anyio.sleep,
        backoff_base: float = 0.5,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        url = httpx2.URL(base_url.strip().rstrip("/"))
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigError(
                f"CHIFT_URL_BASE must be an http(s) URL such as https://api.chift.eu, got {base_url!r}"
            )
        port = f":{url.port}" if url.port else ""
        # Shown in errors; built without any user:password part the URL might carry.
        self.base_url = f"{url.scheme}://{url.host}{port}{url.path}".rstrip("/")
        key = (client_id, client_secret, account_id)
        if auth is None:
            if client_id is None or client_secret is None or account_id is None:
                raise ConfigError("ChiftClient needs client_id, client_secret and account_id, or an auth")
            auth = ApiKeyAuth(
                client_id=client_id,
                client_secret=client_secret,
                account_id=account_id,
                marketplace_id=marketplace_id,
                env_id=env_id,
                post=self._post_token,
                clock=clock,
            )
        elif any(part is not None for part in key):
            raise ConfigError("ChiftClient takes either an API key or an auth, not both")
        self._auth = auth
        self._scrub = Scrubber(auth.secrets)
        self._retry = RetryPolicy(
            max_retries=max_retries, budget=retry_budget, backoff_base=backoff_base, sleep=sleep
        )
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self.writes = RecentWrites(cache_window, monotonic)
        self._clock = clock
        self._monotonic = monotonic
        self._http_args: dict[str, Any] = {
            "base_url": str(url),
            "timeout": httpx2.Timeout(timeout, connect=connect_timeout),
            "headers": {"User-Agent": _user_agent(), "Accept": "application/json"},
            "limits": httpx2.Limits(max_connections=50, max_keepalive_connections=10, keepalive_expiry=30.0),
            "transport": transport,
            "follow_redirects": False,
            "event_hooks": {"request": [self._on_request], "response": [self._on_response]},
        }
        self._http_client: httpx2.AsyncClient | None = None

    @property
    def _http(self) -> httpx2.AsyncClient:
        """The connection pool, made on first use: building its TLS context costs ~30 ms of start-up."""
        if self._http_client is None:
            self._http_client = httpx2.AsyncClient(**self._http_args)
        return self._http_client

    @classmethod
    def from_settings(cls, settings: Settings, *, auth: ChiftAuth | None = None, **kw: Any) -> ChiftClient:
        """Build a client from :class:`~chift_mcp.settings.Settings`: on its API key, or with ``auth``
        (e.g. ``PassThroughAuth()``, which needs no key). ``kw`` overrides or adds arguments
        (``transport``, ``sleep``, ...)."""
        args: dict[str, Any] = transport_args(settings)
        if auth is not None:
            args["auth"] = auth
        else:
            missing = settings.missing_credentials()
            if missing:
                raise ConfigError(f"Chift credentials missing: set {', '.join(missing)}.")
            assert settings.client_id and settings.client_secret and settings.account_id
            args.update(
                client_id=settings.client_id,
                client_secret=settings.client_secret.get_secret_value(),
                account_id=settings.account_id,
                marketplace_id=settings.marketplace_id,
                env_id=settings.env_id,
            )
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

    async def get_token(self) -> str:
        """The access token requests carry now: the cached one or a new one (API key), or the caller's."""
        try:
            return await self._auth.token()
        except UpstreamError as exc:
            self._scrub.error(exc)
            raise

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
        5-minute GET cache; a GET on a consumer this client sent a write for within the cache window
        asks for it anyway (read-your-writes), except with a ``cursor`` (Chift: not compatible).
        Raises an ``UpstreamError``.
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
        force_refresh = self.writes.fresh_read(method, path, params, writes) or force_refresh
        base = httpx2.Headers(headers or {})
        if force_refresh:
            base[FORCE_REFRESH_HEADER] = "true"
        if rid:
            base[REQUEST_ID_HEADER] = rid
        query = {k: v for k, v in (params or {}).items() if v is not None} or None
        call = Call(method, path, rid)
        try:
            resp = await self._send(
                lambda: self._http.build_request(method, path, params=query, json=json, headers=base),
                self._auth,
                call,
            )
            if 200 <= resp.status_code < 300:
                return self._decode(resp, call)
            raise self._error(resp, call)
        except UpstreamError as exc:  # the one way out for failures: scrubbed
            self._scrub.error(exc)
            raise
        finally:
            if writes:  # Chift may have carried it out any time until now: the window starts again
                self.writes.written(path)

    async def _post_token(self, body: dict[str, str]) -> httpx2.Response:
        """``POST /token`` (for :class:`ApiKeyAuth`): the 2xx answer, or the error for a refusal."""
        call = Call("POST", TOKEN_PATH, None)
        resp = await self._send(lambda: self._http.build_request("POST", TOKEN_PATH, json=body), None, call)
        status = resp.status_code
        if 200 <= status < 300:
            return resp
        optional = [TOKEN_FIELD_VARS[k] for k in ("marketplaceId", "envId") if k in body]
        refused = failure.credentials_refused(
            status, failure.error_code(resp), failure.json_or_none(resp), optional, self.base_url + TOKEN_PATH
        )
        raise refused or self._error(resp, call)

    async def _send(
        self, build: Callable[[], httpx2.Request], auth: httpx2.Auth | None, call: Call
    ) -> httpx2.Response:
        """Send a request ``build()`` makes until an answer that is not worth retrying, or the retries,
        budget or time run out.

        Returns the last response (possibly a 429/5xx); raises ``UnreachableError`` when no answer came
        or the call's deadline came first.
        """
        while True:
            request = build()
            request.extensions[CALL_EXTENSION] = call
            left = self._time_left()
            if left is not None and left < MIN_ATTEMPT_TIME:
                raise failure.out_of_time(call, self.base_url)
            sent_before = call.sent
            try:
                if left is None:
                    resp = await self._http.send(request, auth=auth)
                else:  # each phase's timeout, and the whole attempt, end at the deadline
                    request.extensions["timeout"] = httpx2.Timeout(
                        min(self._timeout, left), connect=min(self._connect_timeout, left)
                    ).as_dict()
                    cut: httpx2.Response | None = None
                    with anyio.move_on_after(left):
                        cut = await self._http.send(request, auth=auth)
                    if cut is None:  # the deadline came first
                        call.maybe_processed |= call.sent > sent_before  # the request was on its way
                        raise failure.out_of_time(call, self.base_url)
                    resp = cut
            except TRANSPORT_RETRY as exc:
                self._log(request, type(exc).__name__)
                if not isinstance(exc, NOT_SENT):
                    call.maybe_processed = True
                configured = (
                    self._connect_timeout if isinstance(exc, httpx2.ConnectTimeout) else self._timeout
                )
                if isinstance(exc, httpx2.TimeoutException) and left is not None and left < configured:
                    raise failure.out_of_time(call, self.base_url) from None  # the deadline cut it short
                if isinstance(exc, httpx2.ReadTimeout) and call.rid:  # Chift is likely still at it
                    raise failure.unreachable(
                        exc, call, self.base_url, timeout=self._timeout, connect_timeout=self._connect_timeout
                    ) from None
                verdict = await self._retry.pause(call, None, self._time_left())
                if verdict is Next.RETRY:
                    continue
                if verdict is Next.OUT_OF_TIME:
                    raise failure.out_of_time(call, self.base_url) from None
                raise failure.unreachable(
                    exc, call, self.base_url, timeout=self._timeout, connect_timeout=self._connect_timeout
                ) from None
            except httpx2.DecodingError:
                self._log(request, "DecodingError")
                raise failure.undecodable(call) from None
            except httpx2.TransportError as exc:  # not retryable: unsupported scheme, bad header, proxy...
                self._log(request, type(exc).__name__)
                raise failure.not_sendable(exc, call, self.base_url) from None
            if resp.status_code not in self._retry.statuses:
                return resp
            if resp.status_code >= 500:
                call.maybe_processed = True
            call.retry_after = retry_after(resp, self._clock())
            if not worth_retrying(resp, call.retry_after):
                return resp
            verdict = await self._retry.pause(call, call.retry_after, self._time_left())
            if verdict is Next.RETRY:
                continue
            if verdict is Next.OUT_OF_TIME:
                raise failure.out_of_time(call, self.base_url)
            return resp

    def _time_left(self) -> float | None:
        deadline = CALL_DEADLINE.get()
        return None if deadline is None else deadline - self._monotonic()

    # httpx event hooks: they see every request, the 401 replay and the token fetch included.
    async def _on_request(self, request: httpx2.Request) -> None:
        call = call_of(request)
        if call is not None:
            call.sent += 1
        request.extensions[_STARTED] = time.perf_counter()

    async def _on_response(self, response: httpx2.Response) -> None:
        self._log(response.request, response.status_code)

    def _log(self, request: httpx2.Request, outcome: int | str) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        call = call_of(request)
        started = request.extensions.get(_STARTED)
        ms = (time.perf_counter() - started) * 1000 if isinstance(started, float) else 0.0
        if call is not None:
            method, path, attempt = call.method, call.path, call.sent
        else:
            method, path, attempt = request.method, request.url.path, 0
        logger.debug(
            "%s %s status=%s ms=%.0f attempt=%d", method, self._scrub.text(path), outcome, ms, attempt
        )

    def _decode(self, resp: httpx2.Response, call: Call) -> Any:
        """The JSON of a 2xx answer, scrubbed."""
        if resp.status_code == 204 or not resp.content.strip():
            return None
        try:  # what resp.json() returns, in half the time; UTF-8, so the raw scan sees every secret
            return self._scrub.answer(resp.content, from_json(resp.content))
        except ValueError:
            try:  # a BOM, UTF-16/32 or deep nesting, which from_json refuses: walked in full
                return self._scrub.value(resp.json())
            except (ValueError, RecursionError):
                pass
        raise failure.unreadable_answer(resp, call)

    def _error(self, resp: httpx2.Response, call: Call) -> UpstreamError:
        return failure.api_error(
            resp, call, self._scrub, caller_token=self._auth.caller_token, now=self._clock()
        )


def passthrough_client(
    settings: Settings, transport: httpx2.AsyncBaseTransport | None = None, **kw: Any
) -> ChiftClient:
    """A client that forwards the calling request's own Chift token (the HTTP door's ``--auth
    chift``): ``ChiftClient.from_settings(settings, auth=PassThroughAuth(), ...)``."""
    return ChiftClient.from_settings(settings, auth=PassThroughAuth(), transport=transport, **kw)


def transport_args(settings: Settings) -> dict[str, Any]:
    """The connection settings every client built from :class:`Settings` shares."""
    return {
        "base_url": settings.url_base,
        "timeout": settings.timeout,
        "connect_timeout": settings.connect_timeout,
        "max_retries": settings.max_retries,
        "retry_budget": settings.retry_budget,
        "cache_window": settings.cache_window,
    }
