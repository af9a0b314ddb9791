"""Bad inputs against real processes; see the docstring of ``scenario_inputs``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import INVOICE
from support.adversary import DEMO, OTHER, PROTOCOL, raw_http
from support.adversary_tally import Ctx, Tally, attempt, run_scenario, short, unexpected

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

# --------------------------------------------------------------------------- 2. bad inputs


async def scenario_inputs(ctx: Ctx) -> Tally:
    t = Tally("2", "bad inputs")
    admin = ctx.mcp(ctx.tokens["admin"])
    await admin.open()
    invalid = {"tool:INVALID_ARGUMENTS"}
    await attempt(
        ctx,
        t,
        "70,000-character search",
        lambda: admin.call("accounting_get_clients", {"consumer_id": DEMO, "search": "x" * 70_000}),
        invalid,
        field_name="search",
    )
    await attempt(
        ctx,
        t,
        "70,000-character search in a list of ids' worth of text",
        lambda: admin.call("accounting_get_clients", {"consumer_id": DEMO, "search": "é/%&" * 17_500}),
        invalid,
        field_name="search",
    )
    nonfinite = {"tool:INVALID_ARGUMENTS", "rpc:-32700", "rpc:-32602", "http:400"}
    invoice_text = json.dumps({**INVOICE, "untaxed_amount": "@N@"})
    line_text = json.dumps({**INVOICE, "lines": [{**INVOICE["lines"][0], "unit_price": "@N@"}]})
    tax_text = json.dumps(
        {**INVOICE, "withholding_tax": {"tax_rate": "@N@", "tax_code": "V", "tax_amount": 1}}
    )
    for token in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400"):
        for case, name, text, where in (
            ("limit", "accounting_get_clients", json.dumps({"consumer_id": DEMO, "limit": "@N@"}), "limit"),
            (
                "offset",
                "accounting_get_clients",
                json.dumps({"consumer_id": DEMO, "offset": "@N@"}),
                "offset",
            ),
            ("untaxed_amount", "accounting_create_invoice", invoice_text, "untaxed_amount"),
            ("lines[0].unit_price", "accounting_create_invoice", line_text, "lines[0].unit_price"),
            ("withholding_tax.tax_rate", "accounting_create_invoice", tax_text, "withholding_tax.tax_rate"),
        ):
            raw = text.replace('"@N@"', token)
            await attempt(
                ctx,
                t,
                f"{token} as {case}",
                lambda n=name, r=raw: admin.raw_call(n, r),
                nonfinite,
                field_name=where,
            )
    for value in (
        "a/b",
        "a\\b",
        "..",
        ".",
        "%2F",
        "a%2Fb",
        "%2e%2e",
        "%2E%2E",
        "..%2F..%2Fsuppliers",
        "%252F",
        "%5C",
        "%2e",
        "",
        " ",
    ):
        await attempt(
            ctx,
            t,
            f"path id {value!r} (get)",
            lambda v=value: admin.call("accounting_get_client", {"consumer_id": DEMO, "client_id": v}),
            invalid,
            field_name="client_id",
        )
    for value in ("..", "a/b", "%2e%2e", "..%5C..", "%2F"):
        await attempt(
            ctx,
            t,
            f"path id {value!r} (update: a write)",
            lambda v=value: admin.call(
                "accounting_update_client", {"consumer_id": DEMO, "client_id": v, "name": "ADV"}
            ),
            invalid,
            field_name="client_id",
        )
        await attempt(
            ctx,
            t,
            f"path id {value!r} as the consumer",
            lambda v=value: admin.call("accounting_get_clients", {"consumer_id": v, "limit": 1}),
            invalid,
            field_name="consumer_id",
        )

    # Path ids that are not refused must still reach exactly the route asked for, percent-encoded.
    for value in (
        "\uff0e\uff0e",  # fullwidth dots (NFKC: "..")
        "..;",
        "%c0%af",  # overlong UTF-8 "/"
        "%%32%66",
        "%25%32%66",  # "%2f" once decoded
        "a\u2215b",  # division slash
        "a%00b",
        "a\x00b",
        "a?b=1&consumer_id=" + OTHER,
        "a#b",
        "%",
    ):
        mark = await ctx.admin.mark()
        reply = await admin.call("accounting_get_client", {"consumer_id": DEMO, "client_id": value})
        sent = await ctx.admin.since(mark)
        why = reply.sane()
        if why is None and reply.kind == "tool:INVALID_ARGUMENTS":
            why = (
                None if reply.payload.get("field") == "client_id" else f"field {reply.payload.get('field')!r}"
            )
            t.sent += bool(sent)
            why = why or (f"refused, yet {len(sent)} request(s) sent" if sent else None)
        elif why is None:
            routes = {(e["operation_id"], e["path"].count("/")) for e in sent}
            if (
                not sent
                or routes != {("accounting_get_client", 5)}
                or not reply.kind.startswith(("ok", "tool:"))
            ):
                why = f"answered {reply.kind}, sent {[(e['method'], e['path']) for e in sent]}"
        t.record(f"path id {value!r}: refused or the same route", why is None, why or "", answer=short(reply))
    for value in ("1\r\nX-Injected: yes", "1\nX-Injected: yes", "1\x00", "caf\u00e9"):
        await attempt(
            ctx,
            t,
            f"header argument {value!r}",
            lambda v=value: admin.call(
                "insights_query_db", {"datalayer_max_staleness": v, "measures": ["invoices.count"]}
            ),
            invalid,
            field_name="datalayer_max_staleness",
        )
    big = admin.request(
        "tools/call",
        {"name": "accounting_create_client", "arguments": {"consumer_id": DEMO, "name": "x" * 1_200_000}},
    )
    await attempt(ctx, t, "a 1.2 MB body (over CHIFT_HTTP_MAX_BODY)", lambda: admin.post(big), {"http:413"})

    # Repeated headers and foreign Hosts, written by hand. The body is a write in an open session, so
    # anything let through would show at the sandbox.
    port = ctx.main.port
    here = f"127.0.0.1:{port}"
    body = json.dumps(
        admin.request(
            "tools/call",
            {"name": "accounting_create_client", "arguments": {"consumer_id": DEMO, "name": "ADV raw"}},
        )
    ).encode()
    common = [
        "Content-Type: application/json",
        "Accept: application/json, text/event-stream",
        f"Mcp-Session-Id: {admin.session}",
        f"Mcp-Protocol-Version: {PROTOCOL}",
    ]
    auth = f"Authorization: Bearer {ctx.tokens['admin']}"
    repeated = {
        "two Host headers, one foreign": [f"Host: {here}", "Host: evil.example", auth],
        "two Host headers, both served": [f"Host: {here}", f"Host: localhost:{port}", auth],
        "two Host headers, foreign first": ["Host: evil.example", f"Host: {here}", auth],
        "the same bearer twice": [f"Host: {here}", auth, auth],
        "two bearers (reader, admin)": [
            f"Host: {here}",
            f"Authorization: Bearer {ctx.tokens['reader']}",
            auth,
        ],
        "two consumer headers": [
            f"Host: {here}",
            auth,
            f"X-Chift-Consumer-Id: {DEMO}",
            f"X-Chift-Consumer-Id: {OTHER}",
        ],
        "two Origin headers": [
            f"Host: {here}",
            auth,
            f"Origin: http://{here}",
            "Origin: http://evil.example",
        ],
    }
    for case, head in repeated.items():
        await attempt(
            ctx,
            t,
            f"raw: {case}",
            lambda h=head: raw_http(port, ["POST /mcp HTTP/1.1", *h, *common], body),
            {"http:400"},
        )
    foreign = {
        "POST /mcp/ with a foreign Host": ("POST /mcp/ HTTP/1.1", "Host: evil.example"),
        "POST /mcp with a foreign Host": ("POST /mcp HTTP/1.1", "Host: evil.example"),
        "POST /mcp/?token=x with a foreign Host": ("POST /mcp/?token=x HTTP/1.1", "Host: evil.example"),
        "GET /nowhere with a foreign Host": ("GET /nowhere HTTP/1.1", "Host: evil.example"),
        "Host 127.0.0.1.evil.example": ("POST /mcp/ HTTP/1.1", f"Host: 127.0.0.1.evil.example:{port}"),
        "Host with a userinfo trick": ("POST /mcp HTTP/1.1", f"Host: {here}@evil.example"),
        "Host localhost.evil.example": ("POST /mcp HTTP/1.1", f"Host: localhost.evil.example:{port}"),
        "no Host at all": ("POST /mcp HTTP/1.1", ""),
    }
    for case, (line, host) in foreign.items():
        await attempt(
            ctx,
            t,
            f"raw: {case}",
            lambda ln=line, h=host: raw_http(port, [ln, *([h] if h else []), auth, *common], body),
            {"http:421", "http:400"},
        )

    # Protocol errors.
    rpc = {"rpc:-32602"}
    for case, method, params in (
        ("unknown cursor on tools/list", "tools/list", {"cursor": "eyJvZmZzZXQiOiAxMDB9"}),
        ("empty cursor on tools/list", "tools/list", {"cursor": ""}),
        ("unknown cursor on prompts/list", "prompts/list", {"cursor": "2"}),
    ):
        await attempt(ctx, t, case, lambda m=method, p=params: admin.post(admin.request(m, p)), rpc)
    for case, name in (
        ("unknown tool, a near miss", "accounting_get_clientz"),
        ("unknown tool, empty name", ""),
        ("unknown tool, 5,000 characters", "x" * 5000),
        ("unknown tool, a path", "../../etc/passwd"),
        ("unknown tool, control characters", "accounting_get_clients\n\x00"),
    ):
        await attempt(ctx, t, case, lambda n=name: admin.call(n, {"consumer_id": DEMO}), rpc)
    await attempt(
        ctx,
        t,
        "a code-mode tool on a tools-mode token",
        lambda: admin.call("execute", {"code": "1"}),
        {"rpc:-32602", "tool:OUT_OF_SCOPE", "tool:TOOL_ERROR"},
    )
    for case, params in (
        ("arguments as a string", {"name": "accounting_get_clients", "arguments": "x"}),
        ("arguments as a list", {"name": "accounting_get_clients", "arguments": [DEMO]}),
        ("no tool name", {"arguments": {}}),
        ("tool name as a number", {"name": 7, "arguments": {}}),
    ):
        await attempt(ctx, t, case, lambda p=params: admin.post(admin.request("tools/call", p)), {"rpc:*"})
    for case, text in (
        ("not JSON", b"{bad json"),
        ("a JSON-RPC batch", b"[]"),
        ("jsonrpc 1.0", b'{"jsonrpc":"1.0","id":3,"method":"tools/list"}'),
        (
            "deeply nested arguments",
            (
                '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"accounting_get_clients","arguments":'
                + "[" * 5000
                + "]" * 5000
                + "}}"
            ).encode(),
        ),
    ):
        await attempt(ctx, t, case, lambda x=text: admin.post(x), {"rpc:*", "http:400"})
    # JSON-RPC ids must be strings or numbers (MCP: strings or integers); the MCP SDK reads a request
    # with another id as a notification and answers 202 with nothing. Harmless here (nothing is
    # called), noted rather than counted.
    for case, text in (
        (
            "id as an object",
            b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/call","params":{"name":"accounting_create_client","arguments":{}}}',
        ),
        ("id as a float", b'{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}'),
    ):
        reply = await attempt(
            ctx, t, case, lambda x=text: admin.post(x), {"rpc:*", "http:400", "http:202:no answer"}
        )
        if reply.kind == "http:202:no answer":
            t.observations.append(
                f"{case}: answered 202 with no JSON-RPC answer (the SDK reads it as a notification)"
            )
    # Finite but absurd paging values: schema-valid (no minimum, and 1e300 is an integer-valued number),
    # so not refusals; what reaches the sandbox is noted.
    for text in (
        f'{{"consumer_id":"{DEMO}","offset":1e300}}',
        f'{{"consumer_id":"{DEMO}","offset":-1,"limit":-5}}',
    ):
        mark = await ctx.admin.mark()
        reply = await admin.raw_call("accounting_get_clients", text)
        sent = await ctx.admin.since(mark)
        queries = [e["query"][:60] + ("..." if len(e["query"]) > 60 else "") for e in sent]
        t.observations.append(f"accounting_get_clients {text[50:]} -> {reply.kind}, sent {queries}")
    await admin.close()
    return t


async def test_every_bad_input_is_refused_naming_what_was_wrong_never_a_5xx_or_a_traceback(
    tmp_path: Path,
) -> None:
    tally, report = await run_scenario(scenario_inputs, tmp_path)
    assert tally.attempts > 0
    assert not unexpected(tally, report), unexpected(tally, report)[:10]
