"""Settings, read once at the edge (``cli.main``) and passed down.

Every field maps to an environment variable ``CHIFT_<NAME>`` (also read from ``.env``). The names of
the official Chift MCP server are kept so that this server is a drop-in replacement.
"""

from __future__ import annotations

__all__ = ["SANDBOX_ACCOUNT_ID", "SANDBOX_CLIENT_ID", "SANDBOX_CLIENT_SECRET", "Settings", "settings_table"]

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The sandbox's demo credentials; ``--sandbox`` fills them in.
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"  # a public demo value, not a secret
SANDBOX_ACCOUNT_ID = "00000000-0000-4000-a000-00000000acc7"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CHIFT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    client_id: str | None = Field(None, description="Chift client id (API key pair).")
    client_secret: SecretStr | None = Field(None, description="Chift client secret.")
    account_id: str | None = Field(None, description="Chift account id.")
    consumer_id: str | None = Field(
        None,
        description="Bind the server to one consumer: hides consumer_id and narrows tools to its connections.",
    )
    url_base: str = Field("https://api.chift.eu", description="Chift API base URL.")
    marketplace_id: str | None = Field(None, description="Marketplace id, for marketplace accounts.")
    env_id: str | None = Field(None, description="Environment id, for accounts with several environments.")
    function_config: str | None = Field(
        None,
        description='Which tools exist: JSON like {"accounting": ["get", "create"]} or a path to a JSON file.',
    )
    read_only: bool = Field(False, description="Expose only tools that read (kind get).")
    tool_mode: Literal["tools", "discovery", "code"] = Field(
        "tools",
        description=(
            "tools: one tool per endpoint; discovery: find/describe/call operations (~1k tokens); "
            "code: find/describe operations and execute Python programs that call them (the [code] extra)."
        ),
    )
    tools: str | None = Field(
        None, description="Comma-separated allow-list of tool names (after the function config)."
    )
    exclude_tools: str | None = Field(None, description="Comma-separated tool names to leave out.")
    openapi: str | None = Field(
        None, description="File path or URL of an OpenAPI spec overriding the bundled one."
    )
    server_name: str = Field(
        "chift", min_length=1, description="The server's name in the MCP handshake (serverInfo.name)."
    )
    proxy_url: str | None = Field(
        None,
        description=(
            "The official server's hosted docs search; not used here: SearchChift searches a local index "
            "(CHIFT_SEARCH), and setting this says so at start-up."
        ),
    )
    search: bool = Field(False, description="Add the SearchChift docs search tool (the [search] extra).")
    search_index: str | None = Field(
        None,
        description="Docs search index: a directory or an object-store URI (s3://…); default ~/.cache/chift-mcp/search.",
    )
    search_source: str = Field(
        "https://docs.chift.eu/llms-full.txt",
        description="llms-full.txt path or URL the docs index is built from when it is missing.",
    )
    search_model: str = Field(
        "google/universal-sentence-encoder-multilingual-3",
        description=(
            "Embedding model for docs search: the default (USE multilingual, in the [search] extra), "
            "or a sentence-transformers name or local directory (needs sentence-transformers)."
        ),
    )

    timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds to wait for a Chift response (Chift retries a connector's rate limit ~31 s before it answers).",
    )
    connect_timeout: float = Field(10.0, gt=0, description="Seconds to wait for a connection to Chift.")
    max_retries: int = Field(
        3,
        ge=0,
        le=10,
        description="Retries on 502/503/504, connection errors and a 429 that carries Retry-After (not Chift's configuration errors).",
    )
    retry_budget: float = Field(
        30.0, ge=0, description="Total seconds a call may spend waiting between retries."
    )
    max_items: int = Field(1000, ge=1, description="Upper bound for a list tool's limit.")
    max_result_chars: int = Field(
        40_000,
        ge=1000,
        description="Results longer than this (JSON characters, ~13k tokens) are cut at an item boundary.",
    )
    cache_window: float = Field(
        300.0,
        ge=0,
        description="Seconds after a write during which reads of that consumer ask Chift to bypass its GET cache (Chift caches up to 5 min).",
    )
    connections_ttl: float = Field(
        300.0, ge=0, description="Seconds to cache a bound consumer's connections."
    )

    # Code mode (`execute`): the limits of one program run.
    code_timeout: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Code mode: seconds one program may run, its operation calls included.",
    )
    code_max_memory: int = Field(
        128 * 1024 * 1024, ge=1024 * 1024, description="Code mode: bytes of heap one program may use."
    )
    code_max_recursion: int = Field(
        200, ge=10, le=1000, description="Code mode: deepest call stack of a program."
    )
    code_max_calls: int = Field(200, ge=1, description="Code mode: operation calls one program may make.")
    code_max_result_chars: int = Field(
        1_000_000,
        ge=1000,
        description=(
            "Code mode: largest value (JSON characters) or printed output a program may hand back, and "
            "largest arguments of one operation call it makes; measured while converted, never expanded "
            "past it. What the model reads is then cut at CHIFT_MAX_RESULT_CHARS like any result."
        ),
    )
    code_workers: int = Field(
        4,
        ge=1,
        le=64,
        description="Code mode: worker processes, so programs that run at once (each may use CHIFT_CODE_MAX_MEMORY).",
    )
    code_max_programs_per_caller: int = Field(
        2,
        ge=1,
        description=(
            "Code mode: programs one caller (an HTTP token) may run at once; never more than "
            "CHIFT_CODE_WORKERS - 1, so one caller always leaves a worker to the others. No share over "
            "stdio or HTTP without authentication (one caller): only the pool limits them."
        ),
    )
    code_queue_timeout: float = Field(
        5.0,
        ge=0,
        le=60,
        description=(
            "Code mode: seconds a program may wait for a worker (or its caller's turn) before a BUSY "
            "error; the wait is not counted in CHIFT_CODE_TIMEOUT."
        ),
    )

    # The HTTP door (`chift-mcp http`).
    mcp_token: SecretStr | None = Field(
        None, description="HTTP: a bearer token (24+ random characters) with the server's own scope."
    )
    mcp_tokens_file: str | None = Field(
        None,
        description="HTTP: JSON list of token entries (name, token_sha256, consumer_id, function_config, read_only, tool_mode, rate_limit).",
    )
    http_allowed_origins: str | None = Field(
        None,
        description="HTTP: comma-separated browser origins allowed (http://host:* for any port); loopback is allowed on loopback binds.",
    )
    http_allowed_hosts: str | None = Field(
        None,
        description="HTTP: comma-separated Host values served (DNS rebinding protection); unchecked on non-loopback binds when unset.",
    )
    http_max_body: int = Field(
        1_048_576, ge=1024, description="HTTP: largest request body in bytes (413 above)."
    )
    http_request_timeout: float = Field(
        120.0, gt=0, description="HTTP: seconds a request may take before it is cut off (504)."
    )

    http_drain_timeout: float = Field(
        10.0,
        gt=0,
        description="HTTP: seconds SIGTERM lets the requests in flight finish; their Chift calls end before it.",
    )
    http_max_sessions_per_token: int = Field(
        100, ge=1, description="HTTP: stateful sessions one token may hold open (429 above)."
    )
    http_session_idle_timeout: float = Field(
        1800.0, gt=0, description="HTTP: seconds a stateful session may stay idle before it is closed."
    )
    http_unused_session_ttl: float = Field(
        60.0, gt=0, description="HTTP: seconds a session opened but never used stays open."
    )
    http_max_connections: int = Field(
        1000,
        ge=16,
        description="HTTP: open connections at most (kept under the file descriptor limit); past it the oldest half-sent request head is dropped.",
    )
    http_head_timeout: float = Field(
        10.0, gt=0, description="HTTP: seconds a client has to send a request's head (408 and closed after)."
    )
    http_max_head_bytes: int = Field(
        65_536,
        ge=4096,
        description="HTTP: largest request head (request line and headers) in bytes (431 above).",
    )
    http_consumer_lookups: int = Field(
        20,
        ge=1,
        description="HTTP: consumers per minute one token may have looked up (their connections); others get the configured domains.",
    )
    http_consumer_lookups_in_flight: int = Field(
        4, ge=1, description="HTTP: consumers' connection lookups running at once, all callers together."
    )
    http_consumers_refresh: float = Field(
        30.0,
        ge=0,
        description="HTTP: least seconds between two fetches of the account's consumers (an unknown X-Chift-Consumer-Id is checked against them).",
    )

    # The doors' limits (stdio and HTTP).
    mcp_rate_limit: int | None = Field(
        None,
        ge=1,
        description="HTTP: tool calls per minute for each token without its own rate_limit (unset: no limit).",
    )
    rate_limit_storage: str | None = Field(
        None,
        description="HTTP: where rate limits are counted: redis://host:port[/db] shares them between replicas; in memory when unset.",
    )
    upstream_concurrency: int = Field(
        8, ge=1, description="Most Chift requests in flight at once per consumer, per process (others wait)."
    )
    stdio_max_message: int = Field(
        4_194_304,
        ge=1024,
        description="stdio: largest JSON-RPC message in bytes (a longer line is answered with an error, not read).",
    )

    def tool_names(self, which: Literal["tools", "exclude_tools"]) -> list[str]:
        raw = getattr(self, which) or ""
        return [name.strip() for name in raw.split(",") if name.strip()]

    def missing_credentials(self) -> list[str]:
        return [
            f"CHIFT_{name.upper()}"
            for name in ("client_id", "client_secret", "account_id")
            if not getattr(self, name)
        ]

    def for_sandbox(self, url_base: str) -> Settings:
        """A copy pointed at the sandbox with its demo credentials."""
        return self.model_copy(
            update={
                "client_id": SANDBOX_CLIENT_ID,
                "client_secret": SecretStr(SANDBOX_CLIENT_SECRET),
                "account_id": SANDBOX_ACCOUNT_ID,
                "url_base": url_base,
            }
        )


def settings_table() -> str:
    """The README's configuration table, generated from the fields above (a test keeps them equal)."""
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = (
            "—"
            if default in (None, "")
            else f"`{str(default).lower() if isinstance(default, bool) else default}`"
        )
        rows.append(f"| `CHIFT_{name.upper()}` | {shown} | {field.description} |")
    return "\n".join(rows)
