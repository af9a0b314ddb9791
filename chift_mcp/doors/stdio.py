"""The stdio door: MCP over this process's stdin and stdout, one JSON-RPC message per line.

Our own line transport instead of the SDK's ``stdio_server``, for two things that one does not do:

- **A message is at most** ``max_message`` **bytes** (``CHIFT_STDIO_MAX_MESSAGE``), as the HTTP door
  caps a body: a longer line is skipped as it is read, never held whole, and answered with a JSON-RPC
  error (-32600, with the request's id when the line's first bytes carry one); the server goes on.
- **SIGINT stops it promptly**, stdin open or not: reading waits on the event loop, not in a worker
  thread (the SDK's, blocked in ``readline``, held the process at exit). The first SIGINT stops reading,
  lets the requests in flight answer for up to ``grace`` seconds and cancels the rest; a second one
  stops at once. The exit code is then 130.
- **stdin closed answers what is in flight**: a client that writes its requests and closes its end
  still reads every answer (within the same ``grace``), then the server exits 0.
- **Both protocol eras on one pipe** (``doors/eras.py``): a client that sends ``server/discover``,
  then ``initialize`` when the first went unanswered (the Vercel AI SDK), is served both.

As the SDK's transport does, fd 0 and fd 1 point at the null device and at stderr while serving, so
neither a stray ``print`` nor a child process can write to the wire. Pipes and sockets are read and
written without blocking; other kinds of file (a regular file, a terminal's writes) through a thread.
"""

from __future__ import annotations

__all__ = ["LineWire", "serve", "serve_wire"]

import json
import logging
import os
import re
import signal
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import anyio
import mcp_types as types
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage

from chift_mcp.doors.eras import serve_both_eras

logger = logging.getLogger("chift_mcp.stdio")

CHUNK = 65_536
EXIT_INTERRUPTED = 130
# The id of an over-long request, from its first bytes (before "params", where an "id" key may hide).
_HEAD = 4096
_ID = re.compile(rb'"id"\s*:\s*(-?\d{1,18}|"(?:[^"\\]|\\.){0,200}")')


class LineWire:
    """Newline-delimited JSON-RPC on two file descriptors, lines capped at ``max_message`` bytes."""

    def __init__(self, fd_in: int, fd_out: int, *, max_message: int) -> None:
        self.fd_in = fd_in
        self.fd_out = fd_out
        self.max_message = max_message
        self.in_flight: set[types.RequestId] = set()
        self._idle = anyio.Event()
        self._idle.set()
        self._write_lock = anyio.Lock()
        self._poll_in = _pollable(fd_in)
        self._poll_out = _pollable(fd_out, writes=True)
        self._restore: list[tuple[int, bool]] = []
        for fd, poll in ((fd_in, self._poll_in), (fd_out, self._poll_out)):
            if poll == "nonblocking":
                self._restore.append((fd, os.get_blocking(fd)))
                os.set_blocking(fd, False)

    def close(self) -> None:
        for fd, blocking in self._restore:
            with suppress(OSError):
                os.set_blocking(fd, blocking)

    async def idle(self) -> None:
        """Return once every request read so far has been answered (or cancelled by the client)."""
        while self.in_flight:
            self._idle = anyio.Event()
            await self._idle.wait()

    # ------------------------------------------------------------------ reading

    async def read_into(self, stream: MemoryObjectSendStream[SessionMessage | Exception]) -> None:
        """Read lines until EOF; an over-long one is answered, not delivered."""
        buffer = bytearray()
        skipped = -1  # bytes of an over-long line dropped so far; -1: not in one
        head = b""
        while True:
            chunk = await self._read()
            if not chunk:  # EOF: a last line without its newline is a line all the same
                if skipped >= 0:
                    await self._too_long(head, skipped)
                elif buffer:
                    await self._deliver(bytes(buffer), stream)
                return
            start = 0
            while start < len(chunk):
                newline = chunk.find(b"\n", start)
                end = len(chunk) if newline < 0 else newline
                if skipped >= 0:
                    skipped += end - start
                elif len(buffer) + end - start > self.max_message:
                    head = bytes(buffer[:_HEAD]) + chunk[start : start + _HEAD]
                    skipped = len(buffer) + end - start
                    buffer.clear()
                else:
                    buffer += chunk[start:end]
                if newline < 0:
                    break
                start = newline + 1
                if skipped >= 0:
                    await self._too_long(head, skipped)
                    skipped = -1
                else:
                    await self._deliver(bytes(buffer), stream)
                    buffer.clear()

    async def _read(self) -> bytes:
        if self._poll_in == "thread":
            return await anyio.to_thread.run_sync(os.read, self.fd_in, CHUNK)
        while True:
            await anyio.wait_readable(self.fd_in)
            try:
                return os.read(self.fd_in, CHUNK)
            except BlockingIOError:  # woken for nothing
                continue

    async def _deliver(self, line: bytes, stream: MemoryObjectSendStream[SessionMessage | Exception]) -> None:
        if not line.strip():
            return
        try:
            message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        except Exception as exc:  # as the SDK's transport: the server logs it and goes on
            await stream.send(exc)
            return
        if isinstance(message, types.JSONRPCRequest):
            self.in_flight.add(message.id)
        elif isinstance(message, types.JSONRPCNotification) and message.method == "notifications/cancelled":
            self._answered((message.params or {}).get("requestId"))
        await stream.send(SessionMessage(message))

    async def _too_long(self, head: bytes, size: int) -> None:
        logger.warning("refused a %d-byte message (over %d bytes)", size, self.max_message)
        error = types.JSONRPCError(
            jsonrpc="2.0",
            id=_request_id(head),
            error=types.ErrorData(
                code=types.INVALID_REQUEST,
                message=f"message too large: {size} bytes, over the {self.max_message} this server reads "
                "(CHIFT_STDIO_MAX_MESSAGE); it was not processed",
            ),
        )
        await self._write_message(error)

    # ------------------------------------------------------------------ writing

    async def write_from(self, stream: MemoryObjectReceiveStream[SessionMessage]) -> None:
        async with stream:
            async for item in stream:
                await self._write_message(item.message)

    async def _write_message(self, message: Any) -> None:
        data = message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
        async with self._write_lock:
            await self._write(data)
        if isinstance(message, types.JSONRPCResponse | types.JSONRPCError):
            self._answered(message.id)

    async def _write(self, data: bytes) -> None:
        if self._poll_out == "thread":
            await anyio.to_thread.run_sync(_write_all, self.fd_out, data)
            return
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd_out, view) :]
            except BlockingIOError:
                await anyio.wait_writable(self.fd_out)

    def _answered(self, request_id: Any) -> None:
        self.in_flight.discard(request_id)
        if not self.in_flight:
            self._idle.set()


