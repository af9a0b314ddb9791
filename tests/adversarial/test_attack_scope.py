"""Scope escapes against real processes (a token reaching past its grant); see the docstring of
``scenario_scope``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from pathlib import Path
from typing import Any

import httpx2
import pytest
from support import INVOICE
from support.adversary import DEMO, HAS_MONTY, INACTIVE, OTHER, PROTOCOL, Mcp, Reply, raw_http
from support.adversary_tally import Ctx, Tally, attempt, run_scenario, short, unexpected

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

# --------------------------------------------------------------------------- 1. scope escapes


def program_refused(reply: Reply) -> str | None:
    """An execute program that catches the refusal returns it: it must read OUT_OF_SCOPE."""
    value = reply.payload.get("result")
    if reply.kind == "ok" and not (isinstance(value, str) and value.startswith("OUT_OF_SCOPE")):
        return f"the program's call was not refused: {str(value)[:200]}"
    return None


def try_program(call: str) -> str:
    return f"try:\n    {call}\n    out = 'sent'\nexcept RuntimeError as e:\n    out = str(e)\nout\n"


async def scenario_scope(ctx: Ctx) -> Tally:
    t = Tally("1", "scope escapes")
    tk = ctx.tokens
    sessions: dict[str, Mcp] = {}
    for name in ("admin", "bound", "reader", "narrow", "disc_reader", "bound_disc", "narrow_disc"):
        sessions[name] = ctx.mcp(tk[name])
        opened = await sessions[name].open()
        if opened.status != 200:
            t.fail(f"open {name}", f"initialize answered {opened.kind}")
    if HAS_MONTY:
        for name in ("code_reader", "bound_code"):
            sessions[name] = ctx.mcp(tk[name])
            await sessions[name].open()
    else:
        t.skipped.append("execute programs (pydantic-monty is not installed)")

    # Controls: the same calls in scope do go through (else the refusals below prove nothing).
    own = await sessions["bound"].call("accounting_get_clients", {"limit": 1})
    wide = await sessions["admin"].call("accounting_get_clients", {"consumer_id": OTHER, "limit": 1})
    for case, reply in (
        ("control: bound token, own consumer", own),
        ("control: admin, other consumer", wide),
    ):
        if reply.kind != "ok":
            t.fail(case, f"answered {reply.kind}: {short(reply)}")

    scope = {"tool:OUT_OF_SCOPE"}
    bound = sessions["bound"]
    arg_cases: list[tuple[str, str, Any]] = [
        ("other consumer in arguments", "accounting_get_clients", {"consumer_id": OTHER, "limit": 1}),
        ("inactive consumer in arguments", "accounting_get_clients", {"consumer_id": INACTIVE}),
        ("other consumer, padded", "accounting_get_clients", {"consumer_id": f" {OTHER} "}),
        ("other consumer as a list", "accounting_get_clients", {"consumer_id": [OTHER]}),
        ("other consumer as a number", "accounting_get_clients", {"consumer_id": 22222222}),
        (
            "create for the other consumer",
            "accounting_create_client",
            {"consumer_id": OTHER, "name": "ADV x"},
        ),
        ("account-level: the other consumer", "consumers_get_consumer", {"consumer_id": OTHER}),
        ("account-level: its connections", "connections_get_connections", {"consumer_id": OTHER}),
        ("account-level: every consumer", "consumers_get_consumers", {}),
    ]
    for case, name, args in arg_cases:
        await attempt(ctx, t, f"bound: {case}", lambda n=name, a=args: bound.call(n, a), scope)
    climbs = [
        f"../../{OTHER}/accounting/clients",
        f"..%2F..%2F{OTHER}%2Faccounting%2Fclients",
        f"%2e%2e%2f%2e%2e%2f{OTHER}",
        f"..\\..\\{OTHER}",
    ]
    for value in climbs:
        await attempt(
            ctx,
            t,
            f"bound: path id climbing to the other consumer ({value[:14]}...)",
            lambda v=value: bound.call("accounting_get_client", {"client_id": v}),
            {"tool:INVALID_ARGUMENTS"},
            field_name="client_id",
        )

    # X-Chift-Consumer-Id.
    await attempt(
        ctx,
        t,
        "bound + header: other consumer, at initialize",
        lambda: ctx.mcp(tk["bound"], {"X-Chift-Consumer-Id": OTHER}).open(),
        {"http:403"},
    )
    await attempt(
        ctx,
        t,
        "bound + header: other consumer, on a call in an open session",
        lambda: bound.call("accounting_get_clients", {"limit": 1}, bound.headers(X_Chift_Consumer_Id=OTHER)),
        {"http:403"},
    )
    port = ctx.main.port
    padded_call = json.dumps(
        bound.request("tools/call", {"name": "accounting_get_clients", "arguments": {"limit": 1}})
    )
    await attempt(
        ctx,
        t,
        "bound + header: other consumer padded with spaces and tabs (raw)",
        lambda: raw_http(
            port,
            [
                "POST /mcp HTTP/1.1",
                f"Host: 127.0.0.1:{port}",
                f"Authorization: Bearer {tk['bound']}",
                f"X-Chift-Consumer-Id: \t  {OTHER} \t ",
                "Content-Type: application/json",
                "Accept: application/json, text/event-stream",
                f"Mcp-Session-Id: {bound.session}",
                f"Mcp-Protocol-Version: {PROTOCOL}",
            ],
            padded_call.encode(),
        ),
        {"http:403"},
    )
    narrowed = ctx.mcp(tk["admin"], {"X-Chift-Consumer-Id": DEMO})
    await narrowed.open()
    await attempt(
        ctx,
        t,
        "admin narrowed by header to one consumer, other consumer in arguments",
        lambda: narrowed.call("accounting_get_clients", {"consumer_id": OTHER, "limit": 1}),
        scope,
    )
    await attempt(
        ctx,
        t,
        "admin narrowed by header, account-level tool",
        lambda: narrowed.call("consumers_get_consumers", {}),
        scope,
    )
    for value in (f"../{OTHER}", f"{DEMO},{OTHER}", f"{OTHER}\t{DEMO}"):
        await attempt(
            ctx,
            t,
            f"header that is not a consumer id ({value[:12]}...)",
            lambda v=value: ctx.mcp(tk["admin"], {"X-Chift-Consumer-Id": v}).open(),
            {"http:400"},
        )

    # Read-only tokens writing.
    reader = sessions["reader"]
    writes: list[tuple[str, Any]] = [
        ("accounting_create_client", {"consumer_id": DEMO, "name": "ADV ro", "addresses": []}),
        ("accounting_create_invoice", {**INVOICE, "invoice_number": "ADV-ro"}),
        ("accounting_update_client", {"consumer_id": DEMO, "client_id": "c1", "name": "ADV ro"}),
        ("invoicing_post_contacts", {"consumer_id": DEMO}),
        ("pos_update_pos_customer", {"consumer_id": DEMO, "customer_id": "c1"}),
    ]
    for name, args in writes:
        await attempt(ctx, t, f"read-only: {name}", lambda n=name, a=args: reader.call(n, a), scope)
    disc = sessions["disc_reader"]
    for name, args in writes[:3]:
        await attempt(
            ctx,
            t,
            f"read-only discovery: call_operation {name}",
            lambda n=name, a=args: disc.call("call_operation", {"name": n, "arguments": a}),
            scope,
        )
    for name in ("call_operation", "execute"):
        await attempt(
            ctx,
            t,
            f"read-only discovery: call_operation of the local tool {name}",
            lambda n=name: disc.call(
                "call_operation", {"name": n, "arguments": {"name": "accounting_create_client"}}
            ),
            {"tool:OUT_OF_SCOPE", "tool:INVALID_ARGUMENTS", "rpc:-32602"},
        )
    await attempt(
        ctx,
        t,
        "read-only discovery: the write tool by its own name",
        lambda: disc.call("accounting_create_client", {"consumer_id": DEMO, "name": "ADV ro"}),
        {"tool:OUT_OF_SCOPE", "rpc:-32602"},
    )
    if HAS_MONTY:
        coder = sessions["code_reader"]
        programs = {
            "create, caught": try_program(
                f"accounting_create_client(consumer_id='{DEMO}', name='ADV ro', addresses=[])"
            ),
            "update, caught": try_program(
                f"accounting_update_client(consumer_id='{DEMO}', client_id='c1', name='ADV ro')"
            ),
            "create, uncaught": f"accounting_create_client(consumer_id='{DEMO}', name='ADV ro', addresses=[])",
            "create through an alias": try_program(
                f"f = accounting_create_client\n    f(consumer_id='{DEMO}', name='ADV ro', addresses=[])"
            ),
            "ten creates in a loop": (
                "outs = []\nfor i in range(10):\n"
                "    try:\n"
                f"        accounting_create_client(consumer_id='{DEMO}', name='ADV ro', addresses=[])\n"
                "        outs.append('sent')\n"
                "    except RuntimeError as e:\n"
                "        outs.append(str(e).split(':')[0])\n"
                "'OUT_OF_SCOPE' if outs == ['OUT_OF_SCOPE'] * 10 else str(outs)\n"
            ),
        }
        for case, program in programs.items():
            await attempt(
                ctx,
                t,
                f"read-only execute: {case}",
                lambda p=program: coder.call("execute", {"code": p}),
                {"ok", "tool:PROGRAM_ERROR", "tool:OUT_OF_SCOPE"},
                check=program_refused,
            )

    # Consumer-bound discovery and code tokens naming another consumer.
    bdisc = sessions["bound_disc"]
    for case, name, args in arg_cases[:1] + arg_cases[5:7]:
        await attempt(
            ctx,
            t,
            f"bound discovery: call_operation, {case}",
            lambda n=name, a=args: bdisc.call("call_operation", {"name": n, "arguments": a}),
            scope,
        )
    if HAS_MONTY:
        bcode = sessions["bound_code"]
        for case, call in (
            ("other consumer", f"accounting_get_clients(consumer_id='{OTHER}', limit=1)"),
            ("create for the other consumer", f"accounting_create_client(consumer_id='{OTHER}', name='x')"),
            ("account-level tool", "consumers_get_consumers()"),
        ):
            await attempt(
                ctx,
                t,
                f"bound execute: {case}",
                lambda c=call: bcode.call("execute", {"code": try_program(c)}),
                {"ok", "tool:PROGRAM_ERROR", "tool:OUT_OF_SCOPE"},
                check=program_refused,
            )

    # A narrowed function_config ({"accounting": ["get"]}) calling outside it.
    narrow = sessions["narrow"]
    for name, args in (
        ("invoicing_get_invoices", {"consumer_id": DEMO}),
        ("pos_get_orders", {"consumer_id": DEMO}),
        ("accounting_create_client", {"consumer_id": DEMO, "name": "ADV narrow", "addresses": []}),
        ("consumers_get_consumers", {}),
    ):
        await attempt(ctx, t, f"narrowed: {name}", lambda n=name, a=args: narrow.call(n, a), scope)
    ndisc = sessions["narrow_disc"]
    for name, args in (
        ("invoicing_get_invoices", {"consumer_id": DEMO}),
        ("accounting_create_client", {"consumer_id": DEMO, "name": "ADV narrow", "addresses": []}),
    ):
        await attempt(
            ctx,
            t,
            f"narrowed discovery: call_operation {name}",
            lambda n=name, a=args: ndisc.call("call_operation", {"name": n, "arguments": a}),
            scope,
        )

    # Resuming another session's SSE stream (GET with Last-Event-ID): never its events.
    if not ctx.args.json_response:
        admin_s = sessions["admin"]
        secret_call = await admin_s.call("accounting_get_clients", {"consumer_id": OTHER, "limit": 1})
        event_ids = re.findall(r"^id: (\S+)", secret_call.text, re.MULTILINE)
        marker = json.dumps(secret_call.payload.get("items", [{}])[0].get("name", "-"))[1:-1]
        for case, token, session in (
            ("reader token, the admin's session", tk["reader"], admin_s.session),
            ("reader token, its own session, the admin's event id", tk["reader"], sessions["reader"].session),
            ("bound token, its own session, the admin's event id", tk["bound"], sessions["bound"].session),
        ):
            await attempt(
                ctx,
                t,
                f"stream resume: {case}",
                lambda tok=token, sid=session: resume(ctx, tok, sid, event_ids[-1] if event_ids else "x-1"),
                {"http:404", "http:403", "http:401", "http:200:no answer", "http:400"},
                check=lambda r, m=marker: f"replayed the admin's answer ({m})" if m in r.text else None,
            )

    # A session id reused with another token (or none).
    admin = sessions["admin"]
    write = ("accounting_create_client", {"consumer_id": DEMO, "name": "ADV hijack", "addresses": []})
    for case, token, owner in (
        ("reader token in the admin's session, a write", tk["reader"], admin),
        ("bound token in the admin's session, the other consumer", tk["bound"], admin),
        ("admin token in the reader's session", tk["admin"], reader),
        ("narrowed token in the admin's session", tk["narrow"], admin),
    ):
        name, args = write if "bound" not in case else ("accounting_get_clients", {"consumer_id": OTHER})
        await attempt(
            ctx,
            t,
            f"session reuse: {case}",
            lambda tok=token, o=owner, n=name, a=args: o.call(n, a, o.headers(Authorization=f"Bearer {tok}")),
            {"http:404", "http:403", "http:401"},
        )
    await attempt(
        ctx,
        t,
        "session reuse: the admin's session without a token",
        lambda: admin.call(*write, admin.headers(Authorization=None)),
        {"http:401"},
    )
    for m in sessions.values():
        await m.close()
    await narrowed.close()
    return t


async def resume(ctx: Ctx, token: str, session: str | None, last_event: str) -> Reply:
    """GET the MCP endpoint with Last-Event-ID, reading what the stream sends for a second."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "text/event-stream",
        "Mcp-Session-Id": session or "",
        "Mcp-Protocol-Version": PROTOCOL,
        "Last-Event-ID": last_event,
    }
    chunks: list[str] = []
    try:
        async with ctx.http.stream("GET", ctx.main.url + "/mcp", headers=headers) as resp:
            status = resp.status_code
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    async for text in resp.aiter_text():
                        chunks.append(text)
    except httpx2.HTTPError as exc:
        return Reply(0, {}, "", transport=type(exc).__name__)
    return Reply(status, dict(resp.headers), "".join(chunks))


async def test_every_scope_escape_is_refused_and_nothing_reaches_Chift(tmp_path: Path) -> None:
    tally, report = await run_scenario(scenario_scope, tmp_path)
    assert tally.attempts > 0
    assert not unexpected(tally, report), unexpected(tally, report)[:10]
