"""When the Chift client sends a request again: the retry policy and the bookkeeping of one call.

:class:`RetryPolicy` retries 502, 503, 504 and transport failures (connect errors, timeouts,
dropped connections) with exponential backoff and full jitter, honouring ``Retry-After``, at most
``max_retries`` times and ``budget`` seconds of waiting in all, and never past the call's deadline.
What it does not retry follows Chift's error table (docs.chift.eu developer-guides/errors,
developer-guides/rate-limits): configuration errors, whatever their status
(:data:`~chift_mcp.chift.codes.NO_RETRY_CODES`: a local agent or a backend out of reach, a connector
refusing the connection's credentials, on 502 too); a 429
unless Chift asks for a wait (``Retry-After``), since Chift answers 429 only after retrying the
connector itself for ~31 s, and never a daily limit; and a write whose answer timed out (the client
decides that one: Chift is still working on it, and a resend only meets ``REQUEST_IN_PROCESS``).
Its ``sleep`` and ``jitter`` are injectable, so tests neither wait nor guess.
"""

from __future__ import annotations

import email.utils
import enum
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC

import anyio
import httpx2
from pydantic_core import from_json

from chift_mcp.chift.codes import NO_RETRY_CODES, code_of
from chift_mcp.chift.ratelimit import is_daily_limit

__all__ = [
    "CALL_EXTENSION",
    "RETRY_STATUSES",
    "Call",
    "Next",
    "RetryPolicy",
    "call_of",
    "retry_after",
    "worth_retrying",
]

logger = logging.getLogger("chift_mcp.chift.client")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Transport failures worth another attempt, and those that happen before any byte of the request
# left (the request cannot have been processed).
TRANSPORT_RETRY = (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)
NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
# An attempt is not started with less time than this left before the call's deadline: it could only
# time out, and for a write it would turn "not sent" into "may have been carried out".
MIN_ATTEMPT_TIME = 0.5

CALL_EXTENSION = "chift_mcp.call"

Sleep = Callable[[float], Awaitable[None]]


class Next(enum.Enum):
    """What to do after an answer or failure worth retrying."""

    RETRY = "retry"  # the policy slept: send again
    GIVE_UP = "give up"  # retries or budget spent: report the last outcome
    OUT_OF_TIME = "out of time"  # the wait would pass the call's deadline


@dataclass
class Call:
    """One logical call (what was asked) and the bookkeeping of its attempts, 401 replay included."""

    method: str
    path: str
    rid: str | None  # the X-Chift-Client-RequestId sent (writes only)
    sent: int = 0  # HTTP requests sent (or tried), the 401 replay included
    retries: int = 0  # retries taken for 429/5xx/transport failures (not the 401 replay)
    waited: float = 0.0  # seconds slept between retries
    maybe_processed: bool = False  # an earlier attempt may have reached Chift and been carried out
    retry_after: float | None = None  # Retry-After of the last answer, seconds
    replayed: bool = False  # the auth flow has spent the call's one replay after a 401


def call_of(request: httpx2.Request) -> Call | None:
    """The call ``request`` is an attempt of (the client puts it in the request's extensions, so the
    auth flow and the event hooks see it)."""
    call = request.extensions.get(CALL_EXTENSION)
    return call if isinstance(call, Call) else None


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    budget: float = 30.0  # seconds of waiting between attempts, in all
    backoff_base: float = 0.5  # the n-th retry waits uniform(0, backoff_base * 2**n)
    statuses: frozenset[int] = RETRY_STATUSES
    sleep: Sleep = anyio.sleep
    jitter: Callable[[float, float], float] = random.uniform

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_retries", max(0, self.max_retries))
        object.__setattr__(self, "budget", max(0.0, self.budget))

    def delay(self, call: Call, retry_after: float | None) -> float | None:
        """Seconds to wait before the next retry, or None when the retries or the budget are spent."""
        if call.retries >= self.max_retries:
            return None
        if retry_after is not None:
            wait = retry_after
        else:  # exponential backoff with full jitter
            wait = self.jitter(0.0, self.backoff_base * (2**call.retries))
        if call.waited + wait > self.budget:
            return None
        return wait

    async def pause(self, call: Call, retry_after: float | None, time_left: float | None) -> Next:
        """Sleep before the next retry, unless the retries, the budget or the call's time are spent.

        ``time_left`` is the time until the call's deadline (None: no deadline).
        """
        wait = self.delay(call, retry_after)
        if wait is None:
            return Next.GIVE_UP
        if time_left is not None and wait + MIN_ATTEMPT_TIME > time_left:
            return Next.OUT_OF_TIME
        call.retries += 1
        call.waited += wait
        logger.debug("retry %d in %.2f s", call.retries, wait)
        await self.sleep(wait)
        return Next.RETRY


def retry_after(resp: httpx2.Response, now: float) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or HTTP-date, ``now`` being the wall-clock time), or
    None when absent or unreadable."""
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


def worth_retrying(resp: httpx2.Response, wait: float | None) -> bool:
    """Whether a 429/5xx answer is worth another attempt by Chift's error table: not a configuration
    error (:data:`NO_RETRY_CODES`), and a 429 only when Chift asks for a wait (``wait``: its
    Retry-After; Chift retried the connector ~31 s already) and never a daily limit."""
    try:
        body = from_json(resp.content) if resp.content else None
    except ValueError:
        body = None
    fields = body if isinstance(body, dict) else {}
    message = fields.get("message")
    code = code_of(resp.status_code, fields.get("error_code"), message)
    if code in NO_RETRY_CODES:
        return False
    if resp.status_code == 429:
        return wait is not None and not is_daily_limit(429, code, message if isinstance(message, str) else "")
    return True
