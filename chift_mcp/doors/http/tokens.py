"""Who may use the HTTP door, and what each caller's grant narrows.

Two ways to configure bearer tokens (both may be used at once):

- ``CHIFT_MCP_TOKEN``: one token with the server's own scope (its grant narrows nothing);
- ``CHIFT_MCP_TOKENS_FILE``: a JSON list of ``{"name", "token_sha256", "consumer_id"?,
  "function_config"?, "read_only"?, "tool_mode"?, "rate_limit"?}`` (``rate_limit``: tool calls per minute). Only SHA-256 hashes are stored; ``chift-mcp token new`` prints
  a fresh token once and the entry to paste.

:class:`TokenTable` keeps the hashes (never the tokens) and answers ``verify(token)`` with the
caller's :class:`Grant` or None, comparing with every entry in constant time. A grant only narrows the
server's access (``Access.narrowed``): a consumer, a function config, read-only. Its ``tool_mode``
presents the same operations another way (tools, discovery or code) and widens nothing.

Pass-through mode (``--auth chift``) is the other door: the bearer is the caller's own Chift access
token, forwarded upstream by the client's :class:`~chift_mcp.chift.auth.PassThroughAuth`, which reads
it from :data:`~chift_mcp.chift.auth.CALLER_TOKEN`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chift_mcp.errors import ConfigError
from chift_mcp.tools.access.rules import TOOL_MODES, parse_function_config

TOKEN_PREFIX = "cmcp_"
MIN_TOKEN_LENGTH = 24
CONSUMER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ENTRY_KEYS = frozenset(
    {"name", "token_sha256", "consumer_id", "function_config", "read_only", "tool_mode", "rate_limit"}
)

FunctionConfig = tuple[tuple[str, frozenset[str]], ...]


@dataclass(frozen=True)
class Grant:
    """What one caller may do, on top of the server's scope: it can only narrow it."""

    name: str
    consumer_id: str | None = None
    function_config: FunctionConfig | None = None
    read_only: bool = False
    tool_mode: str | None = None  # how this caller sees the same tools: tools, discovery or code
    rate_limit: int | None = None  # tool calls per minute; None: the server's CHIFT_MCP_RATE_LIMIT

    @property
    def kinds(self) -> dict[str, frozenset[str]] | None:
        return dict(self.function_config) if self.function_config is not None else None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def fingerprint(token: str) -> str:
    """A short, non-reversible name for a token (to tell callers apart in logs and sessions)."""
    return hash_token(token)[:12]


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def valid_consumer_id(value: str) -> bool:
    return bool(CONSUMER_ID.match(value))


class TokenTable:
    """The configured tokens, as SHA-256 digests, each with its grant."""

    def __init__(self, entries: list[tuple[str, Grant]]) -> None:
        names = [grant.name for _, grant in entries]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise ConfigError(f"CHIFT_MCP_TOKENS_FILE: the name {duplicate!r} is used by two tokens")
        digests = [digest for digest, _ in entries]
        if len(set(digests)) != len(digests):
            raise ConfigError("CHIFT_MCP_TOKENS_FILE: two entries have the same token_sha256")
        self._entries = [(bytes.fromhex(digest), grant) for digest, grant in entries]

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def grants(self) -> list[Grant]:
        return [grant for _, grant in self._entries]

    def verify(self, token: str) -> Grant | None:
        """The grant of ``token``, or None. Every entry is compared, in constant time each."""
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        found: Grant | None = None
        for expected, grant in self._entries:
            if hmac.compare_digest(digest, expected):
                found = grant
        return found

    @classmethod
    def from_settings(cls, settings: Any) -> TokenTable:
        """Tokens from ``CHIFT_MCP_TOKEN`` and ``CHIFT_MCP_TOKENS_FILE`` (either, both or none)."""
        entries: list[tuple[str, Grant]] = []
        secret = settings.mcp_token.get_secret_value() if settings.mcp_token else ""
        if secret:
            if len(secret) < MIN_TOKEN_LENGTH:
                raise ConfigError(
                    f"CHIFT_MCP_TOKEN is too short: use at least {MIN_TOKEN_LENGTH} random characters "
                    "(`chift-mcp token new --name default` makes one)"
                )
            entries.append((hash_token(secret), Grant("default")))
        if settings.mcp_tokens_file:
            entries.extend(load_tokens_file(settings.mcp_tokens_file))
        return cls(entries)


def load_tokens_file(path: str | Path) -> list[tuple[str, Grant]]:
    """Read and validate a tokens file; a ConfigError names the entry and the problem."""
    where = f"CHIFT_MCP_TOKENS_FILE ({path})"
    try:
        data = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise ConfigError(f'{where} must be a JSON list of {{"name", "token_sha256", ...}} entries')
    return [parse_entry(item, f"{where}, entry {i + 1}") for i, item in enumerate(data)]


def parse_entry(item: Any, where: str = "token entry") -> tuple[str, Grant]:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where} must be a JSON object")
    if "token" in item:
        raise ConfigError(
            f"{where} holds a plain token: store token_sha256 (its SHA-256 hex), never the token"
        )
    unknown = sorted(set(item) - _ENTRY_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; keys: {', '.join(sorted(_ENTRY_KEYS))}")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: name must be a non-empty string")
    digest = item.get("token_sha256")
    if not isinstance(digest, str) or not _HEX64.match(digest.lower()):
        raise ConfigError(f"{where} ({name}): token_sha256 must be 64 hexadecimal characters")
    consumer = item.get("consumer_id")
    if consumer is not None and (not isinstance(consumer, str) or not valid_consumer_id(consumer)):
        raise ConfigError(f"{where} ({name}): consumer_id must be a Chift consumer id")
    read_only = item.get("read_only", False)
    if not isinstance(read_only, bool):
        raise ConfigError(f"{where} ({name}): read_only must be true or false")
    config: FunctionConfig | None = None
    raw_config = item.get("function_config")
    if raw_config is not None:
        if not isinstance(raw_config, Mapping):
            raise ConfigError(f"{where} ({name}): function_config must be a JSON object")
        try:
            parsed = parse_function_config(raw_config)
        except ConfigError as exc:
            raise ConfigError(f"{where} ({name}): {exc}") from None
        config = tuple(sorted(parsed.items()))
    mode = item.get("tool_mode")
    if mode is not None and mode not in TOOL_MODES:
        raise ConfigError(f"{where} ({name}): tool_mode must be one of {', '.join(TOOL_MODES)}")
    rate_limit = item.get("rate_limit")
    if rate_limit is not None and (type(rate_limit) is not int or rate_limit < 1):
        raise ConfigError(
            f"{where} ({name}): rate_limit must be a whole number of tool calls per minute, 1 or more"
        )
    return digest.lower(), Grant(name.strip(), consumer, config, read_only, mode, rate_limit)


def token_entry(
    name: str,
    token: str,
    *,
    consumer_id: str | None = None,
    read_only: bool = False,
    function_config: str | None = None,
    rate_limit: int | None = None,
) -> dict[str, Any]:
    """The tokens-file entry for ``token`` (validated the way the server will read it)."""
    entry: dict[str, Any] = {"name": name, "token_sha256": hash_token(token)}
    if consumer_id:
        entry["consumer_id"] = consumer_id
    if function_config:
        try:
            entry["function_config"] = json.loads(function_config)
        except ValueError as exc:
            raise ConfigError(f"--function-config is not valid JSON: {exc}") from None
    if read_only:
        entry["read_only"] = True
    if rate_limit is not None:
        entry["rate_limit"] = rate_limit
    parse_entry(entry, "the new entry")
    return entry
