"""Soak: creates under scripted faults and a kill -9, against real processes on loopback.

    python bench/adversarial.py [--calls 2000] [--sessions 8] [--request-timeout 5] [--no-kill]
                                [--json-response] [--seed 1] [--keep DIR] [--verbose]

Starts the sandbox Chift API and ``chift-mcp -vv http`` in front of it (``tests/support/adversary.py``:
the harness the adversarial tests share), then sends ``--calls`` mixed calls (creates of clients and
invoices, reads) from ``--sessions`` concurrent sessions while faults keep being scripted (429 with
Retry-After, 5xx, latency past ``CHIFT_HTTP_REQUEST_TIMEOUT``, lost answers, malformed JSON), and kills
the server with -9 at 40% then restarts it on the same port (``--no-kill`` to skip). Each create
carries a marker; afterwards every client and invoice in the sandbox is listed. Expected: no marker
booked twice, no client request id processed twice, and every booked create that was not answered
with its object answered with a tool error carrying the client_request_id that booked it (the calls
cut by the kill -9 itself, which nothing can answer, are counted apart). Then creates cut off by the
time limit another way: 32 at once queued behind the per-consumer cap while Chift is slow, and (code
mode) two programs that create, then compute past the request timeout: each answered, a booked one
reported. No secret may show in the servers' stderr at -vv.

The regressions that used to live here (scope escapes, bad inputs, secrets, rate limits) are tests
now: ``python -m pytest -m slow tests/adversarial``. Prints a table, the notes and one JSON line;
exits 1 when anything was unexpected (the processes' stderr is then kept, the directory named on
stderr). About a minute and a half on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.adversary import (  # noqa: E402
    DEMO,
    HAS_MONTY,
    INVOICE,
    NOTHING_SENT,
    Mcp,
    Proc,
    Reply,
    log,
    server_proc,
)
from support.adversary_tally import (  # noqa: E402
    Ctx,
    Tally,
    harness,
    options,
    print_table,
    short,
    stderr_leaks,
)

# --------------------------------------------------------------------------- 4. writes under faults


@dataclass
class Done:
    n: int
    op: str
    marker: str | None
    reply: Reply
    started: float
    ended: float


FAULTS: list[tuple[str, int, bool, dict[str, Any]]] = [
    # (label, weight, creates only, fault)
    ("429 Retry-After 1", 4, False, {"kind": "status", "status": 429, "retry_after": 1}),
    ("503", 2, False, {"kind": "status", "status": 503}),
    ("502", 1, False, {"kind": "status", "status": 502}),
    ("504", 1, False, {"kind": "status", "status": 504}),
    ("500", 1, False, {"kind": "status", "status": 500}),
    ("503 x4 (retries spent)", 1, False, {"kind": "status", "status": 503, "retry_after": 0, "times": 4}),
    ("lost answer, 502 (retried)", 3, True, {"kind": "drop_after_processing", "status": 502}),
    (
        "lost answer, 503 Retry-After 0",
        1,
        True,
        {"kind": "drop_after_processing", "status": 503, "retry_after": 0},
    ),
    ("lost answer, 500", 1, True, {"kind": "drop_after_processing", "status": 500}),
    ("latency past the request timeout", 2, True, {"kind": "latency"}),
    ("malformed JSON", 1, False, {"kind": "malformed_json"}),
    ("latency 0.3 s", 1, False, {"kind": "latency", "latency": 0.3}),
]
CREATES = ("accounting_create_client", "accounting_create_invoice")
READS = ("accounting_get_clients", "accounting_get_client", "accounting_get_invoices_by_type")


async def fault_scheduler(ctx: Ctx, stop: asyncio.Event, applied: Counter[str], timeout: float) -> None:
    """Keeps a couple of faults pending, on creates mostly, until ``stop``."""
    rng = random.Random(ctx.args.seed + 4)
    weights = [w for _, w, _, _ in FAULTS]
    while not stop.is_set():
        try:
            if len(await ctx.admin.pending()) < 2:
                label, _, creates_only, fault = rng.choices(FAULTS, weights)[0]
                target = rng.choice(CREATES if creates_only or rng.random() < 0.7 else READS)
                fault = dict(fault)
                if fault["kind"] == "latency" and "latency" not in fault:
                    fault["latency"] = timeout + 1.0
                await ctx.admin.fault(match=target, **fault)
                applied[label] += 1
        except httpx2.HTTPError:
            pass
        await asyncio.sleep(0.05)


async def scenario_writes(ctx: Ctx) -> Tally:
    t = Tally("4", "writes under faults")
    args = ctx.args
    rt = args.request_timeout
    server = server_proc(
        ctx.logs,
        "server-load",
        ctx.proxy_url,
        {"CHIFT_MCP_TOKENS_FILE": str(ctx.logs / "tokens.json"), "CHIFT_HTTP_REQUEST_TIMEOUT": str(rt)},
        ["--json-response"] if args.json_response else [],
    )
    await server.start()
    ctx.procs.append(server)
    run = secrets.token_hex(3)
    rng = random.Random(args.seed)
    counter = itertools.count()
    done: list[Done] = []
    created_ids: list[str] = []
    kill_at = int(args.calls * 0.4) if not args.no_kill else None
    killed = asyncio.Event()
    window: dict[str, float] = {}
    before_tx = {x["client_request_id"] for x in await ctx.admin.transactions()}
    mark = await ctx.admin.mark()
    stats0 = await ctx.admin.stats()
    limits = httpx2.Limits(max_connections=args.sessions + 4, max_keepalive_connections=args.sessions + 4)
    http = httpx2.AsyncClient(timeout=rt + 30, limits=limits)

    def plan(n: int) -> tuple[str, Any, str | None]:
        r = rng.random()
        if r < 0.35:
            marker = f"ADV-{run}-c{n:05d}"
            return (
                "accounting_create_client",
                {
                    "consumer_id": DEMO,
                    "name": f"ADV client {marker}",
                    "external_reference": marker,
                    "addresses": [],
                },
                marker,
            )
        if r < 0.55:
            marker = f"ADV-{run}-i{n:05d}"
            return (
                "accounting_create_invoice",
                {**INVOICE, "invoice_number": marker, "reference": marker},
                marker,
            )
        if r < 0.8 or not created_ids:
            return "accounting_get_clients", {"consumer_id": DEMO, "limit": 1 + n % 5}, None
        if r < 0.92:
            return "accounting_get_client", {"consumer_id": DEMO, "client_id": rng.choice(created_ids)}, None
        return (
            "accounting_get_invoices_by_type",
            {"consumer_id": DEMO, "invoice_type": "customer_invoice", "limit": 2},
            None,
        )

    async def reopen(mcp: Mcp) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            opened = await mcp.open()
            if opened.status == 200 and mcp.session:
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("could not reopen a session after the restart")

    async def worker() -> None:
        mcp = Mcp(http, server.url + "/mcp", ctx.tokens["admin"])
        await reopen(mcp)
        while (n := next(counter)) < args.calls:
            name, call_args, marker = plan(n)
            started = time.monotonic()
            reply = await mcp.call(name, call_args)
            done.append(Done(n, name, marker, reply, started, time.monotonic()))
            if reply.kind == "ok" and name == "accounting_create_client":
                created_ids.append(str(reply.payload.get("id")))
            if kill_at is not None and len(done) >= kill_at and not killed.is_set():
                killed.set()
            if reply.status in (0, 404) or (reply.status == 200 and reply.message is None):
                await reopen(mcp)  # the server was killed: a new session on the new process
        await mcp.close()

    async def killer() -> None:
        if kill_at is None:
            return
        await killed.wait()
        await asyncio.sleep(0.3)  # calls in flight
        window["kill"] = time.monotonic()
        server.kill9()
        log(f"  kill -9 of the server after {len(done)} calls; restarting it on port {server.port}")
        await server.start()
        window["up"] = time.monotonic()

    applied: Counter[str] = Counter()
    stop = asyncio.Event()
    scheduler = asyncio.create_task(fault_scheduler(ctx, stop, applied, rt))
    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(args.sessions)), killer())
    elapsed = time.monotonic() - began
    stop.set()
    await scheduler
    await ctx.admin.clear()
    # Let the sandbox finish what it still holds (latency faults) before reading its books.
    deadline = time.monotonic() + rt + 15
    while time.monotonic() < deadline:
        if not any(x["in_process"] for x in await ctx.admin.transactions()):
            break
        await asyncio.sleep(0.25)
    await http.aclose()

    # The sandbox's books.
    token = await ctx.admin.token()
    clients = await ctx.admin.listing(f"/consumers/{DEMO}/accounting/clients", token)
    invoices = await ctx.admin.listing(f"/consumers/{DEMO}/accounting/invoices/type/customer_invoice", token)
    booked: dict[str, list[str]] = {}
    for item in clients:
        ref = item.get("external_reference") or ""
        if ref.startswith(f"ADV-{run}-"):
            booked.setdefault(ref, []).append(str(item.get("id")))
    for item in invoices:
        ref = item.get("invoice_number") or ""
        if ref.startswith(f"ADV-{run}-"):
            booked.setdefault(ref, []).append(str(item.get("id")))
    tx = {
        x["client_request_id"]: x
        for x in await ctx.admin.transactions()
        if x["client_request_id"] not in before_tx
    }
    rid_of_entity = {
        x["created_entity_id"]: rid for rid, x in tx.items() if x["processed"] and x["created_entity_id"]
    }
    entries = await ctx.admin.since(mark, everything=True)
    stats1 = await ctx.admin.stats()
    logged_all = stats1["requests"] - stats0["requests"] == len(entries)
    processed_per_rid = Counter(
        e["client_request_id"]
        for e in entries
        if e["method"] == "POST" and e["processed"] and e["client_request_id"]
    )
    t.duplicates = sum(max(0, len(ids) - 1) for ids in booked.values())
    dup_rids = sum(c - 1 for c in processed_per_rid.values() if c > 1)
    t.duplicates += dup_rids
    if not logged_all:
        t.notes["request log"] = "overflowed: duplicates per request id counted from markers only"

    def in_kill(d: Done) -> bool:
        return (
            "kill" in window
            and d.started <= window.get("up", float("inf"))
            and d.ended >= window["kill"] - 0.05
        )

    lost = lost_with_rid = cut = cut_booked = 0
    by_kind: Counter[str] = Counter()
    for d in sorted(done, key=lambda d: d.n):
        kind = d.reply.kind
        by_kind[kind] += 1
        why = d.reply.sane()
        if d.marker is None:  # a read
            if why is None and not (kind == "ok" or kind.startswith("tool:")):
                why = None if in_kill(d) else f"answered {kind}"
            t.record(f"read {d.op}", why is None, why or "", answer=short(d.reply))
            continue
        ids = booked.get(d.marker, [])
        rids = {rid_of_entity.get(i) for i in ids}
        payload = d.reply.payload
        rid = payload.get("client_request_id")
        if len(ids) > 1:
            why = f"booked {len(ids)} times"
        elif kind == "ok":
            if not ids:
                why = "answered with an object the sandbox does not have"
            elif str(payload.get("id")) not in ids:
                why = f"answered object {payload.get('id')}, the sandbox booked {ids}"
        elif kind.startswith("tool:"):
            if ids:
                lost += 1
                if rid and rid in rids:
                    lost_with_rid += 1
                    if rid not in (payload.get("hint") or ""):
                        why = "booked, and the error's hint does not say how to look it up"
                else:
                    why = (
                        f"booked, but the error carries client_request_id {rid!r}, not the one that booked it"
                    )
            elif not rid and payload.get("error") not in NOTHING_SENT:
                why = "a create's error without its client_request_id"
            elif rid and tx.get(rid, {}).get("processed"):
                why = "the request id was processed but nothing carries the marker"
        elif in_kill(d):
            cut += 1
            cut_booked += bool(ids)
        else:
            why = why or f"answered {kind}" + (" (booked, outcome unknown to the agent)" if ids else "")
            if ids:
                lost += 1
        t.record(f"create {d.op}", why is None, why or "", answer=short(d.reply), marker=d.marker)
    if dup_rids:
        t.fail("request ids", f"{dup_rids} client request id(s) processed more than once")
    creates = sum(1 for d in done if d.marker)
    faults_hit = Counter(e["fault"] for e in entries if e.get("fault"))
    t.notes.update(
        {
            "calls": len(done),
            "seconds": round(elapsed, 1),
            "creates": creates,
            "booked": sum(1 for d in done if d.marker and booked.get(d.marker)),
            "answers by kind": dict(by_kind.most_common()),
            "lost answers of booked creates": lost,
            "of them with the booking client_request_id": lost_with_rid,
            "faults scripted": dict(applied.most_common()),
            "faults applied (sandbox)": dict(faults_hit.most_common()),
            "requests at the sandbox": stats1["requests"] - stats0["requests"],
            "duplicate markers": t.duplicates - dup_rids,
            "duplicate request ids": dup_rids,
        }
    )
    if "kill" in window:
        t.notes["kill -9"] = {
            "after calls": kill_at,
            "restart seconds": round(window["up"] - window["kill"], 2),
            "calls cut (no answer possible)": cut,
            "of them booked": cut_booked,
        }
    await writes_cut_off(ctx, t, server, run, rt)
    server.stop()
    return t


async def writes_cut_off(ctx: Ctx, t: Tally, server: Proc, run: str, rt: float) -> None:
    """Creates whose request runs into the door's time limit other than through a slow Chift answer:
    queued behind the per-consumer cap while Chift is slow, and (code mode) a program that writes, then
    computes past CHIFT_HTTP_REQUEST_TIMEOUT. Each must be answered, and a booked create reported."""
    token = await ctx.admin.token()
    async with httpx2.AsyncClient(timeout=rt + 30, limits=httpx2.Limits(max_connections=40)) as http:
        # 32 creates at once, every Chift request 1.5 s slow: 8 in flight (CHIFT_UPSTREAM_CONCURRENCY), the
        # others queued past the Chift deadline.
        await ctx.admin.fault(match="*", kind="latency", latency=1.5, times=0)
        queued = [Mcp(http, server.url + "/mcp", ctx.tokens["admin"]) for _ in range(32)]
        await asyncio.gather(*(m.open() for m in queued))
        markers = [f"ADV-{run}-q{i:02d}" for i in range(len(queued))]
        replies = await asyncio.gather(
            *(
                m.call(
                    "accounting_create_client",
                    {"consumer_id": DEMO, "name": mk, "external_reference": mk, "addresses": []},
                )
                for m, mk in zip(queued, markers, strict=True)
            )
        )
        await ctx.admin.clear()
        await asyncio.gather(*(m.close() for m in queued))
        programs: list[tuple[str, Reply]] = []
        if HAS_MONTY:
            coder = Mcp(http, server.url + "/mcp", ctx.tokens["coder"])
            await coder.open()
            spin = int(25e6 * (rt + 2))  # about rt + 2 seconds of the interpreter's time on this machine
            for i in range(2):
                mk = f"ADV-{run}-p{i}"
                program = (
                    f"c = accounting_create_client(consumer_id='{DEMO}', name='{mk}', external_reference='{mk}', addresses=[])\n"
                    f"x = 0\nfor i in range({spin}):\n    x += 1\nc['id']\n"
                )
                programs.append((mk, await coder.call("execute", {"code": program})))
            await coder.close()
        else:
            t.skipped.append("a program cut off by the request timeout (pydantic-monty is not installed)")
    await asyncio.sleep(1.0)
    clients = await ctx.admin.listing(f"/consumers/{DEMO}/accounting/clients", token)
    booked = Counter(str(c.get("external_reference")) for c in clients)
    ids = {str(c.get("external_reference")): str(c.get("id")) for c in clients}
    outcomes: Counter[str] = Counter()
    for mk, reply in [*zip(markers, replies, strict=True), *programs]:
        what = "program" if "-p" in mk else "queued create"
        kind = reply.kind
        outcomes[f"{what}: {kind}"] += 1
        why = reply.sane() if reply.status != 504 else None
        if booked[mk] > 1:
            why = f"booked {booked[mk]} times"
        elif not (kind == "ok" or kind.startswith("tool:")):
            why = f"cut off: answered {kind}" + (", and the create was booked" if booked[mk] else "")
        elif kind.startswith("tool:") and booked[mk]:
            said = reply.text
            if ids[mk] not in said and not (reply.payload.get("client_request_id") or "writes" in said):
                why = "booked, and the error does not say so"
        elif (
            kind.startswith("tool:")
            and what == "queued create"
            and not reply.payload.get("client_request_id")
        ):
            why = "a create's error without its client_request_id"
        t.duplicates = (t.duplicates or 0) + max(0, booked[mk] - 1)
        t.record(f"{what} cut off by the time limit", why is None, why or "", answer=short(reply), marker=mk)
    t.notes["creates cut off by the time limit"] = dict(outcomes)


async def run(args: argparse.Namespace) -> int:
    logs = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="chift-adversarial-"))
    began = time.monotonic()
    async with harness(args, logs) as ctx:
        log("scenario 4 ...")
        tally = await scenario_writes(ctx)
        log(f"scenario 4: {tally.row()} in {time.monotonic() - began:.1f} s")
    stderr = stderr_leaks(ctx, tally)
    print_table([tally])
    print(
        f"  stderr: {stderr['stderr lines']} lines from the servers at -vv, {stderr['secrets looked for']} "
        f"secrets looked for, {len(stderr['leaks'])} found; tracebacks: {stderr['tracebacks'] or 'none'}"
    )
    unexpected = len(tally.unexpected)
    report = {
        "scenarios": {
            tally.key: {
                "title": tally.title,
                **tally.row(),
                "notes": tally.notes,
                "observations": tally.observations,
                "unexpected_cases": tally.unexpected[:50],
            }
        },
        "stderr": stderr,
        "unexpected": unexpected,
        "seconds": round(time.monotonic() - began, 1),
        "args": dict(vars(args)),
        "logs": str(logs),
    }
    print(json.dumps(report, ensure_ascii=False, default=str))
    if not args.keep and unexpected == 0:
        shutil.rmtree(logs, ignore_errors=True)
    elif unexpected:
        log(f"logs kept in {logs}")
    return 1 if unexpected else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = options()
    parser.add_argument("--calls", type=int, default=defaults.calls, help="mixed tool calls in all")
    parser.add_argument("--sessions", type=int, default=defaults.sessions, help="concurrent MCP sessions")
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=defaults.request_timeout,
        help="CHIFT_HTTP_REQUEST_TIMEOUT (s)",
    )
    parser.add_argument("--no-kill", action="store_true", help="no kill -9 and restart mid-load")
    parser.add_argument("--json-response", action="store_true", help="servers answer JSON instead of SSE")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--keep", help="directory for the tokens file and the processes' stderr (kept)")
    parser.add_argument("--verbose", action="store_true", help="one line per attempt on stderr")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(argparse.Namespace(**{**vars(defaults), **vars(args)}))))


if __name__ == "__main__":
    main()
