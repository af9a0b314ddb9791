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


# A valid accounting invoice (accounting_create_invoice's arguments) and its one line, for tests
# that need a create that passes validation.
INVOICE_LINE = {
    "unit_price": 100,
    "quantity": 1,
    "untaxed_amount": 100,
    "tax_rate": 21,
    "tax_amount": 21,
    "total": 121,
    "account_number": "700000",
    "tax_code": "V21",
}
INVOICE = {
    "consumer_id": DEMO,
    "invoice_type": "customer_invoice",
    "currency": "EUR",
    "untaxed_amount": 100,
    "tax_amount": 21,
    "total": 121,
    "invoice_date": "2026-01-31",
    "due_date": "2026-02-28",
    "lines": [INVOICE_LINE],
}


def payload(result: Any) -> Any:
    """The JSON a tool result's (first) text content carries."""
    return json.loads(result.content[0].text)


__all__ = ["ACCOUNTING_ONLY", "DEMO", "POS_INTEGRATION", "TIMEOUT", "payload"]
