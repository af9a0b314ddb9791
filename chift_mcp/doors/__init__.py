"""The doors: how a client reaches the server. They hold no business logic.

- :mod:`~chift_mcp.doors.stdio`: the stdio transport (size cap, SIGINT that finishes in-flight calls).
- :mod:`~chift_mcp.doors.http`: streamable HTTP (bearer tokens, grants, limits, metrics, events).
- :mod:`~chift_mcp.doors.limits`: per-token rate limits and the per-consumer cap on Chift requests.
"""
