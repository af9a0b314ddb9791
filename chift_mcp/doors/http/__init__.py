"""The streamable HTTP door.

- :mod:`~chift_mcp.doors.http.app`: routes, the SDK's session manager, wiring, uvicorn.
- :mod:`~chift_mcp.doors.http.guard`: Host/Origin checks, bearer tokens, the consumer header, each
  request's access.
- :mod:`~chift_mcp.doors.http.tokens`: the table of token hashes and each token's grant.
- :mod:`~chift_mcp.doors.http.lifecycle`: drain on SIGTERM, the access log, readiness, outcomes.
- :mod:`~chift_mcp.doors.http.events`: the bounded event store for resumable SSE streams.
- :mod:`~chift_mcp.doors.http.metrics`: ``/metrics`` (Prometheus).
"""
