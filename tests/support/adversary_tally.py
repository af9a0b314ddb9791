"""Counting the adversarial attempts (:class:`Tally`), one attempt that must be refused with nothing
sent (:func:`attempt`), the spellings of a secret looked for in answers and logs, and :func:`harness`:
the sandbox, the sniffing proxy and the main server with the adversarial tokens, for one scenario."""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx2

from chift_mcp.doors.http.tokens import hash_token
from chift_mcp.settings import SANDBOX_CLIENT_SECRET
from support.adversary import (
    DEMO,
    ROOT,
    Admin,
    Mcp,
    Proc,
    Reply,
    SniffingProxy,
    log,
    sandbox_proc,
    server_proc,
)

# --------------------------------------------------------------------------- counting


@dataclass
class Tally:
    key: str
    title: str
    attempts: int = 0
    expected: int = 0
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0  # refused calls that nevertheless reached the sandbox
    duplicates: int | None = None
    leaks: int | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)

    def record(self, case: str, ok: bool, why: str = "", **detail: Any) -> bool:
        self.attempts += 1
        if ok:
            self.expected += 1
        else:
            self.unexpected.append({"case": case, "why": why, **detail})
        return ok

    def fail(self, case: str, why: str, **detail: Any) -> None:
        """Something wrong that is not one of the attempts (a control, a total)."""
        self.unexpected.append({"case": case, "why": why, **detail})

    def row(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "as_expected": self.expected,
            "unexpected": len(self.unexpected),
            "refused_but_sent": self.sent,
            "duplicates": self.duplicates,
            "leaks": self.leaks,
        }


def short(reply: Reply) -> str:
    if reply.message is not None:
        return json.dumps(reply.error or reply.payload)[:300]
    return (reply.transport or reply.text)[:300]


@dataclass
class Ctx:
    args: argparse.Namespace
    logs: Path
    http: httpx2.AsyncClient
    admin: Admin
    proxy: SniffingProxy
    tokens: dict[str, str]  # name -> bearer
    main: Proc
    proxy_url: str
    procs: list[Proc] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # label -> secret, looked for in every stderr
    rng: random.Random = field(default_factory=random.Random)

    def mcp(self, token: str | None, headers: dict[str, str] | None = None, proc: Proc | None = None) -> Mcp:
        return Mcp(self.http, (proc or self.main).url + "/mcp", token, headers)


async def attempt(
    ctx: Ctx,
    tally: Tally,
    case: str,
    send: Callable[[], Awaitable[Reply]],
    expect: Iterable[str],
    *,
    field_name: str | None = None,
    check: Callable[[Reply], str | None] | None = None,
) -> Reply:
    """One refusal: ``send()`` must answer one of ``expect`` (kinds, ``rpc:*`` for any JSON-RPC error)
    and nothing may reach the sandbox meanwhile."""
    mark = await ctx.admin.mark()
    reply = await send()
    sent = await ctx.admin.since(mark)
    kinds = set(expect)
    kind = reply.kind
    why = reply.sane()
    if why is None and not (kind in kinds or ("rpc:*" in kinds and kind.startswith("rpc:"))):
        why = f"answered {kind}, expected {' or '.join(sorted(kinds))}"
    named = reply.payload.get("field")
    if why is None and field_name is not None and kind == "tool:INVALID_ARGUMENTS" and named != field_name:
        why = f"field {named!r}, expected {field_name!r}"
    if why is None and check is not None:
        why = check(reply)
    if sent:
        tally.sent += 1
        why = why or f"{len(sent)} request(s) reached the sandbox: " + ", ".join(
            f"{e['method']} {e['path']}" for e in sent[:3]
        )
    tally.record(case, why is None, why or "", answer=short(reply))
    if ctx.args.verbose:
        log(f"  {'ok ' if why is None else 'BAD'} {tally.key} {case}: {kind}")
    return reply


# --------------------------------------------------------------------------- 3. secrets


def spellings(secret: str) -> dict[str, str]:
    """The ways an upstream answer might spell ``secret``: written here, not taken from the scrubber."""
    json_plain = json.dumps(secret, ensure_ascii=False)[1:-1]
    json_ascii = json.dumps(secret)[1:-1]
    forms = {
        "plain": secret,
        "JSON-escaped": json_plain,
        "JSON-escaped, ASCII": json_ascii,
        "JSON-escaped, slashes": json_ascii.replace("/", "\\/"),
        "URL-encoded": quote(secret, safe=""),
        "URL-encoded, path": quote(secret),
        "form-encoded": quote_plus(secret),
        "upper-cased": secret.upper(),
        "URL-encoded, upper-cased": quote(secret, safe="").upper(),
        "Python repr": repr(secret)[1:-1],
    }
    out: dict[str, str] = {}
    for label, form in forms.items():
        if form not in out.values():
            out[label] = form
    return out


