"""Realistic values for string fields, chosen from the field's name and its parent's title.

``semantic_string("email", "clientitemout", draw, persona)`` -> ``"marie.dubois@dubois-design.be"``;
None when the name says nothing (the generator then uses the schema's examples or its title).
"""

from __future__ import annotations

import re
import uuid

from chift_mcp.sandbox import fakes
from chift_mcp.sandbox.fakes import Draw, Persona

_ID_NAME = re.compile(
    r"(^|_)id$|^(consumer|connection|sync|flow|webhook|trigger|execution|chainexecution|parentexecution|"
    r"preview_execution|datastore|datastoredata|issue)id$"
)
_PERSON_PARENTS = ("employee", "contact", "customer", "consumeraccount", "holder", "user")
_PARTY_PARENTS = (
    "client",
    "supplier",
    "partner",
    "consumer",
    "legalentity",
    "company",
    "folder",
    "counterpart",
    "owner",
)


def semantic_string(n: str, p: str, draw: Draw, who: Persona) -> str | None:
    """A realistic value for a string field called ``n`` inside an object titled ``p`` (lower case)."""
    if _ID_NAME.search(n):
        return str(uuid.UUID(int=draw.below(1 << 128), version=4))
    if n == "email" or n.endswith("_email"):
        return who.email
    if n in ("first_name", "firstname"):
        return who.first_name
    if n in ("last_name", "lastname"):
        return who.last_name
    if n in ("phone", "phone_number", "telephone", "fax"):
        return who.phone
    if n == "mobile":
        return who.mobile
    if n in ("website", "homepage"):
        return who.website
    if n.endswith("_url") or n == "url":
        if "logo" in n or "icon" in n:
            return f"https://cdn.chift.example/logos/{draw.digits(4)}.png"
        if "redirect" in n:
            return f"{who.website}/integrations/callback"
        return f"https://app.chift.example/link/{uuid.UUID(int=draw.below(1 << 128)).hex[:16]}"
    if n in ("street", "address_line1", "line1"):
        return who.street
    if n == "city":
        return who.city
    if n in ("postal_code", "zip", "zipcode", "postcode"):
        return who.postal_code
    if n in ("country", "shipping_country", "country_code", "nationality"):
        return who.country
    if n == "box":
        return draw.pick(("A", "2", "B", "12"))
    if n in ("vat", "vat_number", "tax_number"):
        return who.vat
    if n == "company_number":
        return who.company_number
    if n in ("iban", "bank_account"):
        return who.iban
    if n in ("bic", "bic_swift", "swift"):
        return who.bic
    if n in ("language", "lang", "locale"):
        return who.language
    if n in ("currency", "main_currency", "idevise") or n.endswith("_currency"):
        return draw.pick(fakes.CURRENCIES)
    if n == "timezone":
        return "Europe/Brussels"
    if n in ("function", "job_title"):
        return draw.pick(fakes.FUNCTIONS)
    if n in (
        "company_name",
        "partner_name",
        "counterpart_name",
        "legal_name",
        "customer_name",
        "supplier_name",
    ):
        return who.company
    if n == "holder_name":
        return who.full_name
    if n == "name" or n.endswith("_name"):
        return name_for(n, p, draw, who)
    if n in (
        "description",
        "label",
        "comment",
        "note",
        "details",
        "customer_memo",
        "description_html",
        "remittance_information",
        "additional_information",
        "internal_notes",
        "journallib",
        "ecriturelib",
    ):
        text = f"{draw.pick(fakes.LINE_DESCRIPTIONS)} - {who.company}"
        return f"<p>{text}</p>" if n.endswith("html") else text
    if n in ("invoice_number", "operation_number") or (n == "number" and ("invoice" in p or "entry" in p)):
        return f"INV/{draw.between(2024, 2025)}/{draw.between(1, 9999):05d}"
    if n == "order_number":
        return f"#{draw.between(1001, 99999)}"
    if n == "number":
        return who.street_number if "address" in p else f"{draw.between(1, 999999):06d}"
    if n in (
        "reference",
        "external_reference",
        "invoice_ref",
        "counterpart_reference",
        "internal_reference",
        "pieceref",
    ):
        return f"REF-{draw.between(2024, 2025)}-{draw.between(1, 99999):05d}"
    if n in ("payment_communication", "structured_communication"):
        digits = draw.digits(10)
        return f"+++{digits[:3]}/{digits[3:7]}/{digits[7:]}{int(digits) % 97 or 97:02d}+++"
    if n in ("matching_number", "automated_matching_number", "ecriturelet"):
        return draw.pick(("A", "B", "AB", "AC", "BD"))
    if ("account" in n and ("number" in n or "code" in n)) or n in (
        "account",
        "ledger_account",
        "general_ledger_account",
        "counterpart_account",
        "third_party_account",
        "payable_account",
        "deductible_account",
        "unallocated_account",
        "comptenum",
        "force_general_account",
        "accounting_code",
    ):
        return account_code(n, p, draw)
    if n in ("journal_code", "journalcode") or (n == "code" and "journal" in p):
        return draw.pick(fakes.JOURNALS)[0]
    if n in ("tax_code", "vat_code") or (n == "code" and ("tax" in p or "vat" in p)):
        return draw.pick(fakes.TAXES)[0]
    if n == "code":
        return f"{draw.pick(('C', 'P', 'A', 'X'))}{draw.between(100, 999)}"
    if n in ("sku", "product_code"):
        return f"SKU-{draw.between(10000, 99999)}"
    if n == "barcode":
        return draw.digits(13)
    if n in ("unit_of_measure", "unit"):
        return draw.pick(("unit", "hour", "day", "kg", "piece"))
    if n == "weight_unit":
        return "kg"
    if n in ("pdf", "base64_string", "content", "file"):
        return fakes.PDF_BASE64
    if n in ("pdf_name", "filename", "file_name"):
        return f"invoice-{draw.between(2024, 2025)}-{draw.between(1, 9999):05d}.pdf"
    if n in ("message", "reason", "error_message"):
        return draw.pick(fakes.MESSAGES)
    if n == "title":
        if any(word in p for word in _PERSON_PARENTS):
            return draw.pick(("Mr", "Mrs", "Ms", "Dr"))
        return draw.pick(fakes.PRODUCTS)
    if n in ("payment_method", "payment_method_name"):
        return draw.pick(fakes.PAYMENT_METHODS)
    if n in ("category", "accounting_category"):
        return draw.pick(fakes.CATEGORIES)
    if n in ("analytic_plan", "analytic_plan_code"):
        return draw.pick(fakes.ANALYTIC_PLANS)
    if n in ("tags", "tag", "labels"):
        return draw.pick(("vip", "b2b", "wholesale", "priority", "newsletter", "returning"))
    if n in ("key", "source_key", "module", "vertical"):
        return draw.pick(("invoices", "clients", "suppliers", "orders", "payments"))
    if n in ("clientid", "client_id_token"):
        return "sandbox-client"
    if n in ("api",):
        return draw.pick(("Accounting", "Invoicing", "Point of Sale", "eCommerce"))
    return None


