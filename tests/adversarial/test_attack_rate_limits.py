"""Per-token rate limits against real processes; see ``scenario_rate_limit``."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path

import pytest
from support.adversary import DEMO, HAS_MONTY, Reply
from support.adversary_tally import Ctx, Tally, run_scenario, short, unexpected

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

# --------------------------------------------------------------------------- 5. rate limits


async def scenario_rate_limit(ctx: Ctx) -> Tally:
    t = Tally("5", "rate limits")
    limited = ctx.mcp(ctx.tokens["limited"])
    await limited.open()
    plan = ["read"] * 45 + ["create"] * 15
    random.Random(ctx.args.seed + 5).shuffle(plan)
    gate = asyncio.Semaphore(10)

    async def one(i: int, what: str) -> tuple[str, Reply]:
        async with gate:
            if what == "read":
                return what, await limited.call("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
            args = {"consumer_id": DEMO, "name": f"ADV limited {i}", "addresses": []}
            return what, await limited.call("accounting_create_client", args)

    mark = await ctx.admin.mark()
    began = time.monotonic()
    replies = await asyncio.gather(*(one(i, w) for i, w in enumerate(plan)))
    elapsed = time.monotonic() - began
    await asyncio.sleep(0.2)
    sent = await ctx.admin.since(mark)
    allowed = [(w, r) for w, r in replies if r.kind == "ok"]
    for what, reply in replies:
        why = reply.sane()
        if why is None and reply.kind == "tool:RATE_LIMITED":
            p = reply.payload
            if not (isinstance(p.get("retry_after"), int) and 1 <= p["retry_after"] <= 60):
                why = f"retry_after {p.get('retry_after')!r}"
            elif p.get("retryable") is not True or "nothing was sent" not in (p.get("hint") or ""):
                why = "the refusal does not say it is retryable and nothing was sent"
        elif why is None and reply.kind != "ok":
            why = f"answered {reply.kind}"
        t.record(f"{what} over a 30/min limit", why is None, why or "", answer=short(reply))
    if len(allowed) != 30:
        t.fail("allowed", f"{len(allowed)} calls allowed, expected exactly 30")
    writes_sent = sum(1 for e in sent if e["method"] == "POST")
    creates_allowed = sum(1 for w, _ in allowed if w == "create")
    if len(sent) != len(allowed) or writes_sent != creates_allowed:
        extra = len(sent) - len(allowed)
        t.sent = max(0, extra)
        t.fail(
            "sandbox",
            f"{len(sent)} requests reached the sandbox ({writes_sent} writes) for {len(allowed)} allowed calls",
        )
    t.notes.update(
        {
            "seconds": round(elapsed, 2),
            "allowed": len(allowed),
            "rate_limited": sum(1 for _, r in replies if r.kind == "tool:RATE_LIMITED"),
            "requests at the sandbox": len(sent),
            "retry_after": sorted(
                {r.payload.get("retry_after") for _, r in replies if r.kind == "tool:RATE_LIMITED"}
            ),
        }
    )
    await limited.close()
    if HAS_MONTY:  # what one execute may send: its operation calls are not tool calls
        coder = ctx.mcp(ctx.tokens["limited_code"])
        await coder.open()
        program = (
            "n = 0\nfor i in range(40):\n"
            f"    accounting_get_clients(consumer_id='{DEMO}', limit=1)\n"
            "    n += 1\nn\n"
        )
        mark = await ctx.admin.mark()
        runs = [await coder.call("execute", {"code": program}) for _ in range(6)]
        sent = await ctx.admin.since(mark)
        kinds = Counter(r.kind for r in runs)
        t.observations.append(
            f"a code-mode token with rate_limit 5: 6 execute calls -> {dict(kinds)}; "
            f"{len(sent)} requests reached the sandbox (each program makes 40 operation calls; "
            f"CHIFT_CODE_MAX_CALLS allows 200)"
        )
        t.notes["code mode: requests at the sandbox for 5 allowed executes"] = len(sent)
        await coder.close()
    return t


async def test_a_tokens_rate_limit_allows_exactly_its_calls_and_nothing_more_reaches_Chift(
    tmp_path: Path,
) -> None:
    tally, report = await run_scenario(scenario_rate_limit, tmp_path)
    assert tally.attempts > 0
    assert not unexpected(tally, report), unexpected(tally, report)[:10]
