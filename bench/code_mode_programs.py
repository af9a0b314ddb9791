"""The two tasks of bench/code_mode.py as the programs a code-mode agent writes for ``execute``.

Tools and discovery mode run the very same source on the host, each operation a tool call, so the
three modes follow one logic and must reach one answer. ``SCENARIO_OPERATIONS``: the operations each
task needs, with the query an agent would give find_operations for each.
"""

from __future__ import annotations

DEMO = "11111111-1111-4111-8111-111111111111"

_EVERY = '''
def every(operation, **arguments):
    """Every item of a list operation: pages of up to 1000, followed by next_offset."""
    items, offset = [], 0
    while True:
        page = operation(consumer_id=C, limit=1000, offset=offset, **arguments)
        items.extend(page["items"])
        if "next_offset" not in page:
            return items
        offset = page["next_offset"]
'''

MONTH_END = (
    f'''
import datetime
C = "{DEMO}"
START, END = "2025-06-01", "2025-06-30"
end = datetime.date.fromisoformat(END)
'''
    + _EVERY
    + """
active = {c["api"] for c in connections_get_connections(consumer_id=C)["items"] if c.get("status") == "active"}
open_items = {
    kind: every(accounting_get_outstandings, type=kind, unposted_allowed=False, fields=["number", "due_date", "open_amount"])
    for kind in ("client", "supplier")
}
unpaid = {
    kind: every(
        accounting_get_invoices_by_type,
        invoice_type=kind,
        payment_status="unpaid",
        fields=["invoice_number", "partner_id", "total", "due_date"],
    )
    for kind in ("customer_invoice", "supplier_invoice")
}
overdue = []
for kind, invoices in unpaid.items():
    for invoice in invoices:
        due = invoice.get("due_date")
        if due and due < END:
            late = (end - datetime.date.fromisoformat(due)).days
            overdue.append([late, kind, invoice.get("partner_id"), invoice.get("invoice_number"), invoice.get("total")])
overdue.sort(key=lambda row: -row[0])
matches = []
if "Banking" in active:
    by_amount = {}
    for invoices in unpaid.values():
        for invoice in invoices:
            by_amount.setdefault(round(invoice.get("total", 0), 2), invoice.get("invoice_number"))
    for account in every(banking_get_accounts, fields=["id"]):
        transactions = every(
            banking_get_account_transactions,
            account_id=account["id"],
            date_from=START,
            date_to=END,
            fields=["id", "amount"],
        )
        for tx in transactions:
            number = by_amount.get(round(abs(tx.get("amount", 0)), 2))
            if number:
                matches.append([tx["id"], number])
balances = every(accounting_get_accounts_balances, accounts=["40", "41"], start="202506", end="202506", fields=["account_number", "balance"])
{
    "receivable": round(sum(i.get("total", 0) for i in unpaid["customer_invoice"]), 2),
    "payable": round(sum(i.get("total", 0) for i in unpaid["supplier_invoice"]), 2),
    "unpaid_invoices": {kind: len(invoices) for kind, invoices in unpaid.items()},
    "open_items": {kind: [len(items), round(sum(i.get("open_amount", 0) for i in items), 2)] for kind, items in open_items.items()},
    "overdue": len(overdue),
    "oldest_overdue": overdue[:10],
    "bank_matches": len(matches),
    "first_matches": matches[:5],
    "balances": {b["account_number"]: b.get("balance") for b in balances},
}
"""
)