ECHOED_FORMS = frozenset(
    {
        "plain",
        "JSON-escaped",
        "JSON-escaped, ASCII",
        "JSON-escaped, slashes",
        "URL-encoded",
        "URL-encoded, path",
        "form-encoded",
        "upper-cased",
        "URL-encoded, upper-cased",
    }
)


def echoed_spellings(secret: str) -> dict[str, str]:
    """The spellings the sandbox is scripted to echo (a Python repr is only looked for)."""
    return {k: v for k, v in spellings(secret).items() if k in ECHOED_FORMS}


def needles(secret: str) -> list[str]:
    """What to look for (case-insensitively): every spelling, and a JWT's signature on its own."""
    found = {f.lower() for f in spellings(secret).values()}
    if secret.count(".") == 2 and len(secret.rsplit(".", 1)[1]) >= 16:
        found.add(secret.rsplit(".", 1)[1].lower())
    return sorted(found)


def strings_in(value: Any) -> Iterable[str]:
    """Every string in a JSON value, JSON text inside strings decoded too (a tool result's text)."""
    if isinstance(value, str):
        yield value
        if value[:1] in "{[":
            with contextlib.suppress(ValueError):
                yield from strings_in(json.loads(value))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def leaks_in(reply: Reply, secrets_: dict[str, str]) -> list[str]:
    texts = [reply.text, *strings_in(reply.message)]
    low = [x.lower() for x in texts]
    return [label for label, s in secrets_.items() if any(n in x for n in needles(s) for x in low)]


# --------------------------------------------------------------------------- stderr


def stderr_leaks(ctx: Ctx, tally: Tally | None) -> dict[str, Any]:
    """Every secret known (client secrets, access tokens, bearers) looked for in every server's stderr."""
    found: list[dict[str, str]] = []
    tracebacks: dict[str, int] = {}
    lines = 0
    for proc in ctx.procs:
        if not proc.name.startswith("server"):
            continue
        text = proc.text()
        lines += text.count("\n")
        low = text.lower()
        for label, secret in ctx.secrets.items():
            for needle in needles(secret):
                if needle in low:
                    at = low.index(needle)
                    found.append(
                        {"log": proc.name, "secret": label, "context": text[max(0, at - 80) : at][-80:]}
                    )
                    break
        count = len(re.findall(r"Traceback \(most recent call last\)", text))
        if count:
            tracebacks[proc.name] = count
    if tally is not None:
        tally.leaks = (tally.leaks or 0) + len(found)
        for f in found:
            tally.fail(f"stderr of {f['log']}", f"{f['secret']} in the log", context=f["context"])
    return {
        "stderr lines": lines,
        "secrets looked for": len(ctx.secrets),
        "leaks": found,
        "tracebacks": tracebacks,
    }


# --------------------------------------------------------------------------- main


def token_entries(tokens: dict[str, str]) -> list[dict[str, Any]]:
    grants: dict[str, dict[str, Any]] = {
        "admin": {},
        "bound": {"consumer_id": DEMO},
        "reader": {"read_only": True},
        "disc_reader": {"read_only": True, "tool_mode": "discovery"},
        "code_reader": {"read_only": True, "tool_mode": "code"},
        "narrow": {"function_config": {"accounting": ["get"]}},
        "narrow_disc": {"function_config": {"accounting": ["get"]}, "tool_mode": "discovery"},
        "bound_disc": {"consumer_id": DEMO, "tool_mode": "discovery"},
        "bound_code": {"consumer_id": DEMO, "tool_mode": "code"},
        "coder": {"tool_mode": "code"},
        "limited": {"rate_limit": 30},
        "limited_code": {"rate_limit": 5, "tool_mode": "code", "read_only": True},
    }
    return [{"name": n, "token_sha256": hash_token(tokens[n]), **g} for n, g in grants.items()]


