"""Stage 1 of the pipeline: Chift's OpenAPI spec read as data.

- :mod:`~chift_mcp.openapi.spec`: the spec from the installed ``chift`` package (or ``CHIFT_OPENAPI``),
  ``$ref`` resolution.
- :mod:`~chift_mcp.openapi.operations`: :class:`Operation`, each endpoint's domain, kind, parameters,
  body, answer shape and paging.
- :mod:`~chift_mcp.openapi.schemas`: compact, portable JSON schemas.

Nothing here knows about tools, callers or doors.
"""
