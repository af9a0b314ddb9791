"""A tiny ``llms-full.txt``: five pages (rate limits, idempotency with a code block, a POS connector,
an endpoint, one long page) for the search tool's tests, built with the fake embedder."""

from __future__ import annotations

CORPUS = (
    """\
# Rate limits
Source: https://docs.chift.eu/developer-guides/rate-limits
There are no rate limits on requests sent to Chift.
## Connector limits
Connectors may throttle requests; Chift retries with exponential backoff.
# Idempotency
Source: https://docs.chift.eu/developer-guides/advanced/idempotency
Send the X-Chift-Client-RequestId header on POST so a retried request is processed once.
### What can you expect?
A replay answers 409 REQUEST_ALREADY_PROCESSED.
```python
# this is a comment, not a heading
requests.post(url, headers={"X-Chift-Client-RequestId": "123"})
```
# Zelty
Source: https://docs.chift.eu/connectors/pos/zelty
Zelty is a point of sale for restaurants.
## Configure Zelty
Ask the restaurant for an API key in the Zelty back office.
# Get vat codes
Source: https://docs.chift.eu/api-reference/endpoints/accounting/get-vat-codes
get /consumers/{consumer_id}/accounting/vat-codes
Returns the VAT codes of the accounting software.
# Long page
Source: https://docs.chift.eu/developer-guides/long
"""
    + "\n".join(f"Paragraph {i} talks about journals and ledger accounts at length." for i in range(60))
    + "\n"
)
