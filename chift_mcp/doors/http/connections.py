"""Connections to the HTTP door: a time and a size limit on each request head, and a cap on connections.

uvicorn's httptools protocol (the one the door serves with) bounds neither: a head may arrive one byte
a minute (its keep-alive timer only runs between requests, and stops at the first byte), and
headers of any size are buffered by the parser. :func:`guarded_protocol` returns its subclass that:

- gives a client ``head_timeout`` seconds from the connection (or from the first byte of the next
  request on it) to send a whole head, then answers 408 and closes (``CHIFT_HTTP_HEAD_TIMEOUT``);
- answers 431 and closes once a head passes ``max_head_bytes`` (``CHIFT_HTTP_MAX_HEAD_BYTES``): what
  is buffered stays under that plus one read;
- keeps at most ``max_connections`` open (``CHIFT_HTTP_MAX_CONNECTIONS``, held under the process's file
  descriptor limit): past it, the connection that has waited longest for its head is dropped, else the
  one idle longest between requests (kept alive, nothing buffered: its client reconnects, nothing is
  lost), and when every one is serving a request, the new one is closed. A request being served is
  never cut. Idle connections must be droppable: uvicorn keeps one 5 s, so a client re-sending an
  unauthenticated ``/healthz`` every few seconds on each would otherwise hold every slot.

Bodies are bounded elsewhere: their size by the SDK (413), their time by the door's request time limit.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger("chift_mcp.http")
FD_RESERVE = 64  # descriptors kept for everything else: Chift connections, logs, the listening socket


def connection_cap(wanted: int) -> int:
    """``wanted``, or less when the file descriptor limit would run out first."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft - FD_RESERVE >= wanted:
        return wanted
    cap = max(16, soft - FD_RESERVE)
    logger.warning(
        "CHIFT_HTTP_MAX_CONNECTIONS=%d is over the file descriptor limit (%d): %d connections at most",
        wanted,
        soft,
        cap,
    )
    return cap


def guarded_protocol(*, head_timeout: float, max_head_bytes: int, max_connections: int) -> type[Any]:
    """uvicorn's httptools protocol with the limits above (pass as ``uvicorn.Config(http=...)``)."""

    class GuardedProtocol(_Guarded):
        pass

    GuardedProtocol.head_timeout = head_timeout
    GuardedProtocol.max_head_bytes = max_head_bytes
    GuardedProtocol.max_connections = max_connections
    return GuardedProtocol


class _Guarded(HttpToolsProtocol):
    head_timeout = 10.0
    max_head_bytes = 65_536
    max_connections = 1000

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _in_head = False
    _head_since = 0.0
    _idle_since = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head()
        if len(self.connections) > self.max_connections:
            others = [c for c in self.connections if isinstance(c, _Guarded) and c is not self]
            waiting = [c for c in others if c._in_head]
            idle = [c for c in others if c._idle()]
            if waiting:
                min(waiting, key=lambda c: c._head_since)._close("the connection limit was reached")
            elif idle:
                min(idle, key=lambda c: c._idle_since)._close("the connection limit was reached")
            else:
                self._close("the connection limit was reached")

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._idle_since = self.loop.time()

    def _idle(self) -> bool:
        """Between requests on a kept-alive connection: answered, nothing buffered, nothing received since.

        uvicorn arms its keep-alive timer exactly then (response complete, no pipelined request) and
        disarms it on the next byte received."""
        return (
            self.timeout_keep_alive_task is not None
            and not self._in_head
            and not self.pipeline
            and not self.transport.is_closing()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._in_head and (self.cycle is None or self.cycle.response_complete) and not self.pipeline:
            self._start_head()  # the first bytes of the next request on a kept-alive connection
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
            self._answer(431, "Request Header Fields Too Large", "request head over the size limit")

    def on_headers_complete(self) -> None:
        self._stop_head()
        super().on_headers_complete()

    def _start_head(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._head_since = self.loop.time()
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._answer(408, "Request Timeout", "request head not received in time")

    def _answer(self, status: int, reason: str, message: str) -> None:
        body = message.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, reason.encode(), len(body), body)
        )
        self._close(message)

    def _close(self, why: str) -> None:
        self._stop_head()
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("closing a connection: %s", why)
        self.transport.close()
