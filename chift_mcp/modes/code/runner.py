"""Running one ``execute`` program in pydantic-monty, with the caller's operations as functions.

pydantic-monty runs the program in a Rust Python interpreter inside worker subprocesses (a pool, kept
warm): no filesystem, no network, no environment, no host modules. The program is started with
``feed_start`` and driven here one suspension at a time, so the host decides every step:

- an operation call (``accounting_get_clients(limit=5)``) suspends the program; :class:`Program`
  calls the operation through the registry with the caller's access (validation, consumer binding,
  read-only, token grants, idempotency keys, scrubbing: what a direct tool call gets) and resumes it
  with the JSON answer, or with a ``RuntimeError`` whose message is the tool error
  (``"OUT_OF_SCOPE: ... Hint: ..."``), which the program may catch. Positional arguments, and names
  that are no operation, raise in the program without reaching the registry;
- an OS call (files, environment, sleep, imports of host modules) is answered "not handled": the
  program gets the interpreter's own error;
- a name the program reads without calling it resolves to an operation the caller may call, or is a
  ``NameError``.

Limits (``Limits``, from the ``CHIFT_CODE_*`` settings), each a tool error naming it and its value:

- wall time: a host deadline over the whole run, operation calls included (a write in flight is
  shielded and finishes: its outcome is reported, never lost); the interpreter's own time limit and
  the pool's per-turn watchdog (which kills the worker) back it up;
- memory and recursion: enforced inside the interpreter (``max_memory``, ``max_recursion_depth``);
- operation calls: counted here; the call over the limit is not made and the run stops;
- result size: the printed output is collected up to the limit, and the run is cancelled past it;
  the value, and the arguments of each operation call, are measured while they are converted, in a
  worker thread, and refused at the first character past the limit
  (:mod:`chift_mcp.modes.code.values`: a value that shares its parts is never expanded past it).
  What reaches the model is then cut at ``CHIFT_MAX_RESULT_CHARS`` like any result
  (:func:`chift_mcp.modes.code.tools.envelope`);
- workers: a program runs once it has a worker, at most ``CHIFT_CODE_WORKERS`` at once and
  ``CHIFT_CODE_MAX_PROGRAMS_PER_CALLER`` per caller; its wall time starts then. A program that cannot
  get one within ``CHIFT_CODE_QUEUE_TIMEOUT`` is refused with a ``BUSY`` error
  (:mod:`chift_mcp.modes.code.admission`).

A worker that dies or is killed is replaced by the pool; the server goes on serving.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from chift_mcp.errors import AccessDenied, LimitExceeded, ProgramError, ToolError
from chift_mcp.modes.code.admission import Admission
from chift_mcp.modes.code.values import MAX_DEPTH, TooDeep, TooLarge, to_json_value

if TYPE_CHECKING:
    from chift_mcp.tools.definition import LocalCall

logger = logging.getLogger("chift_mcp.modes.code")

UNCAPPED = 1 << 62  # an operation's answer inside a program is not cut: only what reaches the model is
INSTALL_HINT = 'install the code extra: pip install "chift-mcp[code]" (pydantic-monty), then restart'
_EXIT_PAUSE = 0.02  # see _settle()
ERROR_OUTPUT = 4000  # characters of printed output a failed run reports


@dataclass(frozen=True)
class Limits:
    timeout: float = 30.0  # seconds of wall time per run
    memory: int = 128 * 1024 * 1024  # bytes of interpreter heap
    recursion: int = 200  # call stack depth
    calls: int = 200  # operation calls per run
    result_chars: int = 1_000_000  # largest value, operation call's arguments or printed output (characters)
    workers: int = 4  # worker processes: programs that run at once
    per_caller: int = 2  # programs one caller may run at once
    queue: float = 5.0  # seconds a program may wait for a worker

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(
            timeout=settings.code_timeout,
            memory=settings.code_max_memory,
            recursion=settings.code_max_recursion,
            calls=settings.code_max_calls,
            result_chars=settings.code_max_result_chars,
            workers=settings.code_workers,
            per_caller=settings.code_max_programs_per_caller,
            queue=settings.code_queue_timeout,
        )

    def monty(self) -> dict[str, Any]:
        """The limits the interpreter enforces itself."""
        return {
            "max_feed_duration_secs": self.timeout,
            "max_memory": self.memory,
            "max_recursion_depth": self.recursion,
            # Operation calls, name lookups and OS calls each suspend the program; operation calls are
            # counted by Program. This only bounds the rest.
            "max_suspensions": max(1000, 5 * self.calls),
        }


@dataclass
class Outcome:
    """A finished run: the program's last value, what it printed, what it called."""

    value: Any
    output: str
    calls: int
    writes: list[dict[str, Any]]


