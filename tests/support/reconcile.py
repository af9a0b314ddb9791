"""A scripted agent that books invoicing invoices into accounting in discovery mode, with only the
three discovery tools (find -> describe -> call), as the reconcile_invoices prompt says: partner
matched or created by VAT number, VAT code by rate, sales journal, one create per invoice.

The same workflow as bench/discovery_reconcile.py, which measures it over stdio; the tests run it
through an in-memory session (tests/modes/test_discovery.py).
"""

from __future__ import annotations

import json
from typing import Any

from mcp.client import Client

from support import DEMO


class Agent:
    """Only the three discovery tools; records what it read."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.read_chars = 0
        self.steps: list[str] = []

    async def tool(self, name: str, args: dict[str, Any]) -> Any:
        result = await self.client.call_tool(name, args)
        text = result.content[0].text  # type: ignore[union-attr]
        self.read_chars += len(text)
        data = json.loads(text)
        if result.is_error:
            raise RuntimeError(f"{name}({args.get('name', '')}) failed: {data}")
        return data

    async def find(self, query: str, kind: str | None = None) -> str:
        args: dict[str, Any] = {"query": query, "limit": 5}
        if kind:
            args["kind"] = kind
        found = await self.tool("find_operations", args)
        name = found["operations"][0]["name"]
        self.steps.append(f"find {query!r} -> {name}")
        return str(name)

    async def describe(self, name: str) -> dict[str, Any]:
        described = await self.tool("describe_operation", {"name": name})
        self.steps.append(f"describe {name}")
        return dict(described)

    async def call(self, name: str, arguments: dict[str, Any]) -> Any:
        self.steps.append(f"call {name}")
        return await self.tool("call_operation", {"name": name, "arguments": arguments})


async def reconcile(client: Client, consumer: str = DEMO, invoices: int = 3) -> dict[str, Any]:
    agent = Agent(client)
    c = {"consumer_id": consumer}
    list_invoices = await agent.find("list the invoices issued in the invoicing software")
    assert "folder_id" not in (await agent.describe(list_invoices))["arguments"]["properties"]
    page = await agent.call(
        list_invoices,
        {
            **c,
            "invoice_type": "customer_invoice",
            "include_invoice_lines": True,
            "limit": invoices,
            "fields": [
                "id",
                "invoice_number",
                "currency",
                "untaxed_amount",
                "tax_amount",
                "total",
                "invoice_date",
                "due_date",
                "partner_id",
                "lines",
            ],
        },
    )
    get_contact = await agent.find("get one invoicing contact")
    find_clients = await agent.find("accounting clients search by vat")
    create_client = await agent.find("create accounting client", kind="create")
    client_schema = (await agent.describe(create_client))["arguments"]
    vat_codes = (await agent.call(await agent.find("accounting vat codes"), {**c, "limit": 100}))["items"]
    journals = (await agent.call(await agent.find("accounting journals"), {**c, "limit": 100}))["items"]
    booked = await agent.call(
        await agent.find("booked sale purchase entries by type"),
        {**c, "invoice_type": "customer_invoice", "limit": 100, "fields": ["invoice_number"]},
    )
    already = {i.get("invoice_number") for i in booked["items"]}
    create_entry = await agent.find("create sale invoice entry in accounting", kind="create")
    entry_schema = (await agent.describe(create_entry))["arguments"]
    sales_journal = next((j for j in journals if "sale" in json.dumps(j).lower()), journals[0])

    report: dict[str, Any] = {"booked": [], "skipped": [], "partners_created": 0}
    for invoice in page["items"]:
        if invoice["invoice_number"] in already:
            report["skipped"].append(invoice["invoice_number"])
            continue
        contact = await agent.call(get_contact, {**c, "contact_id": invoice["partner_id"]})
        vat = contact.get("vat") or contact.get("company_number") or contact.get("name", "")
        matches = (await agent.call(find_clients, {**c, "search": vat, "limit": 1, "fields": ["id", "vat"]}))[
            "items"
        ]
        if matches and matches[0].get("vat") == vat:
            partner_id = matches[0]["id"]
        else:
            address = (contact.get("addresses") or [{}])[0]
            new = {
                **c,
                "name": contact.get("name") or "Unknown partner",
                "is_company": True,
                "vat": contact.get("vat"),
                "addresses": [
                    {
                        "address_type": "main",
                        "street": address.get("street") or "Unknown",
                        "city": address.get("city") or "Unknown",
                        "postal_code": address.get("postal_code") or "0000",
                        "country": address.get("country") or "BE",
                    }
                ],
            }
            partner_id = (
                await agent.call(
                    create_client,
                    {k: v for k, v in new.items() if k in client_schema["properties"] and v is not None},
                )
            )["id"]
            report["partners_created"] += 1
        lines = []
        for line in invoice["lines"]:
            rate = float(line.get("tax_rate", 0.0))
            code = next((v for v in vat_codes if v.get("rate") == rate and v.get("code")), None) or next(
                v for v in vat_codes if v.get("code")
            )
            lines.append(
                {
                    "unit_price": line["unit_price"],
                    "quantity": line["quantity"],
                    "untaxed_amount": line["untaxed_amount"],
                    "tax_rate": rate,
                    "tax_amount": line["tax_amount"],
                    "total": line["total"],
                    "account_number": "700000",
                    "tax_code": code["code"],
                    "description": line.get("description", "")[:120],
                }
            )
        entry = {
            **c,
            "invoice_type": "customer_invoice",
            "invoice_number": invoice["invoice_number"],
            "currency": invoice["currency"],
            "untaxed_amount": invoice["untaxed_amount"],
            "tax_amount": invoice["tax_amount"],
            "total": invoice["total"],
            "invoice_date": invoice["invoice_date"],
            "due_date": invoice.get("due_date", invoice["invoice_date"]),
            "partner_id": partner_id,
            "journal_id": sales_journal["id"],
            "lines": lines,
        }
        created = await agent.call(
            create_entry, {k: v for k, v in entry.items() if k in entry_schema["properties"]}
        )
        report["booked"].append({"invoice_number": invoice["invoice_number"], "entry_id": created["id"]})
    report["steps"] = agent.steps
    report["answer_chars_read"] = agent.read_chars
    return report
