"""For the examples: how to run chift-mcp, and a throwaway `chift-mcp --sandbox http` server.

Not part of the package: the examples import it from their own folder.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

DEMO_CONSUMER = "11111111-1111-4111-8111-111111111111"


def server_command(given: str | None) -> list[str]:
    """The command that runs chift-mcp: ``--server-cmd``, else ``chift-mcp`` on PATH, else this Python."""
    if given:
        return shlex.split(given)
    found = shutil.which("chift-mcp")
    return [found] if found else [sys.executable, "-m", "chift_mcp"]


@contextmanager
def sandbox_http_server(command: list[str], *extra: str) -> Iterator[tuple[str, str]]:
    """``chift-mcp --sandbox http`` on a free loopback port with a fresh bearer token.

    Yields (MCP endpoint URL, token); stops the server on exit.
    """
    token = "cmcp_" + secrets.token_urlsafe(32)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIFT_")}
    env["CHIFT_MCP_TOKEN"] = token
    proc = subprocess.Popen(
        [*command, "--sandbox", "http", "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"chift-mcp http exited with code {proc.returncode}")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise SystemExit("chift-mcp http did not start within 30 s") from None
                time.sleep(0.1)
        yield base + "/mcp", token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
