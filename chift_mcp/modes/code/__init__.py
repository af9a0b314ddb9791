"""Code mode: the agent writes a short Python program that calls the operations and returns the answer.

- :mod:`~chift_mcp.modes.code.tools`: find_operations, describe_operation and execute (origin ``code``),
  and the envelope of a program's answer.
- :mod:`~chift_mcp.modes.code.signature`: an operation as the Python function a program calls.
- :mod:`~chift_mcp.modes.code.runner`: a run in pydantic-monty (the ``[code]`` extra), its limits and
  how each is enforced; :mod:`~chift_mcp.modes.code.admission` who gets a worker, and
  :mod:`~chift_mcp.modes.code.values` a program's values measured while converted. Imported on the first ``execute`` only: nothing of pydantic-monty is on any
  mode's start-up path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chift_mcp.tools.definition import ToolSpec


def code_mode(
    settings: Any,
    deadline: Callable[[], float | None] = lambda: None,
    caller: Callable[[], str | None] = lambda: None,
) -> tuple[list[ToolSpec], Any]:
    """The code-mode tools for ``settings`` and the runner behind them (a service to close).
    ``deadline()`` is when the request carrying a run must answer (``time.monotonic()``), if any;
    ``caller()`` who sent it (programs are capped per caller), if known: else there is one caller."""
    from chift_mcp.modes.code.runner import CodeRunner, Limits
    from chift_mcp.modes.code.tools import code_tools

    runner = CodeRunner(Limits.from_settings(settings), deadline, caller)
    return code_tools(runner, max_result_chars=settings.max_result_chars), runner


def installed() -> bool:
    """Whether pydantic-monty can be imported (looked up, not imported)."""
    import importlib.util

    return importlib.util.find_spec("pydantic_monty") is not None


__all__ = ["code_mode", "installed"]
