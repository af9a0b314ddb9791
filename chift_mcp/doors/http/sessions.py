"""Stateful sessions per caller: no token can fill the server's session table or keep others out.

:class:`SessionQuota` sits between :class:`~chift_mcp.doors.http.guard.McpDoor` (which left the caller
in the scope) and the SDK's session manager, and sees every request to the MCP endpoint:

- a request that opens a session (a POST without ``Mcp-Session-Id``) is counted by the caller's rate
  limit, under a key of its own (the same number per minute as its tool calls, which it does not use
  up), and refused with 429 and ``Retry-After`` over it;
- a caller may hold at most ``per_token`` open sessions (``CHIFT_HTTP_MAX_SESSIONS_PER_TOKEN``; the ones
  being opened count): the next opening request is refused with 429 until one is closed (``DELETE``)
  or expires;
- a session that was opened but never used (no request answered 200 after the one that opened it: the
  ``notifications/initialized`` a client sends is answered 202) expires ``unused_ttl`` seconds after its
  last request (``CHIFT_HTTP_UNUSED_SESSION_TTL``) instead of the SDK's idle timeout
  (``CHIFT_HTTP_SESSION_IDLE_TIMEOUT``). The SDK's own idle timer is moved earlier for it: the SDK still
  closes it, the same way as an idle one.

Sessions are known by the ``Mcp-Session-Id`` the SDK answers with; a session the SDK has closed
(idle, ``DELETE``, crash) is forgotten the next time its caller opens one, and by a sweep of every
caller's once the sessions remembered have doubled since the last sweep (at least ``SWEEP_FLOOR``):
with ``--auth chift`` each Chift token (30 minutes' lifetime) is a caller of its own that never comes
back, so the table stays within twice the sessions open, amortised O(1) per session opened.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.responses import JSONResponse

from chift_mcp.doors.http.guard import CALLER_KEY
from chift_mcp.doors.http.lifecycle import LOG_KEY
from chift_mcp.tools.access import Caller

logger = logging.getLogger("chift_mcp.http")

SESSION_HEADER = b"mcp-session-id"
SWEEP_FLOOR = 64  # sessions remembered before the first sweep
Admit = Callable[[str, int | None], Awaitable[int | None]]  # (key, per minute) -> retry after, or None


@dataclass
class _Session:
    owner: str
    used: bool = False


class SessionQuota:
    """ASGI, in front of the SDK's session manager (see the module docstring)."""

    def __init__(
        self,
        app: Any,
        *,
        instances: Callable[[], dict[str, Any]],
        per_token: int,
        unused_ttl: float,
        admit: Admit | None = None,
    ) -> None:
        self.app = app
        self.instances = instances  # the SDK's table: session id -> transport
        self.per_token = per_token
        self.unused_ttl = unused_ttl
        self.admit = admit
        self._sessions: dict[str, _Session] = {}
        self._owned: dict[str, set[str]] = {}
        self._opening: dict[str, int] = {}
        self._sweep_at = SWEEP_FLOOR

    def open_sessions(self, owner: str) -> int:
        """Sessions ``owner`` holds or is opening now."""
        self._forget_closed(owner)
        return len(self._owned.get(owner, ())) + self._opening.get(owner, 0)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        caller = scope.get(CALLER_KEY)
        if scope["type"] != "http" or not isinstance(caller, Caller):
            await self.app(scope, receive, send)
            return
        owner = caller.grant.name
        session_id = _header(scope, SESSION_HEADER)
        if session_id is None and scope.get("method") == "POST":
            await self._open(owner, caller, scope, receive, send)
            return
        status = 0

        async def watch(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        known = self._sessions.get(session_id or "")
        if known is None or known.owner != owner:
            return
        if status == 200 and scope.get("method") in ("POST", "GET"):
            known.used = True
        elif not known.used:
            self._expire_soon(session_id or "")

    async def _open(self, owner: str, caller: Caller, scope: Any, receive: Any, send: Any) -> None:
        if self.admit is not None:
            retry_after = await self.admit(f"{owner}:sessions", caller.grant.rate_limit)
            if retry_after is not None:
                await _refuse(
                    scope,
                    receive,
                    send,
                    "rate_limited",
                    retry_after,
                    "rate limit reached: this token opens sessions as often as it may call tools",
                )
                return
        if self.open_sessions(owner) >= self.per_token:
            logger.warning("token %s holds %d sessions: a new one is refused", owner, self.per_token)
            await _refuse(
                scope,
                receive,
                send,
                "too_many_sessions",
                60,
                f"this token holds {self.per_token} open sessions (CHIFT_HTTP_MAX_SESSIONS_PER_TOKEN): "
                "close one (DELETE with its Mcp-Session-Id) or reuse it",
            )
            return
        self._opening[owner] = self._opening.get(owner, 0) + 1
        opened: str | None = None

        async def watch(message: Any) -> None:
            nonlocal opened
            if message["type"] == "http.response.start" and message["status"] < 400:
                opened = _header(message, SESSION_HEADER)
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            left = self._opening[owner] - 1
            if left:
                self._opening[owner] = left
            else:
                del self._opening[owner]
            if opened is not None and opened in self.instances():
                self._sessions[opened] = _Session(owner)
                self._owned.setdefault(owner, set()).add(opened)
                self._expire_soon(opened)
                if len(self._sessions) >= self._sweep_at:
                    self._sweep()

    def _expire_soon(self, session_id: str) -> None:
        """Move the SDK's idle timer of an unused session to ``unused_ttl`` from now (when it runs:
        a request in flight holds it at infinity, and the SDK sets it again when that ends)."""
        transport = self.instances().get(session_id)
        scope = getattr(transport, "idle_scope", None)
        if scope is None or scope.deadline == math.inf:
            return
        scope.deadline = min(scope.deadline, anyio.current_time() + self.unused_ttl)

    def _sweep(self) -> None:
        """Forget every session the SDK has closed, and the callers left with none."""
        for owner in list(self._owned):
            self._forget_closed(owner)
        self._sweep_at = max(SWEEP_FLOOR, 2 * len(self._sessions))

    def _forget_closed(self, owner: str) -> None:
        owned = self._owned.get(owner)
        if not owned:
            return
        live = self.instances()
        for session_id in [s for s in owned if s not in live]:
            owned.discard(session_id)
            self._sessions.pop(session_id, None)
        if not owned:
            del self._owned[owner]


def _header(scope_or_message: Any, name: bytes) -> str | None:
    for key, value in scope_or_message.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _refuse(scope: Any, receive: Any, send: Any, code: str, retry_after: int, message: str) -> None:
    record = scope.get(LOG_KEY)
    if isinstance(record, dict):
        record["refused"] = code
    body = {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32000, "message": message, "data": {"error": code, "retry_after": retry_after}},
    }
    headers = {"retry-after": str(retry_after), "x-chift-refusal": code}
    await JSONResponse(body, status_code=429, headers=headers)(scope, receive, send)
