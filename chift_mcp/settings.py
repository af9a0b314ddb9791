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

    timeout: float = Field(30.0, gt=0, description="Seconds to wait for a Chift response.")
    connect_timeout: float = Field(10.0, gt=0, description="Seconds to wait for a connection to Chift.")
    max_retries: int = Field(3, ge=0, le=10, description="Retries on 429/502/503/504 and connection errors.")
    retry_budget: float = Field(
        30.0, ge=0, description="Total seconds a call may spend waiting between retries."
    )
    max_items: int = Field(1000, ge=1, description="Upper bound for a list tool's limit.")
    max_result_chars: int = Field(
        40_000,
        ge=1000,
        description="Results longer than this (JSON characters, ~13k tokens) are cut at an item boundary.",
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
            "Code mode: largest value (JSON characters) or printed output a program may hand back; "
            "what the model reads is then cut at CHIFT_MAX_RESULT_CHARS like any result."
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