def print_table(tallies: list[Tally]) -> None:
    cols = ["scenario", "attempts", "as expected", "unexpected", "refused but sent", "duplicates", "leaks"]
    rows = []
    for t in tallies:
        r = t.row()
        rows.append(
            [
                f"{t.key}. {t.title}",
                str(r["attempts"]),
                str(r["as_expected"]),
                str(r["unexpected"]),
                str(r["refused_but_sent"]),
                "-" if r["duplicates"] is None else str(r["duplicates"]),
                "-" if r["leaks"] is None else str(r["leaks"]),
            ]
        )
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cols))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(v.ljust(widths[0]) if i == 0 else v.rjust(widths[i]) for i, v in enumerate(r)))
    for t in tallies:
        for note, value in t.notes.items():
            print(
                f"  {t.key}: {note}: {json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value}"
            )
        for s in t.skipped:
            print(f"  {t.key}: skipped: {s}")
        for s in t.observations:
            print(f"  {t.key}: observed: {s}")
        for bad in t.unexpected[:12]:
            print(
                f"  {t.key}: UNEXPECTED {bad['case']}: {bad['why']} -- {bad.get('answer', bad.get('context', ''))[:240]}"
            )
        if len(t.unexpected) > 12:
            print(f"  {t.key}: ... and {len(t.unexpected) - 12} more unexpected")


TOKEN_NAMES = (
    "admin",
    "bound",
    "reader",
    "disc_reader",
    "code_reader",
    "narrow",
    "narrow_disc",
    "bound_disc",
    "bound_code",
    "limited",
    "limited_code",
    "coder",
)


def options(**over: Any) -> argparse.Namespace:
    """The soak bench's options, defaults as its command line has them."""
    defaults: dict[str, Any] = {
        "calls": 2000,
        "sessions": 8,
        "request_timeout": 5.0,
        "no_kill": False,
        "no_hard_secret": False,
        "only": None,
        "json_response": False,
        "seed": 1,
        "keep": None,
        "verbose": False,
    }
    return argparse.Namespace(**{**defaults, **over})


@asynccontextmanager
async def harness(args: argparse.Namespace, logs: Path) -> AsyncIterator[Ctx]:
    """The sandbox, the sniffing proxy in front of it and ``server-main`` (the tokens of
    :func:`token_entries`, the default function config plus insights), their stderr under ``logs``.
    On the way out the access tokens the proxy saw join ``ctx.secrets`` and every process stops."""
    logs.mkdir(parents=True, exist_ok=True)
    tokens = {n: f"cmcp_{n}_" + secrets.token_urlsafe(24) for n in TOKEN_NAMES}
    tokens_file = logs / "tokens.json"
    tokens_file.write_text(json.dumps(token_entries(tokens), indent=1))
    # The default function config, plus insights (insights_query_db takes a header argument).
    config_file = logs / "function_config.json"
    config = json.loads((ROOT / "configs" / "default.json").read_text())
    config_file.write_text(json.dumps({**config, "insights": ["get"]}))
    sandbox = sandbox_proc(logs)
    procs: list[Proc] = [sandbox]
    proxy: SniffingProxy | None = None
    try:
        await sandbox.start()
        proxy = SniffingProxy(sandbox.port)
        proxy_url = await proxy.start()
        main = server_proc(
            logs,
            "server-main",
            proxy_url,
            {"CHIFT_MCP_TOKENS_FILE": str(tokens_file), "CHIFT_FUNCTION_CONFIG": str(config_file)},
            ["--json-response"] if args.json_response else [],
        )
        await main.start()
        procs.append(main)
        async with httpx2.AsyncClient(timeout=60) as http:
            ctx = Ctx(args, logs, http, Admin(sandbox.url), proxy, tokens, main, proxy_url, procs)
            ctx.secrets.update({f"MCP bearer {n}": tok for n, tok in tokens.items()})
            ctx.secrets["client secret"] = SANDBOX_CLIENT_SECRET
            try:
                yield ctx
            finally:
                for token in proxy.tokens:
                    ctx.secrets.setdefault(f"access token {token[-6:]}", token)
                await ctx.admin.aclose()
    finally:
        for proc in reversed(procs):
            proc.stop()
        if proxy is not None:
            await proxy.close()


async def run_scenario(
    scenario: Callable[[Ctx], Awaitable[Tally]], logs: Path, **over: Any
) -> tuple[Tally, dict[str, Any]]:
    """One scenario on a fresh harness: its tally (the secrets found in the servers' stderr counted
    in it) and the stderr report."""
    async with harness(options(**over), logs) as ctx:
        tally = await scenario(ctx)
    report = stderr_leaks(ctx, tally)
    return tally, report


def unexpected(tally: Tally, report: dict[str, Any]) -> list[Any]:
    """What a test asserts is empty: the unexpected attempts, the secrets in logs, the tracebacks."""
    return [*tally.unexpected, *report["leaks"], *report["tracebacks"].items()]