def account_code(n: str, p: str, draw: Draw) -> str:
    if n.startswith("customer") or "client" in p or "customer" in p:
        return f"4000{draw.between(0, 99):02d}"
    if n.startswith("supplier") or "supplier" in p:
        return f"4400{draw.between(0, 99):02d}"
    return draw.pick(fakes.ACCOUNTS)[0]


def name_for(n: str, p: str, draw: Draw, who: Persona) -> str:
    if n in ("account_name", "comptelib", "ledger_account_name"):
        return draw.pick(fakes.ACCOUNTS)[1]
    if n in ("product_name",):
        return draw.pick(fakes.PRODUCTS)
    if n in ("journal_name",) or "journal" in p:
        return draw.pick(fakes.JOURNALS)[1]
    if n in ("bank_name",) or "bank" in p or "institution" in p:
        return draw.pick(fakes.BANKS)
    if n in ("integration_name",) or "integration" in p:
        return draw.pick(("Odoo Accounting", "Exact Online", "Shopify", "Lightspeed Restaurant", "Yuki"))
    if "categor" in p:
        return draw.pick(fakes.CATEGORIES)
    if "discount" in p:
        return draw.pick(("Summer sale -10%", "Loyalty discount", "Volume discount", "Promo code WELCOME5"))
    if "tax" in p or "vat" in p:
        code, rate = draw.pick(fakes.TAXES)
        return f"VAT {rate:g}% ({code})"
    if n in ("analytic_account_name",) or "analytic" in p:
        return draw.pick(("Marketing", "Sales", "R&D", "Operations", "Brussels office", "Project Atlas"))
    if "plan" in p:
        return draw.pick(fakes.ANALYTIC_PLANS)
    if "account" in p or "ledger" in p:
        return draw.pick(fakes.ACCOUNTS)[1]
    if "payment" in p or "method" in p:
        return draw.pick(fakes.PAYMENT_METHODS)
    if "address" in p:
        return who.company
    if "location" in p or "outlet" in p or "store" in p:
        return f"{who.city} - {draw.pick(('Centre', 'Gare', 'Shop', 'Warehouse', 'Terrace'))}"
    if any(word in p for word in ("product", "variant", "modifier", "line", "menu")) and not any(
        word in p for word in _PERSON_PARENTS + _PARTY_PARENTS
    ):
        return draw.pick(fakes.PRODUCTS)
    if any(word in p for word in _PERSON_PARENTS):
        return who.full_name
    if any(word in p for word in _PARTY_PARENTS):
        return who.company
    if "sync" in p or "flow" in p:
        return draw.pick(("Invoices to accounting", "POS closures to accounting", "Orders to invoicing"))
    if "webhook" in p:
        return "account.connection.updated"
    if "datastore" in p:
        return draw.pick(("mapping_vat_codes", "mapping_accounts", "mapping_journals"))
    return who.company
