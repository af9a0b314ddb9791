"""Stage 2: tools as data, and who may see and call them.

- :mod:`~chift_mcp.tools.definition`: :class:`ToolSpec` (frozen), local tools, ``LocalCall``.
- :mod:`~chift_mcp.tools.result`: :class:`ToolResult`, what every call returns.
- :mod:`~chift_mcp.tools.factory` (and :mod:`~chift_mcp.tools.cache`): one ToolSpec per operation.
- :mod:`~chift_mcp.tools.access`: :class:`Access`, a caller's rights (function config, read-only,
  consumer, grant).
- :mod:`~chift_mcp.tools.inventory`: the immutable :class:`Inventory` and each caller's
  :class:`View`, the one place that decides what a caller sees.
- :mod:`~chift_mcp.tools.finder` (and :mod:`~chift_mcp.tools.vocabulary`): the operation finder.
- :mod:`~chift_mcp.tools.catalogue`: the generated tool page of the docs.
"""
