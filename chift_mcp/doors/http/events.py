"""Resumable SSE streams for stateful HTTP sessions: the SDK's ``EventStore``, bounded, in memory.

With an event store the SDK gives every SSE event an id and, for 2025-11-25 clients, opens each POST's
stream with a priming event (an id, empty data and a ``retry`` interval), so a client whose stream drops
reconnects with ``GET`` and ``Last-Event-ID`` and gets what it missed, then the rest live.

One store serves every session of the session manager, and the SDK names streams by JSON-RPC request
id (``"2"`` in every session). So events are kept per session: :class:`SessionEvents` (ASGI, in front of
the SDK) puts the session of each request in a context variable that the SDK's tasks inherit (the
session's own tasks from the request that opened it), and an event id only replays in the session that
received it. Ids are random per session, so one is not guessed either.

Bounded three ways, the oldest events going first: ``max_events``, ``max_bytes`` (events are kept as
their JSON, so their size is known: one encoding more per event, measured in the README) and
``max_age`` seconds; stateless mode has no sessions and no store.
"""

from __future__ import annotations

import contextvars
import itertools
import secrets
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_HEADER = b"mcp-session-id"


@dataclass(eq=False)
class _Session:
    key: str = field(default_factory=lambda: secrets.token_hex(8))
    # event id -> (its stream, its JSON), in the order stored. Flat tuples of strings: the garbage
    # collector stops tracking them, so thousands of kept events cost it nothing.
    events: dict[EventId, tuple[StreamId, str | None]] = field(default_factory=dict)


_CURRENT: contextvars.ContextVar[_Session | None] = contextvars.ContextVar("chift_sse_session", default=None)


class _Stored:
    """A stored event as the SDK's SSE writer reads it back (``message.model_dump_json()``)."""

    __slots__ = ("json",)

    def __init__(self, json: str) -> None:
        self.json = json

    def model_dump_json(self, **_: Any) -> str:
        return self.json


class BoundedEventStore(EventStore):
    """The SDK's event store interface, per session, bounded (see the module docstring)."""

    def __init__(
        self,
        *,
        max_events: int = 5_000,
        max_bytes: int = 32 * 1024 * 1024,
        max_age: float = 120.0,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.max_sessions = max_sessions
        self.clock = clock
        self.bytes = 0
        self._order: deque[tuple[float, str, EventId, int]] = deque()  # (stored at, session key, id, size)
        self._sessions: OrderedDict[str, _Session] = OrderedDict()  # by Mcp-Session-Id
        self._by_key: weakref.WeakValueDictionary[str, _Session] = weakref.WeakValueDictionary()
        self._outside = self._new()  # requests that reached the SDK without SessionEvents in front
        self._ids = itertools.count(1)

    @property
    def count(self) -> int:  # not __len__: the SDK tests the store for truth, an empty one included
        return len(self._order)

    async def store_event(self, stream_id: StreamId, message: Any) -> EventId:
        session = _CURRENT.get() or self._outside
        data = None if message is None else message.model_dump_json(by_alias=True, exclude_unset=True)
        event_id = f"{session.key}-{next(self._ids)}"
        session.events[event_id] = (stream_id, data)
        size = 64 + (len(data) if data is not None else 0)
        now = self.clock()
        self._order.append((now, session.key, event_id, size))
        self.bytes += size
        self._evict(now)
        return event_id

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        session = _CURRENT.get() or self._outside
        self._evict(self.clock())
        found = session.events.get(last_event_id)
        if found is None:  # unknown, expired, or another session's
            return None
        stream_id = found[0]
        after = False
        for event_id, (stream, data) in list(session.events.items()):
            if after and stream == stream_id and data is not None:
                await send_callback(EventMessage(cast(Any, _Stored(data)), event_id))
            elif event_id == last_event_id:
                after = True
        return stream_id

    def _evict(self, now: float) -> None:
        order = self._order
        while order and (
            len(order) > self.max_events or self.bytes > self.max_bytes or now - order[0][0] > self.max_age
        ):
            _, key, event_id, size = order.popleft()
            self.bytes -= size
            session = self._by_key.get(key)
            if session is not None:
                session.events.pop(event_id, None)

    # ------------------------------------------------------------------ sessions

    def session(self, session_id: str | None) -> _Session:
        """The events of ``session_id``; a new, empty set for an opening request or an unknown id."""
        if session_id is None:
            return self._new()
        found = self._sessions.get(session_id)
        if found is None:
            return self._new()
        self._sessions.move_to_end(session_id)
        return found

    def _new(self) -> _Session:
        session = _Session()
        self._by_key[session.key] = session
        return session

    def bind(self, session_id: str, session: _Session) -> None:
        """``session_id`` (the SDK's answer to an opening request) names ``session`` from now on."""
        self._sessions[session_id] = session
        self._sessions.move_to_end(session_id)
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)  # its events age out of the order with the others


class SessionEvents:
    """ASGI, just in front of the SDK: the session of each request for :class:`BoundedEventStore`."""

    def __init__(self, app: ASGIApp, store: BoundedEventStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session_id = next((v.decode("latin-1") for k, v in scope["headers"] if k == SESSION_HEADER), None)
        session = self.store.session(session_id)
        reset = _CURRENT.set(session)
        try:
            if session_id is not None:
                await self.app(scope, receive, send)
                return

            async def bind_on_answer(message: Message) -> None:
                if message["type"] == "http.response.start":
                    opened = next(
                        (v for k, v in message.get("headers", ()) if k.lower() == SESSION_HEADER), None
                    )
                    if opened is not None:
                        self.store.bind(opened.decode("latin-1"), session)
                await send(message)

            await self.app(scope, receive, bind_on_answer)
        finally:
            _CURRENT.reset(reset)
