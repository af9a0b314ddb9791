"""Access: which tools a caller may see and call, as a value.

An :class:`Access` holds everything that decides it — the function config (domains and kinds),
read-only, the bound consumer and its active domains, the CHIFT_TOOLS / CHIFT_EXCLUDE_TOOLS lists
and the tool mode. ``refusal(tool)`` says why a tool is out of reach (or None), ``lists(tool)``
whether ``tools/list`` shows it in this mode; ``narrowed(...)`` is the same access seen through a
narrower grant (an HTTP bearer token), never a wider one. ``key`` is what a published view depends
on: the inventory caches one view per key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from chift_mcp.errors import ConfigError
from chift_mcp.openapi.operations import DOMAINS, KIND_ALIASES, KINDS, UNIFIED_DOMAINS
from chift_mcp.tools.definition import ToolSpec

TOOL_MODES = ("tools", "discovery", "code")
ANY_CONSUMER = "*"  # Access.key's stand-in for the bound consumer
# The local tools each mode lists instead of (or besides) one tool per endpoint.
_MODE_ORIGINS = {
    "tools": frozenset({"endpoint"}),
    "discovery": frozenset({"discovery"}),
    "code": frozenset({"code"}),
}
FunctionConfig = tuple[tuple[str, frozenset[str]], ...]


DEFAULT_FUNCTION_CONFIG: dict[str, tuple[str, ...]] = {
    **{domain: KINDS for domain in UNIFIED_DOMAINS},
    "consumers": ("get",),
    "connections": ("get",),
}


# Domains of the official server's default function config with no operation in the spec.
OFFICIAL_ONLY_DOMAINS = frozenset({"custom"})

logger = logging.getLogger(__name__)


def parse_function_config(raw: str | Mapping[str, Any] | None) -> dict[str, frozenset[str]]:
    """Parse and validate a function config: JSON text, a path to a JSON file, or a mapping."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {d: frozenset(k) for d, k in DEFAULT_FUNCTION_CONFIG.items()}
    data: Any = raw
    if isinstance(raw, str):
        text = raw.strip()
        if not text.startswith("{"):
            path = Path(text).expanduser()
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"CHIFT_FUNCTION_CONFIG is neither JSON nor a readable file: {path} ({exc.strerror})"
                ) from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"CHIFT_FUNCTION_CONFIG is not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError('CHIFT_FUNCTION_CONFIG must be a JSON object like {"accounting": ["get"]}')
    config: dict[str, frozenset[str]] = {}
    for domain, kinds in data.items():
        domain = "ecommerce" if domain == "commerce" else domain
        if domain in OFFICIAL_ONLY_DOMAINS:
            # The official server's default config names it; the spec has no operation in it. Be
            # liberal: a config copied from the official server's README starts here too.
            logger.warning("CHIFT_FUNCTION_CONFIG: %r has no operations in Chift's spec; ignored", domain)
            continue
        if domain not in DOMAINS:
            raise ConfigError(
                f"CHIFT_FUNCTION_CONFIG: unknown domain {domain!r}; valid domains: {', '.join(DOMAINS)}"
            )
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise ConfigError(f"CHIFT_FUNCTION_CONFIG: {domain!r} must map to a list of kinds")
        normalized = set()
        for kind in kinds:
            kind = KIND_ALIASES.get(kind, kind)
            if kind not in KINDS:
                raise ConfigError(
                    f"CHIFT_FUNCTION_CONFIG: unknown kind {kind!r} for {domain!r}; "
                    f"valid kinds: {', '.join(KINDS)} (add = create)"
                )
            normalized.add(kind)
        config[domain] = frozenset(normalized)
    return config


# --------------------------------------------------------------------------- access


