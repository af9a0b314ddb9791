"""The errors a Chift call ends in: Chift's error answers read, and every UpstreamError built.

:func:`read_error` reads Chift's ``{status: "error", message, error_code, detail?}`` (or whatever a
proxy in front of it sent instead: an HTML page, plain text) and keeps what helps an agent, dropping
what could echo its input: Chift's message (or, for a non-JSON body, a short single-line excerpt
scrubbed before it is cut), its error code, the ``loc``/``msg``/``type`` of pydantic-style detail
items (never their ``input``), and those items as ``"lines[0].amount (body): Field required"`` lines.

The builders below turn an answer, a transport failure, a call out of time or an unreadable answer
into the :class:`~chift_mcp.errors.UpstreamError` the agent sees, with the hint :mod:`chift_mcp.chift.hints`
gives. They do not scrub their result: the client does, on the way out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx2

from chift_mcp.chift import hints
from chift_mcp.chift.codes import code_of
from chift_mcp.chift.retry import Call
from chift_mcp.chift.scrub import Scrubber
from chift_mcp.errors import ChiftAPIError, InvalidResponseError, UnreachableError, field_path

__all__ = [
    "ErrorAnswer",
    "api_error",
    "credentials_refused",
    "error_code",
    "json_or_none",
    "not_sendable",
    "out_of_time",
    "read_error",
    "undecodable",
    "unreachable",
    "unreadable_answer",
]

MAX_EXCERPT = 200
MAX_DETAIL_CHARS = 1000
MAX_DETAIL_ITEMS = 20

_TAG_RE = re.compile(r"<[^>]*>")
_SPACE_RE = re.compile(r"\s+")
_CREDENTIAL_RE = re.compile(r"client_?secret|access_?token|authorization|bearer", re.I)
_DNS_WORDS = (
    "name or service not known",
    "nodename nor servname",
    "getaddrinfo",
    "name resolution",
    "no address associated",
    "resolve",
)


@dataclass(frozen=True)
class ErrorAnswer:
    message: str
    code: str | None
    detail: Any
    fields: tuple[str, ...]


def json_or_none(resp: httpx2.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def error_code(resp: httpx2.Response) -> str | None:
    body = json_or_none(resp)
    if not isinstance(body, dict):
        return None
    return code_of(resp.status_code, body.get("error_code"), body.get("message"))


def read_error(resp: httpx2.Response, scrub: Scrubber) -> ErrorAnswer:
    """Chift's error answer. ``scrub`` is applied to the parts that get shortened before they are cut
    (a cut could otherwise keep most of a secret the body echoes)."""
    status = resp.status_code
    body = json_or_none(resp)
    message = ""
    code: str | None = None
    detail: Any = None
    if isinstance(body, dict):
        raw_message = body.get("message")
        message = raw_message if isinstance(raw_message, str) else ""
        code = code_of(status, body.get("error_code"), message)
        detail = body.get("detail")
        if not message and isinstance(detail, str):
            message, detail = detail, None
    if not message:
        reason = resp.reason_phrase or ""
        message = f"Chift answered HTTP {status} {reason}".rstrip()
        if body is None:
            excerpt = _excerpt(scrub.text(resp.text))
            if excerpt and not _CREDENTIAL_RE.search(excerpt):
                message += f": {excerpt}"
    detail = clean_detail(scrub.value(detail))
    return ErrorAnswer(message, code, detail, tuple(fields(detail)))


def _excerpt(text: str) -> str:
    """A short, single-line, tag-free excerpt of a non-JSON error body."""
    text = _TAG_RE.sub(" ", text)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = _SPACE_RE.sub(" ", text).strip()
    if len(text) > MAX_EXCERPT:
        text = text[: MAX_EXCERPT - 1].rstrip() + "…"
    return text


def clean_detail(detail: Any) -> Any:
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


def fields(detail: Any) -> list[str]:
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


# ------------------------------------------------------------------ builders


def api_error(
    resp: httpx2.Response, call: Call, scrub: Scrubber, *, caller_token: bool, now: float | None = None
) -> ChiftAPIError:
    """An error answer as a ChiftAPIError with the hint an agent can act on."""
    answer = read_error(resp, scrub)
    situation = hints.Situation(
        status=resp.status_code,
        code=answer.code,
        method=call.method,
        path=call.path,
        rid=call.rid,
        fields=answer.fields,
        retry_after=call.retry_after,
        maybe_processed=call.maybe_processed,
        sent=call.sent,
        retries=call.retries,
        caller_token=caller_token,
        message=answer.message,
        now=now,
    )
    message, hint, retryable = hints.advise(situation, answer.message)
    return ChiftAPIError(
        resp.status_code,
        message,
        error_code=answer.code,
        detail=answer.detail,
        hint=hint,
        retryable=retryable,
        request_id=call.rid,
    )


def credentials_refused(
    status: int, code: str | None, body: Any, optional_vars: Iterable[str], token_url: str
) -> ChiftAPIError | None:
    """The error for a refused ``POST /token``, or None when its status has no specific hint."""
    if status == 404:
        return ChiftAPIError(
            status,
            f"There is no Chift token endpoint at {token_url} (HTTP 404).",
            error_code=code,
            hint="Check CHIFT_URL_BASE: it should be the Chift API root, such as https://api.chift.eu.",
        )
    if status not in (400, 401, 403, 422):
        return None
    fields = []
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # names only: a validation detail may echo the secret
        for item in detail:
            if isinstance(item, dict) and isinstance(item.get("loc"), list) and item["loc"]:
                fields.append(hints.TOKEN_FIELD_VARS.get(str(item["loc"][-1]), str(item["loc"][-1])))
    which = f" (Chift objected to {', '.join(dict.fromkeys(fields))})" if fields else ""
    extra = list(optional_vars)
    also = f" (and {' and '.join(extra)})" if extra else ""
    return ChiftAPIError(
        status,
        f"Chift rejected the API credentials (HTTP {status}){which}.",
        error_code=code,
        hint=(
            f"Check {hints.CREDENTIAL_VARS}{also}: they must be an active API key of that Chift "
            "account (a sandbox key works only with the sandbox). Retrying will not help."
        ),
    )


def describe_failure(exc: Exception, timeout: float, connect_timeout: float) -> str:
    """What went wrong when no answer came, in a few words."""
    if isinstance(exc, httpx2.ConnectTimeout):
        return f"the connection timed out after {connect_timeout:g} s"
    if isinstance(exc, httpx2.ReadTimeout):
        return f"the request timed out: no answer within {timeout:g} s"
    if isinstance(exc, httpx2.WriteTimeout):
        return f"the request timed out while sending it ({timeout:g} s)"
    if isinstance(exc, httpx2.PoolTimeout):
        return "the request timed out waiting for a free connection"
    if isinstance(exc, httpx2.ConnectError):
        text = str(exc).lower()
        if any(word in text for word in _DNS_WORDS):
            return "the host name could not be resolved (DNS)"
        return "the connection was refused or could not be opened"
    if isinstance(exc, httpx2.RemoteProtocolError):
        return "the server closed the connection without a complete answer"
    return "the connection broke during the request"


def attempts(n: int) -> str:
    return f"{n} attempt" + ("s" if n != 1 else "")


def unreachable(
    exc: Exception, call: Call, base_url: str, *, timeout: float, connect_timeout: float
) -> UnreachableError:
    """No answer came (DNS, refused, timed out, dropped) and the retries are spent."""
    what = describe_failure(exc, timeout, connect_timeout)
    hint = hints.UNREACHABLE
    if call.rid and isinstance(exc, httpx2.ReadTimeout):
        hint = hints.still_running(call.method, call.path, call.rid)
    elif call.rid and call.maybe_processed:
        hint += hints.check_before_resending(call.method, call.path, call.rid, "the connection failed")
    return UnreachableError(
        f"Could not reach the Chift API at {base_url} ({call.method} {call.path}): {what}, "
        f"after {attempts(call.sent)}.",
        hint=hint,
        request_id=call.rid,
    )


def not_sendable(exc: Exception, call: Call, base_url: str) -> UnreachableError:
    """A transport failure no retry can fix: unsupported scheme, bad header, proxy..."""
    return UnreachableError(
        f"Could not send {call.method} {call.path} to the Chift API at {base_url} ({type(exc).__name__}).",
        hint=hints.NOT_SENDABLE,
        retryable=False,
        request_id=call.rid,
    )


def out_of_time(call: Call, base_url: str) -> UnreachableError:
    """The call's deadline came before an answer worth returning. A write that may have been carried
    out says how to check, as a lost answer does; anything else may simply be retried."""
    when = f"after {attempts(call.sent)}" if call.sent else "before anything was sent"
    if call.rid and call.maybe_processed:
        hint = hints.check_before_resending(call.method, call.path, call.rid, "the time ran out").lstrip()
    else:
        hint = hints.OUT_OF_TIME
        if call.retry_after is not None:
            hint += f" Chift asks to wait {math.ceil(call.retry_after)} s before retrying."
    return UnreachableError(
        f"Gave up on {call.method} {call.path} at the Chift API ({base_url}): the time for this call "
        f"ran out {when}.",
        hint=hint,
        request_id=call.rid,
    )


def undecodable(call: Call) -> InvalidResponseError:
    """httpx could not decode the answer (its content encoding is broken)."""
    return InvalidResponseError(
        f"Chift's answer to {call.method} {call.path} could not be decoded.",
        hint=hints.UNDECODABLE,
        request_id=call.rid,
    )


def unreadable_answer(resp: httpx2.Response, call: Call) -> InvalidResponseError:
    """A 2xx answer that is not JSON. For a create it was probably carried out: do not resend it."""
    if call.method == "POST" and call.rid:
        hint = (
            f"Chift answered {resp.status_code}, so the {call.method} was probably carried out, but its "
            "answer could not be read: do not resend it; look the result up first ("
            + hints.lookup_hint(call.path, call.rid)
            + ")."
        )
        retryable = False
    else:
        hint, retryable = hints.BROKEN_ANSWER, True
    return InvalidResponseError(
        f"Chift returned invalid JSON for {call.method} {call.path} (HTTP {resp.status_code}, "
        f"{len(resp.content)} bytes).",
        hint=hint,
        retryable=retryable,
        request_id=call.rid,
    )
