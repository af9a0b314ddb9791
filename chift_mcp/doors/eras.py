"""One connection, both protocol eras: each request is served in the era it speaks.

The SDK's ``Server.run`` locks a connection into the era of its first request: a 2026-07-28 request
(the ``io.modelcontextprotocol/protocolVersion`` key in ``params._meta``) makes it modern for good,
and a later ``initialize`` is answered -32022. Clients that probe do exactly that on one pipe: the
Vercel AI SDK (``@ai-sdk/mcp`` 2.0, stdio) sends ``server/discover``, gives up after 1 s and sends
``initialize``; a server that takes longer to start (``uvx`` takes about 4 s) reads both, and the
client fails on the -32022. The reverse (an ``initialize`` left unanswered, then a modern request)
is refused the same way.

Here the door routes every message, not the connection: a request carrying the 2026-07-28 envelope
(``initialize`` excepted, which no 2026 version has) goes to a modern loop, anything else to a
handshake (legacy) loop. Each loop is the SDK's own ``serve_dual_era_loop``, started on the first
message of its era and sharing the server's lifespan and the output stream; so each era behaves
exactly as the SDK serves it. Notifications follow the latest request's era, except
``notifications/cancelled``, which goes to every loop (a loop ignores an id it does not have); the
client's answers to server requests go to the handshake loop, the only one that sends any.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any, Literal

import anyio
import mcp_types as types
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server.models import InitializationOptions
from mcp.server.runner import serve_dual_era_loop
from mcp.shared.message import SessionMessage
from mcp_types import PROTOCOL_VERSION_META_KEY

logger = logging.getLogger("chift_mcp.eras")

Era = Literal["handshake", "modern"]
Inbound = SessionMessage | Exception


def era_of(message: Any) -> Era | None:
    """The era a request speaks (None for anything that is not a request)."""
    if not isinstance(message, types.JSONRPCRequest):
        return None
    params = message.params
    meta = params.get("_meta") if isinstance(params, Mapping) else None
    if message.method != "initialize" and isinstance(meta, Mapping) and PROTOCOL_VERSION_META_KEY in meta:
        return "modern"
    return "handshake"


async def serve_both_eras(
    server: Any,
    read_stream: MemoryObjectReceiveStream[Inbound],
    write_stream: MemoryObjectSendStream[SessionMessage],
    init_options: InitializationOptions,
) -> None:
    """Serve one connection until ``read_stream`` ends, each request in its own era; the server's
    lifespan is entered once around both."""
    async with server.lifespan(server) as state, write_stream, read_stream:
        loops: dict[Era, MemoryObjectSendStream[Inbound]] = {}
        latest: Era = "handshake"

        def loop(era: Era, tg: TaskGroup) -> MemoryObjectSendStream[Inbound]:
            if era not in loops:
                send, receive = anyio.create_memory_object_stream[Inbound](0)
                loops[era] = send
                run = partial(serve_dual_era_loop, lifespan_state=state, init_options=init_options)
                tg.start_soon(run, server, receive, write_stream.clone())
                logger.debug("serving the %s era on this connection", era)
            return loops[era]

        async with anyio.create_task_group() as tg:
            try:
                async for item in read_stream:
                    message = item.message if isinstance(item, SessionMessage) else None
                    era = era_of(message)
                    if era is not None:
                        latest = era
                        await loop(era, tg).send(item)
                    elif isinstance(message, types.JSONRPCNotification) and message.method == (
                        "notifications/cancelled"
                    ):
                        for send in list(loops.values()):
                            await send.send(item)
                    elif isinstance(message, types.JSONRPCResponse | types.JSONRPCError):
                        if "handshake" in loops:  # nothing else asked the client anything
                            await loops["handshake"].send(item)
                    else:  # other notifications, unreadable lines
                        await loop(latest, tg).send(item)
            finally:
                for send in loops.values():
                    send.close()
