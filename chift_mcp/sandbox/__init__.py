"""A fake Chift API generated from the real OpenAPI spec: a real HTTP server (Starlette).

Every operation of the spec answers: parameters and bodies are validated like Chift does (422
``ERROR_INVALID_PATH_PARAMETER`` / ``ERROR_INVALID_QUERY_PARAMETER`` / ``ERROR_INVALID_BODY``), answers
are deterministic realistic data valid against the response schemas, and created objects of the main
resources (``resources.RESOURCES``) can be read back and updated.

It follows Chift's contract as its docs and SDKs write it (docs/chift-contract.md has every rule with
its source): GET answers cached 5 minutes, writes included, unless ``x-chift-force-refresh: true``
(``cache.py``); a consumer with two connections on one API needs ``X-Chift-Connectionid`` or
``X-Chift-Integrationid``, a multi-folder connection needs ``folder_id`` (``scope.py``); Chift's error
codes with their documented statuses (``error_table.py``); Chift's rate-limit retries (``faults.py``);
creates give back what was sent (``store.py``); ``GET /openapi.json`` serves the spec. Demo consumers:
``config.py``.

    app = build_app(spec, SandboxConfig(seed=1))        # in process: httpx2.ASGITransport(app=app)
    app.state.sandbox.faults.add(match="accounting_get_clients", kind="status", status=429, retry_after=1)
    app.state.sandbox.faults.add(match="accounting_*", error_code="ERROR_BACKEND_NOT_FOUND")  # 504
    app.state.sandbox.faults.add(match="accounting_*", kind="rate_limit", window="daily")
    app.state.sandbox.clock.hold()                       # latency sleeps end on clock.advance() (clock.py)
    run(port=8765)                                       # on a real port (``chift-mcp sandbox``)

Admin routes (no auth), for tests that run the sandbox in another process:

    POST   /_sandbox/faults        {"match": "<operationId | glob | METHOD /path-glob>",
                                    "kind": "latency" | "status" | "rate_limit" | "malformed_json"
                                            | "drop_after_processing",
                                    "status": 400-599, "error_code"?: any code of Chift's table,
                                    "retry_after": s, "latency": s, "times": N (default 1, 0 = until
                                    cleared), "message"?, "window": "short" | "daily", "refusals": N,
                                    "reset_in": s}
    GET    /_sandbox/faults        pending faults        DELETE /_sandbox/faults   clear them
    POST   /_sandbox/revoke        revoke every token    POST   /_sandbox/reset    back to the config
    GET    /_sandbox/requests      request log (?operation_id=, ?limit=), never tokens
    GET    /_sandbox/stats         tokens issued, requests, processed writes, created objects, cache hits
    GET    /_sandbox/transactions  requests seen with X-Chift-Client-RequestId
    POST   /_sandbox/clock         {"advance": seconds} (token expiry, the cache), {"backoff_scale": x}
    POST   /_sandbox/cache         {"ttl": seconds} (0 = no cache)   DELETE /_sandbox/cache   empty it
    GET    /_sandbox/health
"""

from chift_mcp.sandbox.app import build_app
from chift_mcp.sandbox.config import (
    ACCOUNTING_CONSUMER_ID,
    DEMO_CONSUMER_ID,
    INACTIVE_CONSUMER_ID,
    MULTI_FOLDER_CONSUMER_ID,
    TWO_CONNECTIONS_CONSUMER_ID,
    ConnectionConfig,
    ConsumerConfig,
    FolderConfig,
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
    "MULTI_FOLDER_CONSUMER_ID",
    "SANDBOX_ACCOUNT_ID",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "TWO_CONNECTIONS_CONSUMER_ID",
    "ConnectionConfig",
    "ConsumerConfig",
    "Fault",
    "FaultError",
    "FolderConfig",
    "SandboxConfig",
    "SandboxState",
    "build_app",
    "run",
]
