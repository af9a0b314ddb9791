"""The sandbox's mutable state: tokens, consumers and their connections' setups (data scope, folders),
created objects, the GET cache, rate-limited connections, transactions, request log, stats."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections import Counter, deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from chift_mcp.sandbox.cache import GetCache
from chift_mcp.sandbox.clock import Clock
from chift_mcp.sandbox.config import SandboxConfig, connection_record
from chift_mcp.sandbox.faults import FaultSet
from chift_mcp.sandbox.scope import Setup, new_setup


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Transaction:
    """What Chift remembers of a request sent with ``X-Chift-Client-RequestId``."""

    client_request_id: str
    consumer_id: str | None
    connection_id: str | None
    method: str
    route: str
    created_on: str
    status_code: int | None = None
    created_entity_id: str | None = None
    processed: bool = False
    in_process: bool = True

    def lookup(self) -> dict[str, Any]:
        """The ``ApiTransactionLookupOut`` answer."""
        return {
            "created_on": self.created_on,
            "method": self.method,
            "route": self.route,
            "status_code": self.status_code if self.status_code is not None else 102,
            "created_entity_id": self.created_entity_id,
        }


class SandboxState:
    """Everything a test may inspect or script. ``reset()`` returns to the configured start."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.faults = FaultSet()
        self.clock = Clock()
        self.cache = GetCache(config.cache_size, config.cache_ttl, self.clock.now)
        self._signing_key = secrets.token_bytes(32)
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.epoch = 0
        self.reset()

    # -- lifecycle ----------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the configured consumers; clears created objects, faults, log, stats and transactions.

        Issued tokens stay valid (a client in the middle of a run keeps working) but the token counter
        restarts at zero.
        """
        self.consumers: dict[str, dict[str, Any]] = {}
        self.connections: dict[str, list[dict[str, Any]]] = {}
        self.setups: dict[str, Setup] = {}  # by connection id
        self.limited_until: dict[str, tuple[float, str]] = {}  # connection id -> (reset, message)
        for consumer in self.config.consumers:
            self.consumers[consumer.consumer_id] = {
                "consumerid": consumer.consumer_id,
                "name": consumer.name,
                "email": consumer.email,
                "created_on": "2024-01-15T09:30:00Z",
                "internal_reference": consumer.internal_reference,
                "redirect_url": None,
                "account": None,
            }
            self.connections[consumer.consumer_id] = []
            for conn in consumer.connections:
                self.add_connection(
                    consumer.consumer_id, connection_record(consumer.consumer_id, conn), conn.folders
                )
        self.created: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.overrides: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.transactions: dict[str, Transaction] = {}
        self.log: deque[dict[str, Any]] = deque(maxlen=self.config.max_log)
        self.requests = 0
        self.by_status: Counter[str] = Counter()
        self.by_operation: Counter[str] = Counter()
        self.processed_writes: Counter[str] = Counter()
        self.created_counts: Counter[str] = Counter()
        self.replays_rejected = 0
        self.tokens_issued = 0
        self.faults.clear()
        self.faults.applied = 0
        self.cache.clear()
        self.cache.ttl = self.config.cache_ttl
        self.epoch += 1  # requests still in flight from before the reset are not logged

    # -- clock and tokens ---------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox's clock forward (token expiry; on a held clock, the end of latency sleeps)."""
        self.clock.advance(seconds)

    def issue_token(self, subject: str) -> dict[str, Any]:
        now = self.now()
        expires_on = int(now) + self.config.token_lifetime
        header = _b64({"alg": "HS256", "typ": "JWT"})
        payload = _b64({"sub": subject, "iat": int(now), "exp": expires_on, "jti": secrets.token_hex(8)})
        signature = hmac.new(self._signing_key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        token = f"{header}.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
        self.tokens[token] = expires_on
        self.tokens_issued += 1
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.config.token_lifetime,
            "expires_on": expires_on,
        }

    def token_problem(self, authorization: str | None) -> str | None:
        """Why this Authorization header is refused, or None when it carries a valid token."""
        if not authorization:
            return "Not authenticated: an Authorization: Bearer <token> header is required"
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "Invalid authentication scheme: use Authorization: Bearer <token>"
        expires_on = self.tokens.get(token.strip())
        if expires_on is None:
            return "Invalid token"
        if self.now() >= expires_on:
            return "The token has expired"
        return None

    def revoke_tokens(self) -> int:
        count = len(self.tokens)
        self.tokens.clear()
        return count

    # -- resources ----------------------------------------------------------------------------------

    def add_connection(self, consumer_id: str, record: dict[str, Any], folders: tuple[Any, ...] = ()) -> None:
        """Add a connection to a consumer, with its setup (data scope, folders)."""
        existing = self.connections.setdefault(consumer_id, [])
        first = not any(c["api"] == record["api"] for c in existing)
        existing.append(record)
        self.setups[record["connectionid"]] = new_setup(self.consumers[consumer_id], record, folders, first)

    # -- reporting ----------------------------------------------------------------------------------

    def record(self, entry: dict[str, Any], epoch: int | None = None) -> None:
        """Log a finished request, unless it started before the last reset."""
        if epoch is not None and epoch != self.epoch:
            return
        self.log.append(entry)
        self.requests += 1
        self.by_status[str(entry["status"])] += 1
        if entry.get("operation_id"):
            self.by_operation[entry["operation_id"]] += 1

    def stats(self) -> dict[str, Any]:
        now = self.now()
        return {
            "tokens_issued": self.tokens_issued,
            "tokens_active": sum(1 for exp in self.tokens.values() if exp > now),
            "requests": self.requests,
            "by_status": dict(self.by_status),
            "by_operation": dict(self.by_operation),
            "processed_writes": dict(self.processed_writes),
            "created": dict(self.created_counts),
            "faults_applied": self.faults.applied,
            "faults_pending": len(self.faults),
            "replays_rejected": self.replays_rejected,
            "cache_hits": self.cache.hits,
            "cache_entries": len(self.cache),
            "transactions": len(self.transactions),
        }

    def transactions_json(self) -> list[dict[str, Any]]:
        return [asdict(t) for t in self.transactions.values()]


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
