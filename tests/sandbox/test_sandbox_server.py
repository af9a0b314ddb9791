"""Building is cheap, and ``run()`` serves the sandbox on a real port with nothing on stdout."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx2
from support.sandbox import CREDENTIALS

import chift_mcp.sandbox as sandbox_pkg
from chift_mcp.openapi.spec import Spec
from chift_mcp.sandbox import DEMO_CONSUMER_ID, SandboxState, build_app


def test_public_surface() -> None:
    assert set(sandbox_pkg.__all__) >= {
        "build_app",
        "run",
        "SandboxConfig",
        "SandboxState",
        "DEMO_CONSUMER_ID",
        "ACCOUNTING_CONSUMER_ID",
        "SANDBOX_CLIENT_ID",
        "SANDBOX_CLIENT_SECRET",
        "SANDBOX_ACCOUNT_ID",
    }
    assert DEMO_CONSUMER_ID == "11111111-1111-4111-8111-111111111111"
    assert sandbox_pkg.ACCOUNTING_CONSUMER_ID == "22222222-2222-4222-8222-222222222222"


def test_building_is_cheap(chift_spec: Spec) -> None:
    build_app(chift_spec)  # warm imports
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        app = build_app(chift_spec)
        timings.append(time.perf_counter() - started)
    assert min(timings) < 0.05, f"build_app took {min(timings) * 1000:.1f} ms"
    assert isinstance(app.state.sandbox, SandboxState)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_serves_on_a_port_and_keeps_stdout_clean() -> None:
    port = _free_port()
    code = f"from chift_mcp.sandbox import run; run(port={port})"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                httpx2.get(f"{url}/_sandbox/health", timeout=1)
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.05)
        with httpx2.Client(base_url=url, timeout=5) as client:
            token = client.post("/token", json=CREDENTIALS).json()["access_token"]
            response = client.get(
                f"/consumers/{DEMO_CONSUMER_ID}/accounting/clients",
                headers={"Authorization": f"Bearer {token}"},
            )
        assert response.status_code == 200 and response.json()["items"]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert out == b""
    assert b"Uvicorn running" in err or b"Application startup complete" in err