class CodeRunner:
    """The worker pool (started on the first run, in the running event loop) and the runs."""

    def __init__(
        self,
        limits: Limits,
        deadline: Callable[[], float | None] = lambda: None,
        caller: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.limits = limits
        self._deadline = deadline  # when the request carrying a run must answer (monotonic), if any
        self._caller = caller  # who sends the request carrying a run (an HTTP token's name), if known
        self._pool: Any = None
        self._admission: Admission | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None

    async def run(self, code: str, call: LocalCall) -> Outcome:
        monty = _monty()
        pool, admission = await self._worker_pool(monty)
        at = self._deadline()
        within = None if at is None else at - time.monotonic() - 0.5
        async with admission.admitted(self._caller(), within=within):  # None: stdio, no share
            # the wall time starts here: waiting for a worker does not use it up
            limits = self._within_the_request(self.limits, self._deadline())
            program = Program(call, limits)
            started = time.perf_counter()
            with anyio.move_on_after(limits.timeout) as deadline:
                output = Output(limits.result_chars, deadline)
                try:
                    async with pool.checkout(limits=limits.monty()) as session:
                        snapshot = await session.feed_start(
                            code, external_lookup=program.lookup(), print_callback=output
                        )
                        while not isinstance(snapshot, monty.MontyComplete):
                            snapshot = await program.answer(snapshot, monty)
                except monty.MontyError as exc:
                    raise _program_error(exc, monty, limits, program, output.text) from None
                except ToolError as exc:
                    if isinstance(exc, ProgramError):
                        exc.details.update(program.details(output.text))
                    raise
            if output.overflow:
                raise program.limit("printed output", f"{limits.result_chars} characters", output.text)
            if deadline.cancelled_caught:
                raise program.limit("wall time", _seconds(limits.timeout), output.text)
            logger.info(
                "execute: %d operation calls in %.0f ms",
                program.calls,
                (time.perf_counter() - started) * 1000,
            )
            # converted while the program still counts against its caller's share: a caller cannot
            # pile up conversions
            value = await program.converted(lambda: snapshot.output, "result size", output.text)
        return Outcome(value, output.text, program.calls, program.writes)

    @staticmethod
    def _within_the_request(limits: Limits, at: float | None) -> Limits:
        """The run's limits, its wall time cut to what is left of the request that carries it (the
        HTTP door's limit, handed in as the Chift calls' deadline): a program answers, with the
        writes it made, before the door would cut the request."""
        if at is None:
            return limits
        left = at - time.monotonic()
        return replace(limits, timeout=max(0.5, left)) if left < limits.timeout else limits

    async def _worker_pool(self, monty: Any) -> tuple[Any, Admission]:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._loop is loop and self._admission is not None:
            return self._pool, self._admission
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop, self._pool = asyncio.Lock(), loop, None
        async with self._lock:
            if self._pool is None:
                limits = self.limits
                pool = monty.AsyncMonty(
                    min_processes=1, max_processes=limits.workers, request_timeout=limits.timeout + 5
                )
                await pool.__aenter__()
                self._pool = pool
                self._admission = Admission(
                    workers=limits.workers, per_caller=limits.per_caller, wait=limits.queue
                )
                _pause_at_exit()
        assert self._admission is not None
        return self._pool, self._admission

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and self._loop is asyncio.get_running_loop():
            await pool.__aexit__(None, None, None)
            await _settle()


@functools.cache
def _pause_at_exit() -> None:
    atexit.register(time.sleep, _EXIT_PAUSE)  # once per process, however many pools


async def _settle() -> None:
    """pydantic-monty 1.4.0 hands a worker back to its pool on a Rust thread just after a checkout
    ends; if the interpreter is finalising at that moment, the process aborts (SIGABRT, seen in about
    half of the runs that exit right after a checkout). A pause of a few milliseconds lets it finish:
    measured, 10 ms removes it; the same pause is registered at exit."""
    await asyncio.sleep(_EXIT_PAUSE)


class Output:
    """What the program prints, up to ``limit`` characters. Past it the run is cancelled at once (the
    interpreter would only report its own print cap when the program ends). pydantic-monty calls this
    from one of its threads: the cancel goes through the event loop."""

    def __init__(self, limit: int, scope: anyio.CancelScope) -> None:
        self.limit = limit
        self.size = 0
        self.overflow = False
        self._chunks: list[str] = []
        self._scope = scope
        self._loop = asyncio.get_running_loop()

    def __call__(self, stream: str, text: str) -> None:
        if self.overflow:
            return
        room = self.limit - self.size
        self._chunks.append(text[:room])
        self.size += len(text)
        if self.size > self.limit:
            self.overflow = True
            self._loop.call_soon_threadsafe(self._scope.cancel)

    @property
    def text(self) -> str:
        return "".join(self._chunks)


@dataclass
class Program:
    """One run's host side: answers the program's suspensions and counts what it did."""

    call: LocalCall
    limits: Limits
    calls: int = 0
    writes: list[dict[str, Any]] = field(default_factory=list)

    def lookup(self) -> dict[str, Any]:
        """Operation names the program may read as values (``f = accounting_get_clients``)."""
        return {tool.name: _never_called for tool in self.call.view.operations}

    async def answer(self, snapshot: Any, monty: Any) -> Any:
        """Resume ``snapshot`` with its answer; return the next snapshot."""
        if isinstance(snapshot, monty.AsyncFunctionSnapshot):
            if snapshot.is_os_function:
                return await snapshot.resume_not_handled()
            return await snapshot.resume(await self.operation(snapshot))
        return await snapshot.resume_auto()  # a name lookup (or a sandbox future)

    async def operation(self, snapshot: Any) -> dict[str, Any]:
        name = str(snapshot.function_name)
        if self.calls >= self.limits.calls:
            raise self.limit("operation calls", f"{self.limits.calls} per run", "")
        self.calls += 1
        try:
            tool = self.call.view.operation(name)
        except AccessDenied as exc:
            if exc.message.startswith("unknown tool"):
                self.calls -= 1  # not an operation: a typo or an undefined function
                return _raise("NameError", f"name {name!r} is not defined ({exc.hint})")
            return _raise("RuntimeError", error_message(exc.payload()))
        if snapshot.args:
            return _raise("TypeError", f"{name}() takes keyword arguments only: {name}(argument=value, ...)")
        # A keyword given None is one not given (f(vat=row.get("vat"))), as in Python; the JSON tools
        # refuse null instead (no schema allows it).
        arguments = await self.converted(
            lambda: {k: v for k, v in snapshot.kwargs.items() if v is not None}, "argument size", ""
        )
        writes = tool.kind != "get"
        with anyio.CancelScope(shield=writes):  # a write in flight finishes; its outcome is reported
            result = await self.call.call_operation(name, arguments, max_chars=UNCAPPED)
        data = result.structured if result.structured is not None else {"text": result.text}
        if writes:
            self._record_write(name, data, result.is_error)
        if result.is_error:
            return _raise("RuntimeError", error_message(data))
        return {"return_value": data}

    def _record_write(self, name: str, data: dict[str, Any], failed: bool) -> None:
        if not failed:
            self.writes.append(
                {"operation": name, "id": data.get("id")} if "id" in data else {"operation": name}
            )
        elif data.get("client_request_id"):  # it reached Chift and its outcome is unknown
            self.writes.append(
                {
                    "operation": name,
                    "error": data.get("error"),
                    "client_request_id": data["client_request_id"],
                }
            )

    async def converted(self, value: Callable[[], Any], which: str, output: str) -> Any:
        """``value()`` (the program's value, or an operation call's arguments) as JSON data, measured
        while it is converted, in a worker thread: refused at the first character past the limit."""
        cap = self.limits.result_chars
        try:
            data, _ = await anyio.to_thread.run_sync(lambda: to_json_value(value(), cap))
        except TooLarge:
            raise self.limit(which, f"{cap} characters", output, actual=f"more than {cap}") from None
        except TooDeep:
            raise self.limit("nesting", f"{MAX_DEPTH} levels", output) from None
        except ValueError as exc:  # the interpreter's own conversion (an int of more than 4300 digits)
            raise ProgramError(
                f"the program's {which.split()[0]} cannot be converted: {exc}", **self.details(output)
            ) from None
        return data

    def details(self, output: str) -> dict[str, Any]:
        """What a failed run reports: its output (its start and end), its calls and writes."""
        if len(output) > ERROR_OUTPUT:
            half = ERROR_OUTPUT // 2
            output = f"{output[:half]}\n[... {len(output) - 2 * half} characters cut ...]\n{output[-half:]}"
        return {"output": output, "operations_called": self.calls, "writes": self.writes}

    def limit(self, which: str, value: str, output: str, **extra: Any) -> LimitExceeded:
        return LimitExceeded(
            f"the program hit the {which} limit ({value})",
            hint=_LIMIT_HINTS[which],
            limit=which,
            value=value,
            **extra,
            **self.details(output),
        )


_LIMIT_HINTS = {
    "wall time": "do less per run: fewer operation calls (a larger limit and fields=[...] on list calls), "
    "or split the work into several runs",
    "memory": "keep less in memory: fields=[...] on list calls, and aggregate while paging instead of keeping "
    "every item",
    "recursion": "use a loop instead of deep recursion",
    "operation calls": "use larger pages (limit) and filters, or split the work into several runs",
    "result size": "return a summary (totals, counts, the first items), not the raw data",
    "argument size": "pass smaller arguments: a list shares its items, each is counted where it appears",
    "nesting": "return flatter data: lists of records rather than lists nested in lists",
    "printed output": "print less; return the answer as the program's last expression",
    "host round trips": "call fewer operations and read fewer undefined names per run",
}


def _never_called(**_: Any) -> None:  # pragma: no cover - Program.operation answers every call
    raise RuntimeError("operation calls are answered by the host loop")


def _seconds(timeout: float) -> str:
    return f"{timeout:.3g} s"


def _raise(kind: str, message: str) -> dict[str, Any]:
    return {"exc_type": kind, "message": message}


def error_message(payload: dict[str, Any]) -> str:
    """A tool error as one line: ``CODE: message [field x] Hint: ... (retryable)``."""
    text = f"{payload.get('error', 'ERROR')}: {payload.get('message', '')}"
    if payload.get("field"):
        text += f" [field {payload['field']}]"
    if payload.get("hint"):
        text += f" Hint: {payload['hint']}"
    if payload.get("client_request_id"):
        text += f" (client_request_id {payload['client_request_id']})"
    if payload.get("retryable"):
        text += " (retryable)"
    return text


def _program_error(exc: Any, monty: Any, limits: Limits, program: Program, output: str) -> ProgramError:
    """The tool error for a program that failed in the interpreter."""
    inner = exc.exception()
    text = str(inner)
    if isinstance(exc, monty.MontyCrashedError):
        if exc.timed_out:
            return program.limit("wall time", _seconds(limits.timeout), output)
        crashed = ProgramError(
            f"the sandbox worker stopped: {exc}",
            hint="run the program again; if it stops again, make it do less per run",
            **program.details(output),
        )
        crashed.retryable = True
        return crashed
    if isinstance(inner, TimeoutError) and "time limit" in text:
        return program.limit("wall time", _seconds(limits.timeout), output)
    if isinstance(inner, MemoryError) and "memory limit" in text:
        return program.limit("memory", f"{limits.memory // (1024 * 1024)} MB", output)
    if isinstance(inner, RecursionError):
        return program.limit("recursion", f"{limits.recursion} frames", output)
    if isinstance(inner, RuntimeError) and "suspension limit" in text:
        return program.limit("host round trips", f"{limits.monty()['max_suspensions']}", output)
    line, source = _where(exc)
    kind = "SyntaxError" if isinstance(exc, monty.MontySyntaxError) else type(inner).__name__
    where = f"line {line}: " if line else ""
    return ProgramError(
        f"{where}{kind}: {text}",
        hint="nothing ran; fix the program and run it again"
        if kind == "SyntaxError"
        else ("the writes listed ran before the error" if program.writes else None),
        line=line,
        source=source,
        **program.details(output),
    )


def _where(exc: Any) -> tuple[int | None, str | None]:
    """The innermost line of the program in ``exc``'s traceback, and its source."""
    try:
        frames = exc.traceback()
    except (AttributeError, TypeError):
        return None, None
    mine = [f for f in frames if str(f.filename).startswith("<python-input")] or frames
    if not mine:
        return None, None
    frame = mine[-1]
    source = (frame.source_line or "").strip() or None
    return int(frame.line), source


def _monty() -> Any:
    """pydantic-monty, imported on the first run only (never on another mode's start-up path)."""
    try:
        import pydantic_monty
    except ImportError:
        raise ToolError("code mode is not installed on this server", hint=INSTALL_HINT) from None
    return pydantic_monty
