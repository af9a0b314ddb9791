"""Moved to :mod:`support.processes` (import ``from support.processes import ...``).

This module re-exports it for the importers that are not the tests' own: bench/ (which puts tests/
on ``sys.path``) and tests/test_http_processes.py, until they import ``support.processes``.
"""

from __future__ import annotations

from support.processes import (
    SandboxAdmin,
    free_port,
    running_sandbox,
    sandbox_token,
    server_env,
    stdio_params,
)

__all__ = ["SandboxAdmin", "free_port", "running_sandbox", "sandbox_token", "server_env", "stdio_params"]
