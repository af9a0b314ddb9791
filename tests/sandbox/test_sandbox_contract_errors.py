"""Chift's error table and rate limits (docs "Errors", "Rate limits"), through the sandbox's faults."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from starlette.applications import Starlette

from chift_mcp.sandbox import ACCOUNTING_CONSUMER_ID, DEMO_CONSUMER_ID, Fault, FaultError
from chift_mcp.sandbox.error_table import ERROR_TABLE

pytestmark = pytest.mark.anyio
CLIENTS = f"/consumers/{DEMO_CONSUMER_ID}/accounting/clients"
OTHER = f"/consumers/{ACCOUNTING_CONSUMER_ID}/accounting/clients"
ROOT = Path(__file__).resolve().parents[2]


def docs_file() -> Path | None:
    for parent in (ROOT, *ROOT.parents):
        candidate = parent / "shared" / "chift-docs" / "llms-full.txt"
        if candidate.is_file():
            return candidate
    return None


def test_the_error_table_is_the_docs_table() -> None:
    found = docs_file()
    if found is None:
        pytest.skip("Chift's llms-full.txt is not beside the repository (../shared/chift-docs)")
    text = found.read_text(encoding="utf-8")
    page = text[text.index("# Errors\nSource: https://docs.chift.eu/developer-guides/errors") :]
    page = page[: page.index("\n# ", 10)]
    rows = re.findall(r"^\| ([A-Z\\_0-9]+) +\| (\d{3}) +\|", page, flags=re.M)
    documented = {code.replace("\\_", "_"): int(status) for code, status in rows}
    assert len(rows) == 161 and documented == {code: row[0] for code, row in ERROR_TABLE.items()}


async def test_every_code_of_the_table_with_its_documented_status(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    faults = sandbox_app.state.sandbox.faults
    seen: dict[str, int] = {}
    for code in ERROR_TABLE:
        faults.add(match="accounting_get_clients", error_code=code)
        answer = await api.get(CLIENTS)
        body = answer.json()
        assert (
            body["status"] == "error"
            and body["message"]
            and set(body)
            == {
                "status",
                "message",
                "error_code",
                "detail",
            }
        )
        seen[body["error_code"]] = answer.status_code
    assert seen == {code: row[0] for code, row in ERROR_TABLE.items()}
    # The configuration errors of the issue, and the "internal" ones that are 400, not 500.
    assert seen["ERROR_CONFIGURATION_LOCALAGENT"] == 502 and seen["ERROR_BACKEND_NOT_FOUND"] == 504
    for code in (
        "ERROR_INTERNAL_ERROR",
        "ERROR_UNEXPECTED",
        "ERROR_TECHNICAL_MAPPING",
        "ERROR_UNKNOWN",
        "ERROR_CONNECTOR_CONFIGURATION",
    ):
        assert seen[code] == 400, code


def test_a_code_off_the_table_needs_its_status() -> None:
    with pytest.raises(FaultError):
        Fault(match="x", error_code="ERROR_NOT_CHIFTS")
    assert Fault(match="x", error_code="ERROR_NOT_CHIFTS", status=418).status == 418
    for bad in (
        {"match": "x", "kind": "rate_limit", "window": "weekly"},
        {"match": "x", "kind": "rate_limit", "refusals": -1},
    ):
        with pytest.raises(FaultError):
            Fault.from_json(bad)


async def test_the_sandbox_own_failure_is_chifts_internal_error(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    def boom(call: Any) -> Any:
        raise RuntimeError("a bug")

    sandbox_app.state.sandbox_app.engine._special["accounting_get_clients"] = boom
    answer = await api.get(CLIENTS)
    assert answer.status_code == 400 and answer.json()["error_code"] == "ERROR_INTERNAL_ERROR"


async def test_a_bare_500_is_not_a_chift_answer(api: httpx2.AsyncClient, sandbox_app: Starlette) -> None:
    sandbox_app.state.sandbox.faults.add(match="accounting_get_clients", status=500)
    answer = await api.get(CLIENTS)
    assert answer.status_code == 500 and answer.text == "Internal Server Error"
    assert answer.headers["content-type"].startswith("text/plain")


# -- rate limits ----------------------------------------------------------------------------------


async def test_a_short_rate_limit_is_held_through_chifts_retries(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    """Chift retries 5 times after 1, 2, 4, 8, 16 s: 31 s before the 429 (on a held clock here)."""
    state = sandbox_app.state.sandbox
    state.clock.hold()
    state.faults.add(match="accounting_get_clients", kind="rate_limit")
    answers: list[httpx2.Response] = []
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                answers.append(await api.get(CLIENTS))

            tg.start_soon(call)
            await state.clock.sleepers(1)
            state.advance_clock(30.5)
            await anyio.sleep(0.05)
            assert answers == []  # still inside Chift's retries
            state.advance_clock(0.5)
    assert answers[0].status_code == 429
    body = answers[0].json()
    assert body["error_code"] == "ERROR_RATE_LIMIT"
    assert body["message"] == "The rate limit has been reached for this connector. Please try again later."
    assert "retry-after" not in answers[0].headers  # the docs promise no such header


async def test_short_waits_scale_and_a_limit_that_clears_in_time_succeeds(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    state = sandbox_app.state.sandbox
    assert (await api.post("/_sandbox/clock", json={"backoff_scale": 0.01})).status_code == 200
    state.faults.add(match="accounting_get_clients", kind="rate_limit")
    started = time.monotonic()
    limited = await api.get(CLIENTS)
    assert limited.status_code == 429 and 0.3 <= time.monotonic() - started < 5  # 31 s x 0.01
    state.faults.add(match="accounting_get_clients", kind="rate_limit", refusals=2)  # clears on 2nd retry
    started = time.monotonic()
    recovered = await api.get(CLIENTS, headers={"x-chift-force-refresh": "true"})
    assert recovered.status_code == 200 and 0.03 <= time.monotonic() - started < 0.3  # (1 + 2) x 0.01


async def test_a_daily_limit_names_its_reset_and_holds_until_then(
    api: httpx2.AsyncClient, sandbox_app: Starlette
) -> None:
    state = sandbox_app.state.sandbox
    state.faults.add(match="accounting_get_clients", kind="rate_limit", window="daily", reset_in=1500)
    started = time.monotonic()
    limited = await api.get(CLIENTS)
    assert time.monotonic() - started < 1  # no retry: at once
    body = limited.json()
    assert limited.status_code == 429 and body["error_code"] == "ERROR_RATE_LIMIT"
    assert "daily rate limit" in body["message"] and "0 h 25 min" in body["message"]
    assert re.search(r"at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", body["message"])
    again = await api.get(f"{CLIENTS}/x", headers={"x-chift-force-refresh": "true"})
    assert again.status_code == 429 and "0 h 25 min" in again.json()["message"]  # the same connection
    assert (await api.get(OTHER)).status_code == 200  # another consumer's connection is not limited
    state.advance_clock(1500)  # (the token lives 1800 s)
    assert (await api.get(CLIENTS, headers={"x-chift-force-refresh": "true"})).status_code == 200