@dataclass(frozen=True)
class Access:
    """Which tools exist for a caller.

    ``active_domains`` is the bound consumer's active unified domains, or None when unknown (not
    bound, or the connections could not be fetched): then the function config alone decides.
    ``include``/``exclude`` are explicit tool-name lists (CHIFT_TOOLS, CHIFT_EXCLUDE_TOOLS).
    ``mode`` is ``tools`` (one tool per endpoint), ``discovery`` (find/describe/call) or ``code``
    (find/describe/execute).
    """

    function_config: FunctionConfig  # domain -> kinds allowed (CHIFT_FUNCTION_CONFIG, or a grant's)
    read_only: bool = False  # only kind "get" (CHIFT_READ_ONLY, or a read-only grant)
    consumer_id: str | None = None  # the bound consumer: injected into calls, erased from schemas
    # the bound consumer's connected domains, if known
    active_domains: frozenset[str] | None = field(default=None)
    include: frozenset[str] | None = None  # only these tool names (CHIFT_TOOLS), or all
    exclude: frozenset[str] = frozenset()  # never these tool names (CHIFT_EXCLUDE_TOOLS)
    mode: str = "tools"  # tools, discovery or code: which tools are listed
    # Unified domains in which the bound consumer has several active connections: their tools take
    # connection_id (Chift needs X-Chift-Connectionid to tell them apart).
    shared_domains: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        function_config: Mapping[str, frozenset[str]],
        *,
        read_only: bool = False,
        consumer_id: str | None = None,
        active_domains: frozenset[str] | None = None,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        mode: str = "tools",
        shared_domains: Iterable[str] = (),
    ) -> Access:
        return cls(
            tuple(sorted(function_config.items())),
            read_only,
            consumer_id,
            active_domains,
            frozenset(include) if include is not None else None,
            frozenset(exclude),
            mode,
            frozenset(shared_domains),
        )

    def with_mode(self, mode: str) -> Access:
        return self if mode == self.mode else replace(self, mode=mode)

    @property
    def key(self) -> Access:
        """What a published view depends on: this access with the bound consumer's identity erased
        (whether a consumer is bound matters, which one does not). Views are cached on it, so callers
        bound to many consumers (an HTTP header each) share one entry instead of growing the cache."""
        if self.consumer_id in (None, ANY_CONSUMER):
            return self
        return replace(self, consumer_id=ANY_CONSUMER)

    def narrowed(
        self,
        *,
        function_config: Mapping[str, Iterable[str]] | None = None,
        read_only: bool = False,
        consumer_id: str | None = None,
        mode: str | None = None,
    ) -> Access:
        """This access as seen by a caller with a narrower grant (an HTTP bearer token); never wider.

        ``function_config`` intersects the kinds of each domain (a domain it leaves out is off);
        ``read_only`` can only turn read-only on; ``consumer_id`` binds an unbound access to one
        consumer (whose active domains are then unknown) and must equal a bound access's consumer;
        ``mode`` picks how the same tools are presented (it neither adds nor removes an operation).
        """
        if consumer_id is not None and self.consumer_id not in (None, consumer_id):
            raise ValueError("an access bound to one consumer cannot be narrowed to another")
        changes: dict[str, Any] = {}
        if function_config is not None:
            kept = ((d, k & frozenset(function_config.get(d, ()))) for d, k in self.function_config)
            changes["function_config"] = tuple((d, k) for d, k in kept if k)
        if read_only and not self.read_only:
            changes["read_only"] = True
        if consumer_id is not None and self.consumer_id is None:
            changes.update(consumer_id=consumer_id, active_domains=None, shared_domains=frozenset())
        if mode is not None and mode != self.mode:
            changes["mode"] = mode
        return replace(self, **changes) if changes else self

    @property
    def kinds(self) -> dict[str, frozenset[str]]:
        return dict(self.function_config)

    def lists(self, tool: ToolSpec) -> bool:
        """Whether ``tools/list`` shows ``tool`` (when it is allowed) in this access's mode. The docs
        search is listed in every mode; endpoint tools only in tools mode (the other modes reach them
        through their own tools)."""
        return tool.origin == "search" or tool.origin in _MODE_ORIGINS.get(self.mode, frozenset())

    def refusal(self, tool: ToolSpec) -> str | None:
        """Why ``tool`` is out of this caller's reach, or None when they may call it. Endpoint tools
        may be called in every mode (discovery and code mode call them by name)."""
        if tool.origin in ("discovery", "code"):
            if tool.origin != self.mode:
                return f"it belongs to {tool.origin} mode and this server is in {self.mode} mode"
            return None
        if tool.name in self.exclude:
            return "it is excluded by CHIFT_EXCLUDE_TOOLS"
        if self.include is not None and tool.name not in self.include:
            return "it is not in CHIFT_TOOLS"
        if tool.origin == "search":  # present because settings asked for it
            return None
        kinds = self.kinds.get(tool.domain)
        if not kinds:
            return f"the {tool.domain} domain is not enabled in the function config"
        if tool.kind not in kinds:
            return f"{tool.kind} tools of {tool.domain} are not enabled in the function config"
        if self.read_only and tool.kind != "get":
            return "this server is read-only"
        if self.consumer_id and not tool.consumer_scoped:
            return "this server is bound to one consumer; account-level tools are off"
        if (
            self.active_domains is not None
            and tool.domain in UNIFIED_DOMAINS
            and tool.domain not in self.active_domains
        ):
            return f"the consumer has no active {tool.domain} connection"
        return None

    def allows(self, tool: ToolSpec) -> bool:
        return self.refusal(tool) is None
