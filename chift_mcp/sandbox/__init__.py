"""A fake Chift API generated from the real OpenAPI spec: a real HTTP server (Starlette).

Every operation of the spec answers: parameters and bodies are validated like Chift does (422
``ERROR_INVALID_PATH_PARAMETER`` / ``ERROR_INVALID_QUERY_PARAMETER`` / ``ERROR_INVALID_BODY``), answers
are deterministic realistic data valid against the response schemas, and created objects of the main
resources (``resources.RESOURCES``) can be read back and updated.

    app = build_app(spec, SandboxConfig(seed=1))        # in process: httpx2.ASGITransport(app=app)
    app.state.sandbox.faults.add(match="accounting_get_clients", kind="status", status=429, retry_after=1)
    app.state.sandbox.clock.hold()                       # latency sleeps end on clock.advance() (clock.py)
    run(port=8765)                                       # on a real port (``chift-mcp sandbox``)

Admin routes (no auth), for tests that run the sandbox in another process:

    POST   /_sandbox/faults        {"match": "<operationId | glob | METHOD /path-glob>",
                                    "kind": "latency" | "status" | "malformed_json" | "drop_after_processing",
                                    "status": 429|500|502|503|504, "retry_after": s, "latency": s,
                                    "times": N (default 1, 0 = until cleared), "error_code"?, "message"?}
    GET    /_sandbox/faults        pending faults        DELETE /_sandbox/faults   clear them
    POST   /_sandbox/revoke        revoke every token    POST   /_sandbox/reset    back to the config
    GET    /_sandbox/requests      request log (?operation_id=, ?limit=), never tokens
    GET    /_sandbox/stats         tokens issued, requests, processed writes, created objects, cache hits
    GET    /_sandbox/transactions  requests seen with X-Chift-Client-RequestId
    POST   /_sandbox/clock         {"advance": seconds} (token expiry)
    GET    /_sandbox/health
"""

from chift_mcp.sandbox.app import build_app
from chift_mcp.sandbox.config import (
    ACCOUNTING_CONSUMER_ID,
    DEMO_CONSUMER_ID,
    INACTIVE_CONSUMER_ID,
    ConnectionConfig,
    ConsumerConfig,
    SandboxConfig,
)
from chift_mcp.sandbox.faults import Fault, FaultError
from chift_mcp.sandbox.server import run
from chift_mcp.sandbox.state import SandboxState
from chift_mcp.settings import SANDBOX_ACCOUNT_ID, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

__all__ = [
    "ACCOUNTING_CONSUMER_ID",
    "DEMO_CONSUMER_ID",
    "INACTIVE_CONSUMER_ID",
    "SANDBOX_ACCOUNT_ID",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "ConnectionConfig",
    "ConsumerConfig",
    "Fault",
    "FaultError",
    "SandboxConfig",
    "SandboxState",
    "build_app",
    "run",
]
