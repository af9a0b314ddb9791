"""What the tests share, imported as ``from support import ...`` (pyproject.toml's ``pythonpath``
puts tests/ on the path; no test module imports another).

- :mod:`support.inproc`: an MCP client session in memory to a server over the in-process sandbox;
- :mod:`support.processes`: the real processes, for the slow smoke tests;
- :mod:`support.reconcile`: the scripted discovery-mode agent;
- :mod:`support.docs`: a tiny docs corpus for the search tool.
"""

from __future__ import annotations

import json
from typing import Any

# The sandbox's demo consumers.
DEMO = "11111111-1111-4111-8111-111111111111"  # a connection in every domain
ACCOUNTING_ONLY = "22222222-2222-4222-8222-222222222222"  # one accounting connection
POS_INTEGRATION = 2004  # the sandbox's Lightspeed (Point of Sale)
TIMEOUT = 30  # seconds: the bound on any one test's waits


def payload(result: Any) -> Any:
    """The JSON a tool result's (first) text content carries."""
    return json.loads(result.content[0].text)


__all__ = ["ACCOUNTING_ONLY", "DEMO", "POS_INTEGRATION", "TIMEOUT", "payload"]
