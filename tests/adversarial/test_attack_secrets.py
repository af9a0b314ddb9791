"""Secrets echoed by Chift in every spelling, against real processes; see ``scenario_secrets``."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.adversary import (
    DEMO,
    SANDBOX_CLIENT_SECRET,
    Admin,
    Proc,
    Reply,
    SniffingProxy,
    sandbox_proc,
    server_proc,
)
from support.adversary_tally import Ctx, Tally, echoed_spellings, leaks_in, run_scenario, short, unexpected

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

Secret = str | Callable[[], str | None]  # a value, or how to read the one in use now


async def echo_cases(
    ctx: Ctx,
    t: Tally,
    where: str,
    proc: Proc,
    admin: Admin,
    token: str,
    echoed: dict[str, Secret],
    *,
    passthrough: bool = False,
) -> None:
    """Faults that echo every spelling of every ``echoed`` secret in error_code and message; every
    answer must be an error without any of them. An access token is read from the proxy just before
    each case: the one the server is sending, which is what an upstream would echo."""
    mcp = ctx.mcp(token, proc=proc)
    await mcp.open()
    retries = 3
    get = ("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
    create = ("accounting_create_client", {"consumer_id": DEMO, "name": "ADV echo", "addresses": []})
    templates: list[tuple[str, tuple[str, Any], dict[str, Any]]] = [
        ("400", get, {"kind": "status", "status": 400}),
        ("422 on a create", create, {"kind": "status", "status": 422}),
        (
            "429 until the retries run out",
            get,
            {"kind": "status", "status": 429, "retry_after": 0, "times": retries + 1},
        ),
        (
            "503 until the retries run out",
            get,
            {"kind": "status", "status": 503, "retry_after": 0, "times": retries + 1},
        ),
        ("500 on a create", create, {"kind": "status", "status": 500}),
        ("lost answer of a create (500)", create, {"kind": "drop_after_processing", "status": 500}),
        ("404", get, {"kind": "status", "status": 404}),
    ]
    if passthrough:  # the caller's token: nothing to refresh, no replay
        templates.append(("401", get, {"kind": "status", "status": 401}))
    else:
        templates.append(
            ("401 twice (token refresh, replay)", get, {"kind": "status", "status": 401, "times": 2})
        )
        # The token endpoint itself: tokens revoked, the refresh answered 500 with the echo.
        templates.append(("/token answering 500 after a revoke", get, {"revoke": True}))

    def resolve(label: str, value: Secret) -> str | None:
        secret = value() if callable(value) else value
        if secret:
            ctx.secrets.setdefault(label if not callable(value) else f"access token ...{secret[-6:]}", secret)
        return secret

    async def one(case: str, form: str, name: str, args: Any, fault: dict[str, Any]) -> Reply:
        echo = {"error_code": f"ERR_{form}", "message": f"Rejected: {form} (Authorization: Bearer {form})"}
        if fault.get("revoke"):
            await admin.revoke()
            await admin.fault(match="generate_access_token_token_post", kind="status", status=500, **echo)
        else:
            await admin.fault(match=name, **echo, **fault)
        return await mcp.call(name, args)

    for label, value in echoed.items():
        for case, (name, args), fault in templates:
            secret = resolve(label, value)
            if not secret:
                t.fail(f"{where}: {label}", "no value to echo (the proxy saw no token)")
                break
            for form_name, form in echoed_spellings(secret).items():
                reply = await one(case, form, name, args, fault)
                left = await admin.pending()
                if left:
                    await admin.clear()
                problems = leaks_in(reply, ctx.secrets)
                why = reply.sane()
                if problems:
                    why = "leaked " + ", ".join(problems)
                elif left:
                    why = why or "the fault was not applied"
                elif not reply.kind.startswith("tool:"):
                    why = why or f"answered {reply.kind}, expected a tool error"
                t.leaks = (t.leaks or 0) + len(problems)
                t.notes["answers with *** where the echo was"] = t.notes.get(
                    "answers with *** where the echo was", 0
                ) + ("***" in reply.text)
                t.record(f"{where}: {label} {form_name}, {case}", why is None, why or "", answer=short(reply))
                secret_now = resolve(label, value)
                if secret_now != secret:  # a refresh: echo the new token from now on
                    break
    await mcp.close()


async def scenario_secrets(ctx: Ctx) -> Tally:
    t = Tally("3", "secrets")
    t.leaks = 0
    # Pass-through: the caller's bearer is the Chift token the sandbox echoes.
    bearer = await ctx.admin.token()
    ctx.secrets["pass-through bearer"] = bearer
    passthrough = server_proc(ctx.logs, "server-passthrough", ctx.admin.url, {}, ["--auth", "chift"])
    await passthrough.start()
    ctx.procs.append(passthrough)
    await echo_cases(
        ctx, t, "pass-through", passthrough, ctx.admin, bearer, {"the bearer": bearer}, passthrough=True
    )
    passthrough.stop()

    # API key: the client secret and the access token the server got (seen by the proxy).
    warm = ctx.mcp(ctx.tokens["admin"])
    await warm.open()
    await warm.call("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
    await warm.close()
    echoed: dict[str, Secret] = {
        "client secret": SANDBOX_CLIENT_SECRET,
        "access token in use": lambda: ctx.proxy.last,
    }
    await echo_cases(ctx, t, "API key", ctx.main, ctx.admin, ctx.tokens["admin"], echoed)

    if not ctx.args.no_hard_secret:
        hard = "hs-" + secrets.token_urlsafe(12) + '/"\\é+ %&=?#' + secrets.token_urlsafe(6)
        ctx.secrets["hard client secret"] = hard
        sandbox = sandbox_proc(ctx.logs, "sandbox-hard-secret", client_secret=hard)
        await sandbox.start()
        ctx.procs.append(sandbox)
        proxy = SniffingProxy(sandbox.port)
        url = await proxy.start()
        server = server_proc(
            ctx.logs,
            "server-hard-secret",
            url,
            {"CHIFT_CLIENT_SECRET": hard, "CHIFT_MCP_TOKEN": ctx.tokens["admin"]},
            [],
        )
        await server.start()
        ctx.procs.append(server)
        admin = Admin(sandbox.url)
        warm = ctx.mcp(ctx.tokens["admin"], proc=server)
        await warm.open()
        first = await warm.call("accounting_get_clients", {"consumer_id": DEMO, "limit": 1})
        await warm.close()
        if first.kind != "ok":
            t.fail("hard secret", f"the server could not use the hard secret: {short(first)}")
        hard_echo: dict[str, Secret] = {"hard client secret": hard, "access token in use": lambda: proxy.last}
        await echo_cases(ctx, t, "hard secret", server, admin, ctx.tokens["admin"], hard_echo)
        server.stop()
        sandbox.stop()
        await proxy.close()
        await admin.aclose()
    return t


async def test_no_spelling_of_any_secret_reaches_a_tool_result_or_a_log(tmp_path: Path) -> None:
    tally, report = await run_scenario(scenario_secrets, tmp_path)
    assert tally.attempts > 0
    assert not unexpected(tally, report), unexpected(tally, report)[:10]
