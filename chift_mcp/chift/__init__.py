"""The Chift client: the bottom of the pipeline, where requests leave the process.

- :mod:`~chift_mcp.chift.client`: :class:`ChiftClient`, the request flow (idempotency keys, deadline,
  decoding).
- :mod:`~chift_mcp.chift.auth`: the two ``httpx2.Auth`` strategies (API-key token, pass-through).
- :mod:`~chift_mcp.chift.retry`: which answers are retried, backoff, budget.
- :mod:`~chift_mcp.chift.failures`: Chift's error answers and transport failures as ``UpstreamError``.
- :mod:`~chift_mcp.chift.hints`: the table from (status, Chift error code, situation) to a hint.
- :mod:`~chift_mcp.chift.scrub`: secrets out of everything that leaves the client.

It knows nothing of tools or MCP: only settings and the error types.
"""
