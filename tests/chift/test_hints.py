"""The hint table: Chift's status and error code, and the call's circumstances, to a hint."""

from __future__ import annotations

import httpx2
import pytest

from chift_mcp.chift.codes import NO_RETRY_CODES
from chift_mcp.chift.hints import (
    CALLER_TOKEN_REJECTED,
    CODE_HINTS,
    RULES,
    SERVER_TOKEN_REJECTED,
    Situation,
    advise,
)
from chift_mcp.chift.retry import RETRY_STATUSES, worth_retrying

PATH = "/consumers/c-1/invoicing/invoices"


def situation(status: int, code: str | None = None, **kw: object) -> Situation:
    args: dict[str, object] = {"method": "GET", "path": PATH, "rid": None, **kw}
    return Situation(status=status, code=code, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", sorted(CODE_HINTS))
def test_every_error_code_has_its_hint(code: str) -> None:
    _, hint, _ = advise(situation(400, code), "Nope")
    assert hint == CODE_HINTS[code]


def test_a_401_hint_depends_on_whose_token_it_was() -> None:
    assert advise(situation(401), "x")[1] == SERVER_TOKEN_REJECTED
    assert advise(situation(401, caller_token=True), "x")[1] == CALLER_TOKEN_REJECTED
    connector = advise(situation(401, "ERROR_CONNECTOR_AUTHENTICATION", caller_token=True), "x")[1]
    assert connector == CODE_HINTS["ERROR_CONNECTOR_AUTHENTICATION"]


def test_a_lost_answer_is_reported_as_such() -> None:
    s = situation(409, "REQUEST_ALREADY_PROCESSED", method="POST", rid="r-1", maybe_processed=True)
    message, hint, retryable = advise(s, "Request already processed: 200")
    assert message.startswith("An earlier attempt of this POST reached Chift") and not retryable
    assert "client_request_id=r-1" in hint and "Before sending the create again" not in hint


def test_a_retryable_create_says_to_check_before_resending() -> None:
    s = situation(503, method="POST", rid="r-2", retry_after=2.5, sent=4, retries=3)
    message, hint, retryable = advise(s, "Busy")
    assert retryable and message == "Busy (gave up after 4 attempts)"
    assert "wait 3 s" in hint and "client_request_id=r-2" in hint


def test_the_table_ends_with_a_rule_for_anything() -> None:
    assert RULES[-1].when(situation(302))
    assert advise(situation(302), "x")[1].startswith("Unexpected answer from Chift (HTTP 302)")


STATUSES = (400, 401, 403, 404, 405, 409, 422, 429, 500, 502, 503, 504)


@pytest.mark.parametrize("code", [None, *sorted(CODE_HINTS), "ERROR_RATE_LIMIT", "REQUEST_IN_PROCESS"])
def test_no_answer_is_retried_or_called_retryable_while_its_hint_says_retrying_will_not_help(
    code: str | None,
) -> None:
    """A property of the whole table: the hint, the ``retryable`` flag and the client's retries agree,
    whatever status a code comes with."""
    for status in STATUSES:
        for message in ("Nope", "Error while trying to authenticate to Lightspeed"):
            _, hint, retryable = advise(situation(status, code, message=message), message)
            body = {"status": "error", "message": message, "error_code": code}
            resp = httpx2.Response(status, json=body, headers={"Retry-After": "1"})
            retried = status in RETRY_STATUSES and worth_retrying(resp, 1.0)
            if "will not help" in hint.lower():
                assert not retryable and not retried, (status, code, message)


def test_configuration_codes_come_from_the_hint_table() -> None:
    assert {"ERROR_CONNECTOR_AUTHENTICATION", "ERROR_BACKEND_FORBIDDEN"} <= NO_RETRY_CODES
    assert {"ERROR_CONFIGURATION_LOCALAGENT", "ERROR_BACKEND_NOT_FOUND"} <= NO_RETRY_CODES
    assert {"ERROR_CONNECTOR_MAINTENANCE", "ERROR_GATEWAY_TIMEOUT"}.isdisjoint(NO_RETRY_CODES)
