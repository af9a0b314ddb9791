"""Local tools that present the operations differently, all calling through the registry.

- :mod:`~chift_mcp.modes.discovery`: ``find_operations``, ``describe_operation``, ``call_operation``.
- :mod:`~chift_mcp.modes.code`: code mode (programs in pydantic-monty).
- :mod:`~chift_mcp.modes.docs_search`: ``SearchChift`` and its index service.
- :mod:`~chift_mcp.modes.prompts`: the workflow prompts.
"""
