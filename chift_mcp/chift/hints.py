"""What an agent should do about a failed Chift call: the hint table, and every other hint text.

:data:`RULES` maps an error answer (its HTTP status, Chift ``error_code`` and the call's
circumstances, a :class:`Situation`) to a hint and whether a retry helps; the first rule that matches
wins. :func:`advise` applies it and the remarks every retryable answer gets (Chift's ``Retry-After``,
the attempts made, how to check whether a create went through). The other texts (a rejected API key,
an unreachable API, an answer that is not JSON, a call out of time) are here too, so the wording
lives in one module; :mod:`chift_mcp.chift.failures` builds the errors that carry them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from chift_mcp.chift.codes import CODE_HINTS, CONNECTOR_AUTHENTICATION, NO_RETRY_CODES
from chift_mcp.chift.paths import consumer_of
from chift_mcp.chift.ratelimit import is_daily_limit, reset_note
from chift_mcp.chift.retry import RETRY_STATUSES

__all__ = ["CODE_HINTS", "RULES", "Rule", "Situation", "advise", "lookup_hint"]

ALREADY_PROCESSED = "REQUEST_ALREADY_PROCESSED"
IN_PROCESS = "REQUEST_IN_PROCESS"

CREDENTIAL_VARS = "CHIFT_CLIENT_ID, CHIFT_CLIENT_SECRET and CHIFT_ACCOUNT_ID"
TOKEN_FIELD_VARS = {
    "clientId": "CHIFT_CLIENT_ID",
    "clientSecret": "CHIFT_CLIENT_SECRET",
    "accountId": "CHIFT_ACCOUNT_ID",
    "marketplaceId": "CHIFT_MARKETPLACE_ID",
    "envId": "CHIFT_ENV_ID",
}

FOLDER_MISSING = (
    "This connection has several folders (companies) and the call must name one: call "
    "accounting_get_folders and pass the id of a folder with selected=true as folder_id."
)
# Codes answered 400 that are Chift's own failures, not the arguments: a create may have gone through.
SERVER_SIDE_400 = frozenset(
    {"ERROR_INTERNAL_ERROR", "ERROR_UNEXPECTED", "ERROR_TECHNICAL_MAPPING", "ERROR_UNKNOWN"}
)

SERVER_TOKEN_REJECTED = (
    "Chift rejected this server's access token even after a fresh one was fetched: check "
    f"{CREDENTIAL_VARS} and that the API key is still active. Retrying will not help."
)
CALLER_TOKEN_REJECTED = (
    "Chift rejected the access token sent with this request (expired or not valid for this "
    "account): get a new one from POST /token (or /mcp-token) and reconnect with it. "
    "Retrying with the same token will not help."
)
NO_CALLER_TOKEN = "Send your Chift access token as Authorization: Bearer <token>."
NO_ACCESS_TOKEN = "Retry in a few seconds; if it persists, check that CHIFT_URL_BASE points at the Chift API."
BROKEN_ANSWER = "Retry in a few seconds; if it persists, the connected software is returning a broken answer."
UNDECODABLE = "Retry in a few seconds; if it persists, report it."
NOT_SENDABLE = "Check CHIFT_URL_BASE and the network or proxy settings."
UNREACHABLE = "A retry in a little while may help. If it keeps failing, check CHIFT_URL_BASE and the network."
OUT_OF_TIME = (
    "Retry in a little while; if it keeps running out of time, ask for less (a smaller page or a "
    "narrower filter)."
)


def lookup_hint(path: str, rid: str | None) -> str:
    """How to find out whether a write sent to ``path`` with client request id ``rid`` took effect:
    Chift's transactions lookup first (it answers from Chift's log of request ids, not from a cache),
    then reading the resource (this server sends reads after a write with Chift's force-refresh)."""
    consumer = quote(consumer_of(path), safe="") or "{consumer_id}"
    read = "get or list the resource (this server reads it past Chift's cache right after a write)"
    if not rid:
        return read
    return (
        f"connections_get_transactions with client_request_id={rid} and the connection_id of this API "
        f"(GET /consumers/{consumer}/connections/{{connection_id}}/transactions?client_request_id={rid}): "
        "its status_code says whether it was carried out and created_entity_id is the id of what was "
        f"created; a 404 there means Chift has no record of it. If the lookup is not possible, {read}"
    )


def check_before_resending(method: str, path: str, rid: str | None, before: str) -> str:
    """The sentence a write whose answer was lost ends its hint with (``before``: what cut it off)."""
    what = "the create" if method == "POST" else f"the {method}"
    return (
        f" The request may have reached Chift before {before}: before sending {what} again, check "
        f"whether it went through with {lookup_hint(path, rid)}."
    )


def still_running(method: str, path: str, rid: str) -> str:
    """The hint of a write whose answer did not come within the read timeout."""
    what = "the create" if method == "POST" else f"the {method}"
    return (
        "Chift received the request and may still be carrying it out (for a rate-limited connector it "
        f"retries for ~30 s first); sending it again now would only be refused as in process. Do not "
        f"resend {what}: wait a minute, then check whether it went through with {lookup_hint(path, rid)}."
    )


# ------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Situation:
    """An error answer and the circumstances of the call that got it."""

    status: int
    code: str | None
    method: str
    path: str
    rid: str | None  # the X-Chift-Client-RequestId sent (writes only)
    fields: tuple[str, ...] = ()  # "lines[0].amount (body): Field required", from Chift's detail
    retry_after: float | None = None  # seconds, from the last answer's Retry-After
    maybe_processed: bool = False  # an earlier attempt may have been carried out
    sent: int = 1  # attempts made
    retries: int = 0  # retries taken
    caller_token: bool = False  # the bearer is the caller's own token (pass-through), not ours
    message: str = ""  # Chift's message (a daily rate limit says when it resets)
    now: float | None = None  # the wall-clock time of the answer (epoch seconds)


def _daily_limit(s: Situation) -> bool:
    return is_daily_limit(s.status, s.code, s.message)


def _daily_hint(s: Situation) -> str:
    return (
        "The connected software's daily request limit is reached (Chift does not retry those): "
        f"{reset_note(s.message, s.now)} Retrying before then will not help."
    )


def _folder_missing(s: Situation) -> bool:
    """A refusal about folder_id (a multi-folder connection called without one: Chift's wording for
    that is undocumented, so the field or the message naming the folder is what is matched)."""
    named = any(f.startswith("folder_id") for f in s.fields) or "folder" in s.message.lower()
    return s.status in (400, 422) and named


def _const(text: str) -> Callable[[Situation], str]:
    return lambda s: text


def _status(*statuses: int) -> Callable[[Situation], bool]:
    return lambda s: s.status in statuses


def _never(s: Situation) -> bool:
    return False


def _always(s: Situation) -> bool:
    return True


def _same_message(s: Situation, message: str) -> str:
    return message


def _wait(s: Situation, default: int) -> int:
    return math.ceil(s.retry_after) if s.retry_after is not None else default


@dataclass(frozen=True)
class Rule:
    when: Callable[[Situation], bool]
    hint: Callable[[Situation], str]
    retryable: Callable[[Situation], bool] = _never
    # The message shown instead of Chift's, when the rule knows better what happened.
    message: Callable[[Situation, str], str] = _same_message
    lost_answer: bool = False  # the answer says an earlier attempt went through


RULES: tuple[Rule, ...] = (
    Rule(
        lambda s: s.status == 401 and s.caller_token and s.code != CONNECTOR_AUTHENTICATION,
        _const(CALLER_TOKEN_REJECTED),
    ),
    Rule(_daily_limit, _daily_hint),
    Rule(
        lambda s: s.code in CODE_HINTS,
        lambda s: CODE_HINTS[s.code or ""],
        retryable=lambda s: (s.status in RETRY_STATUSES or s.status >= 500) and s.code not in NO_RETRY_CODES,
    ),
    Rule(_folder_missing, _const(FOLDER_MISSING)),
    Rule(
        lambda s: s.status in (400, 422) and bool(s.fields),
        lambda s: "Fix these arguments and call again: " + "; ".join(s.fields) + ".",
    ),
    Rule(
        _status(422),
        _const("Fix the arguments and call again; the message says which value Chift rejected."),
    ),
    Rule(
        _status(400),
        _const(
            "Chift could not process the request as sent: fix the arguments the message points at "
            "and call again. If they look right, the connection's configuration may need attention."
        ),
    ),
    Rule(_status(401), _const(SERVER_TOKEN_REJECTED)),
    Rule(
        _status(403),
        _const(
            "This server's Chift API key may not do this (for example it is limited to other consumers): "
            "check the consumer id and the key's scope. Retrying will not help."
        ),
    ),
    Rule(_status(404), _const("Nothing found: check the id; list the resource to find valid ids.")),
    Rule(
        lambda s: s.status == 409 and s.code == ALREADY_PROCESSED and s.maybe_processed,
        lambda s: (
            f"Do not resend this {s.method}: it already happened. Look up its result instead: "
            + lookup_hint(s.path, s.rid)
            + "."
        ),
        message=lambda s, chift: (
            f"An earlier attempt of this {s.method} reached Chift and was carried out, but its answer was "
            f"lost; the retry was refused as a duplicate (Chift: {chift})."
        ),
        lost_answer=True,
    ),
    Rule(
        lambda s: s.status == 409 and s.code == ALREADY_PROCESSED,
        lambda s: (
            f"The client request id {s.rid} was already used by a request that succeeded, so Chift did "
            "not run this one. If it is the same operation, it is already done: look it up ("
            + lookup_hint(s.path, s.rid)
            + "); otherwise send it again with a new request id."
        ),
    ),
    Rule(
        lambda s: s.status == 409 and s.code == IN_PROCESS,
        lambda s: (
            f"A request with the client request id {s.rid} is still being processed: do not resend it. "
            "Wait a few seconds, then check whether it took effect (" + lookup_hint(s.path, s.rid) + ")."
        ),
    ),
    Rule(
        _status(409),
        _const(
            "The request conflicts with the current state (for example the object already exists): "
            "look up the existing object instead of creating it again."
        ),
    ),
    Rule(
        _status(429),
        lambda s: (
            "The connected software's rate limit is reached; Chift already retried for about 30 s before "
            f"answering: wait {_wait(s, 60)} s, then retry (fewer or smaller calls help)."
        ),
        retryable=_always,
    ),
    Rule(
        lambda s: s.status >= 500,
        lambda s: (
            "Chift or the connected software had a temporary problem: retry in a few seconds."
            if s.retry_after is None
            else f"Chift or the connected software is temporarily unavailable: wait {_wait(s, 0)} s, then retry."
        ),
        retryable=_always,
    ),
    Rule(
        lambda s: 400 <= s.status < 500,
        lambda s: f"Chift refused the request (HTTP {s.status}): read the message and change the request.",
    ),
    Rule(_always, lambda s: f"Unexpected answer from Chift (HTTP {s.status}); report it if it persists."),
)


def advise(s: Situation, message: str) -> tuple[str, str, bool]:
    """``(message, hint, retryable)`` for an error answer whose Chift message is ``message``."""
    rule = next(r for r in RULES if r.when(s))
    message, hint, retryable = rule.message(s, message), rule.hint(s), rule.retryable(s)
    if retryable and s.retry_after is not None and "wait" not in hint:
        hint += f" Chift asks to wait {math.ceil(s.retry_after)} s before retrying."
    if retryable and s.retries:
        message += f" (gave up after {s.sent} attempts)"
    server_side = (retryable and s.status >= 500) or s.code in SERVER_SIDE_400
    if server_side and s.method == "POST" and s.rid and not rule.lost_answer:
        hint += f" Before sending the create again, check whether it went through with {lookup_hint(s.path, s.rid)}."
    return message, hint, retryable