RECONCILE = (
    f'''
C = "{DEMO}"
START, END = "2025-03-01", "2025-03-31"
BATCH = 60  # invoices per run: at most 2 operation calls each, under the 200 calls a run may make
'''
    + _EVERY
    + """
booked = {i.get("invoice_number") for i in every(accounting_get_invoices_by_type, invoice_type="customer_invoice", fields=["invoice_number"])}
invoices = [
    i
    for i in every(
        invoicing_get_invoices,
        invoice_type="customer_invoice",
        date_from=START,
        date_to=END,
        include_invoice_lines=True,
        fields=["invoice_number", "currency", "untaxed_amount", "tax_amount", "total", "invoice_date", "due_date", "partner_id", "lines"],
    )
    if START <= i.get("invoice_date", "") <= END
]
todo = [i for i in invoices if i.get("invoice_number") not in booked]
contacts = {c["id"]: c for c in every(invoicing_get_contacts, fields=["id", "vat", "company_name", "addresses"])}
clients = every(accounting_get_clients, fields=["id", "vat", "name"])
by_vat = {c["vat"]: c["id"] for c in clients if c.get("vat")}
by_name = {c["name"]: c["id"] for c in clients if c.get("name")}
codes = {}
for v in every(accounting_get_vat_codes, fields=["code", "rate", "type"]):
    if v.get("code") and v.get("type") in ("sale", "both"):
        codes.setdefault(v.get("rate", 0.0), v["code"])
any_code = sorted(codes.values())[0]
journals = every(accounting_get_journals, fields=["id", "journal_type"])
journal = ([j["id"] for j in journals if j.get("journal_type") == "customer_invoice"] or [journals[0]["id"]])[0]
done, partners, amount = 0, 0, 0.0
for invoice in todo[:BATCH]:
    contact = contacts.get(invoice.get("partner_id"), {})
    name = contact.get("company_name") or "Unknown partner"
    partner = by_vat.get(contact.get("vat")) or by_name.get(name)
    if partner is None:
        address = (contact.get("addresses") or [{}])[0]
        made = accounting_create_client(
            consumer_id=C,
            name=name,
            is_company=True,
            vat=contact.get("vat"),
            addresses=[{
                "address_type": "main",
                "street": address.get("street") or "Unknown",
                "city": address.get("city") or "Unknown",
                "postal_code": address.get("postal_code") or "0000",
                "country": address.get("country") or "BE",
            }],
        )
        partner, partners = made["id"], partners + 1
        by_name[name] = partner
        if contact.get("vat"):
            by_vat[contact["vat"]] = partner
    lines = [
        {
            "unit_price": line.get("unit_price", line.get("untaxed_amount", 0.0)),
            "quantity": line.get("quantity", 1.0),
            "untaxed_amount": line.get("untaxed_amount", 0.0),
            "tax_rate": line.get("tax_rate", 0.0),
            "tax_amount": line.get("tax_amount", 0.0),
            "total": line.get("total", 0.0),
            "account_number": "700000",
            "tax_code": codes.get(line.get("tax_rate", 0.0), any_code),
            "description": (line.get("description") or "")[:120],
        }
        for line in invoice.get("lines") or []
    ] or [{
        "unit_price": invoice.get("untaxed_amount", 0.0), "quantity": 1.0,
        "untaxed_amount": invoice.get("untaxed_amount", 0.0), "tax_rate": 0.0,
        "tax_amount": invoice.get("tax_amount", 0.0), "total": invoice.get("total", 0.0),
        "account_number": "700000", "tax_code": any_code,
    }]
    accounting_create_invoice(
        consumer_id=C,
        invoice_type="customer_invoice",
        invoice_number=invoice["invoice_number"],
        currency=invoice.get("currency", "EUR"),
        untaxed_amount=invoice.get("untaxed_amount", 0.0),
        tax_amount=invoice.get("tax_amount", 0.0),
        total=invoice.get("total", 0.0),
        invoice_date=invoice["invoice_date"],
        due_date=invoice.get("due_date") or invoice["invoice_date"],
        partner_id=partner,
        journal_id=journal,
        lines=lines,
    )
    done, amount = done + 1, amount + invoice.get("total", 0.0)
{
    "booked": done,
    "partners_created": partners,
    "booked_total": round(amount, 2),
    "skipped_already_booked": len(invoices) - len(todo),
    "left": len(todo) - done,
}
"""
)

SCENARIO_OPERATIONS: dict[str, list[tuple[str, str]]] = {
    "month-end": [
        ("consumer connections", "connections_get_connections"),
        ("outstanding open items of clients and suppliers", "accounting_get_outstandings"),
        ("booked unpaid customer and supplier invoices", "accounting_get_invoices_by_type"),
        ("banking accounts", "banking_get_accounts"),
        ("banking transactions of an account", "banking_get_account_transactions"),
        ("accounts balances", "accounting_get_accounts_balances"),
    ],
    "reconcile": [
        ("booked sale purchase entries by type", "accounting_get_invoices_by_type"),
        ("invoices issued in the invoicing software", "invoicing_get_invoices"),
        ("invoicing contacts", "invoicing_get_contacts"),
        ("accounting clients", "accounting_get_clients"),
        ("accounting vat codes", "accounting_get_vat_codes"),
        ("accounting journals", "accounting_get_journals"),
        ("create accounting client", "accounting_create_client"),
        ("create sale invoice entry in accounting", "accounting_create_invoice"),
    ],
}