async def serve_wire(server: Any, wire: LineWire, *, grace: float = 5.0, sigint: bool = True) -> bool:
    """Run ``server`` on ``wire`` until EOF on its input or (``sigint``) SIGINT; True when SIGINT
    stopped it."""
    reads_send, reads = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    writes, writes_receive = anyio.create_memory_object_stream[SessionMessage](0)
    interrupted = False
    async with anyio.create_task_group() as tg:
        reading = anyio.CancelScope()

        async def read() -> None:
            with reading:
                await wire.read_into(reads_send)
            if reading.cancel_called:
                return  # SIGINT: the stream stays open, closing it would cancel what is in flight
            # EOF: what is in flight answers (within the grace, as on SIGINT), then the server ends.
            if wire.in_flight:
                logger.info("stdin closed: finishing %d request(s) in flight", len(wire.in_flight))
                with anyio.move_on_after(grace):
                    await wire.idle()
            await reads_send.aclose()

        async def run() -> None:
            await serve_both_eras(server, reads, writes, server.create_initialization_options())
            reading.cancel()

        async def on_sigint(signals: AsyncIterator[int], tg: TaskGroup) -> None:
            nonlocal interrupted
            async for _ in signals:
                if interrupted:  # the second one: now
                    tg.cancel_scope.cancel()
                    return
                interrupted = True
                logger.info("SIGINT: finishing %d request(s) in flight", len(wire.in_flight))
                reading.cancel()  # no new message; the input stays open so nothing in flight is cancelled
                tg.start_soon(finish, tg)

        async def finish(tg: TaskGroup) -> None:
            with anyio.move_on_after(grace):
                await wire.idle()
            tg.cancel_scope.cancel()

        with _sigint(sigint) as signals:
            tg.start_soon(wire.write_from, writes_receive)
            tg.start_soon(read)
            if signals is not None:
                tg.start_soon(on_sigint, signals, tg)
            await run()
            tg.cancel_scope.cancel()
    return interrupted


async def serve(runtime: Any, *, max_message: int, grace: float = 5.0) -> int:
    """Serve ``runtime`` over this process's stdin and stdout; the exit code (130 after SIGINT)."""
    server = runtime.server()
    runtime.start()
    try:
        if sys.platform == "win32":  # no polling of pipes there: the SDK's threaded transport
            from mcp.server.stdio import stdio_server

            async with stdio_server() as (read, write):
                await serve_both_eras(server, read, write, server.create_initialization_options())
            return 0
        with claimed_stdio() as (fd_in, fd_out):
            wire = LineWire(fd_in, fd_out, max_message=max_message)
            try:
                interrupted = await serve_wire(server, wire, grace=grace)
            finally:
                wire.close()
        return EXIT_INTERRUPTED if interrupted else 0
    finally:
        with anyio.CancelScope(shield=True):
            await runtime.aclose()


@contextmanager
def claimed_stdio() -> Iterator[tuple[int, int]]:
    """Private copies of fd 0 and 1 for the wire; fd 0 reads the null device and fd 1 writes to stderr
    meanwhile. Restored on exit."""
    import fcntl

    sys.stdout.flush()
    fd_in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    fd_out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
        os.dup2(2, 1)
        yield fd_in, fd_out
    finally:
        os.close(null)
        os.dup2(fd_in, 0)
        os.dup2(fd_out, 1)
        os.close(fd_in)
        os.close(fd_out)


@contextmanager
def _sigint(wanted: bool) -> Iterator[Any]:
    """SIGINT as an async iterator while serving (main thread only; None elsewhere)."""
    import threading

    if not wanted or threading.current_thread() is not threading.main_thread():
        yield None
        return
    with anyio.open_signal_receiver(signal.SIGINT) as signals:
        yield signals


def _pollable(fd: int, *, writes: bool = False) -> str:
    """ "nonblocking" for pipes and sockets, "poll" for reading a terminal, "thread" otherwise."""
    mode = os.fstat(fd).st_mode
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return "nonblocking"
    if not writes and os.isatty(fd):
        return "poll"  # readable means a line is there; its flags are the terminal's, left alone
    return "thread"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _request_id(head: bytes) -> types.RequestId | None:
    cut = head.find(b'"params"')
    found = _ID.search(head if cut < 0 else head[:cut])
    if found is None:
        return None
    try:
        value = json.loads(found.group(1))
    except ValueError:
        return None
    return value if isinstance(value, int | str) else None
