"""One caller against the HTTP door, real processes: it cannot starve, block or evict another, and a
shutdown never hides a write (the scenarios, with their numbers: ``tests/support/abuse.py``;
``python bench/door_abuse.py`` prints them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.abuse import consumer_headers, drain, session_flood, slow_heads

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


async def test_an_initialize_flood_opens_a_handful_of_sessions_and_another_tenant_still_calls(
    tmp_path: Path,
) -> None:
    out = await session_flood(tmp_path, attempts=600)
    flooder, unlimited = out["flooder"], out["unlimited"]
    assert flooder["answers"].get("ok", 0) == 5, out  # the rate limit: 5 a minute
    assert flooder["answers"].get("429 rate_limited", 0) == 595, out
    assert unlimited["answers"].get("ok", 0) == 100, out  # CHIFT_HTTP_MAX_SESSIONS_PER_TOKEN
    assert unlimited["answers"].get("429 too_many_sessions", 0) == 500, out
    for during in (flooder["tenant during"], unlimited["tenant during"], out["tenant after"]):
        assert during["initialize"] == "ok" and during["call"] == "ok", out
    assert unlimited["sessions open after"] <= 106, out
    assert out["rss_after_mb"] < 400, out


async def test_made_up_consumer_headers_cost_one_listing_and_calls_over_the_limit_nothing(
    tmp_path: Path,
) -> None:
    out = await consumer_headers(tmp_path)
    assert out["answers"] == {"unknown_consumer": 100}, out
    assert out["consumer lists fetched"] <= 2, out
    assert out["connection lookups"] == 0, out
    assert out["calls for a real consumer"] == {"ok": 5, "tool:RATE_LIMITED": 15}, out
    assert out["requests at Chift for them"] == 5, out
    assert out["connection lookups for them"] <= 1, out


async def test_half_open_heads_close_within_a_minute_and_the_door_still_answers(tmp_path: Path) -> None:
    out = await slow_heads(tmp_path)
    assert out["/healthz meanwhile"] == 200, out
    assert out["tenant meanwhile"]["call"] == "ok", out
    assert out["still open after 90 s"] == 0, out
    assert out["seconds to close, median / max"][1] < 60, out
    assert "HTTP/1.1 200 OK" not in out["1 MB header lines"], out
    before, _, after = out["rss_mb before / after heads / after big headers"]
    assert after - before < 100, out


async def test_on_sigterm_every_create_in_flight_answers_with_its_client_request_id(tmp_path: Path) -> None:
    out = await drain(tmp_path)
    assert out["empty 200s"] == 0, out
    assert sum(out["answers"].values()) == out["creates"] + out["program"], out
    assert out["errors"] >= 1, out  # the queued creates could not finish: they say so
    assert out["errors with a client_request_id"] >= out["errors"] - out["program"], out
    assert out["seconds from SIGTERM to the last answer"] < 10, out
