"""Stage 3: a tool call, from arguments to the answer an agent reads.

- :mod:`~chift_mcp.calls.registry`: :class:`Registry` — look up in the caller's view, validate,
  bind the consumer, build the request, page, shape.
- :mod:`~chift_mcp.calls.shaping`: pruning, ``fields`` selection, the size cap and its notes.

The Chift client is handed in (:mod:`chift_mcp.chift`); the registry never builds one.
"""
