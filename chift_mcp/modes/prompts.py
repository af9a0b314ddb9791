"""Prompts: short workflows that show an agent how to use the tools well.

Each prompt names the operations to call; in discovery mode the agent reaches them through
``call_operation``, in code mode as functions inside an ``execute`` program (the rendered text says
so), so the same prompts serve every mode.
"""

from __future__ import annotations

__all__ = ["PROMPTS", "render"]

from collections.abc import Callable
from dataclasses import dataclass

from chift_mcp.tools.access import Access


@dataclass(frozen=True)
class PromptSpec:
    name: str
    title: str
    description: str
    arguments: tuple[tuple[str, str, bool], ...]  # (name, description, required)
    render: Callable[[dict[str, str], Access], str]


def _consumer_step(access: Access, wanted: str = "") -> str:
    if access.consumer_id:
        return f"This server is bound to consumer {access.consumer_id}: you never pass consumer_id."
    search = f' with search="{wanted}"' if wanted else ""
    return (
        f"Find the consumer with consumers_get_consumers{search}, confirm it with the user, "
        "and pass its consumerid as consumer_id to every call."
    )


def _mode_note(access: Access) -> str:
    if access.mode == "discovery":
        return (
            "\nThe operations named here are reached through the discovery tools: describe_operation(name) "
            "for their arguments, then call_operation(name, arguments)."
        )
    if access.mode == "code":
        return (
            "\nThe operations named here are Python functions inside execute: describe_operation(name) "
            "shows each one's keyword arguments and answer. Write one program that does the steps (paging "
            "with limit up to 1000, matching, totals) and ends with an expression holding only the report; "
            "a failed call raises RuntimeError('CODE: message Hint: ...'). Check what exists before a create "
            "and create each object once; a program that fails reports the writes it already made."
        )
    return ""


def _choose_consumer(args: dict[str, str], access: Access) -> str:
    wanted = (args.get("consumer") or "").strip()
    if access.consumer_id:
        steps = [
            f"This server is bound to consumer {access.consumer_id}; every tool works on it.",
            "1. Call connections_get_connections to see its connections: each has an `api` "
            "(Accounting, Invoicing, Point of Sale, eCommerce, ...) and a `status`.",
            "2. Use only tools of the domains whose connection is active; the tool list already leaves out the others.",
            "3. For accounting with several folders, call accounting_get_folders first and pass folder_id.",
        ]
        return "\n".join(steps) + _mode_note(access)
    steps = [
        "You work with the Chift unified API through these tools. First choose the consumer (an end customer).",
        "1. Call consumers_get_consumers"
        + (f' with search="{wanted}"' if wanted else "")
        + " and show the user the consumers found (name, consumerid, internal_reference).",
        "2. Ask the user to confirm exactly which consumer to use; do not guess between similar names, "
        "and never act on all consumers without an explicit yes.",
        "3. Call connections_get_connections with that consumer_id. Keep the connections whose status is "
        "active; their `api` tells which tools apply: Accounting -> accounting_*, Invoicing -> invoicing_*, "
        "Point of Sale -> pos_*, eCommerce -> ecommerce_*, Property Management System -> pms_*, "
        "Payment -> payment_*, Banking -> banking_*, Spend Management -> spend_management_*.",
        "4. Pass the same consumer_id to every later call. For accounting with several folders, call "
        "accounting_get_folders and pass folder_id.",
        "5. If a call fails, read its error: it says which field to fix and whether retrying helps.",
    ]
    return "\n".join(steps) + _mode_note(access)


def _reconcile(args: dict[str, str], access: Access) -> str:
    period = ""
    if args.get("date_from") or args.get("date_to"):
        period = f" from {args.get('date_from') or 'the start'} to {args.get('date_to') or 'today'}"
    which = (args.get("invoice_type") or "both").lower()
    types = {
        "sales": "customer_invoice",
        "purchases": "supplier_invoice",
    }.get(which, "customer_invoice and supplier_invoice")
    steps = [
        f"Goal: book the invoicing software's invoices{period} into accounting ({types}), once each.",
        "1. " + _consumer_step(access) + " It needs an active Invoicing and an active Accounting connection "
        "(connections_get_connections). With several accounting folders, pick one (accounting_get_folders) "
        "and pass folder_id everywhere.",
        f"2. List the invoices: invoicing_get_invoices (date_from/date_to{', invoice_type' if which != 'both' else ''}; "
        "include_invoice_lines=true; fields can keep only id, invoice_number, invoice_type, dates, currency, totals, "
        "partner_id, lines).",
        "3. Skip those already booked: accounting_get_invoices_by_type for the same type and period; an invoice is "
        "booked when an entry has the same invoice_number (or reference) and total.",
        "4. Partner: read the invoicing contact (invoicing_get_contact). Match it in accounting "
        "(accounting_get_clients for sales, accounting_get_suppliers for purchases) by VAT number first "
        "(search=<vat>), then company number, then name. If none matches, create it "
        "(accounting_create_client / accounting_create_supplier) with its VAT number, address and country.",
        "5. VAT codes: for each tax rate on the lines (invoicing_get_taxes), pick the accounting VAT code with the "
        "same rate and scope (accounting_get_vat_codes: sale codes for sales, purchase codes for purchases). "
        "Ask the user when two codes fit or none does.",
        "6. Journal and accounts: a sales or purchase journal from accounting_get_journals; for a line without an "
        "account, a class 7 (sales) or class 6 (purchases) account from accounting_get_chart_of_accounts "
        "(classes filter).",
        "7. Create the entry with accounting_create_invoice: invoice_type, invoice_number, currency, untaxed_amount, "
        "tax_amount, total, invoice_date, due_date, partner_id, journal_id and lines (account_number, tax_code, "
        "tax_rate, unit_price, quantity, amounts). Lines must add up to the totals; when VAT rounding makes them "
        "differ, pass invoice_correction with the rounding tax code and accounts. Several analytic plans: use "
        "accounting_create_invoice_multiple_plans.",
        "8. Errors: fix the field the error names and retry. REQUEST_ALREADY_PROCESSED means the entry exists: do "
        "not create it again, look it up instead. ERROR_SYNC_INVOICE_* codes mean a mapping (account, partner, "
        "tax rate, journal) is missing.",
        "9. Report: booked, skipped (already there), partners created, and anything left for the user to decide.",
    ]
    return "\n".join(steps) + _mode_note(access)


def _month_end(args: dict[str, str], access: Access) -> str:
    month = (args.get("month") or "").strip()
    label = f" for {month}" if month else " for the month just closed"
    steps = [
        f"Goal: a month-end check of unpaid invoices and outstanding items{label}.",
        "1. "
        + _consumer_step(access)
        + " It needs an active Accounting connection; Banking helps with step 4.",
        "2. Open items: accounting_get_outstandings with type=client and again with type=supplier "
        "(unposted_allowed=false for booked items only); note each item's due date and amount.",
        "3. Unpaid invoices of the month: accounting_get_invoices_by_type with payment_status=unpaid and "
        "date_from/date_to on the month, once for customer_invoice and once for supplier_invoice "
        "(fields: invoice_number, partner_id, total, due_date).",
        "4. Payments not yet matched (if Banking is connected): banking_get_accounts, then "
        "banking_get_account_transactions per account_id for the month; compare amounts and communications "
        "with the unpaid invoices.",
        '5. Balances: accounting_get_accounts_balances with accounts ["40", "41"] (suppliers, clients) and '
        "start/end as YYYYMM for the month.",
        "6. Report: totals receivable and payable, overdue items oldest first (partner, number, amount, days "
        "late), payments that look like matches, and what to chase. Read only: do not create or change anything.",
    ]
    return "\n".join(steps) + _mode_note(access)


PROMPTS: tuple[PromptSpec, ...] = (
    PromptSpec(
        name="choose_consumer",
        title="Choose a consumer and its connections",
        description="Pick the end customer (consumer) to work on and find which Chift APIs it has connected.",
        arguments=(("consumer", "Name or id of the consumer, if already known", False),),
        render=_choose_consumer,
    ),
    PromptSpec(
        name="reconcile_invoices",
        title="Book invoicing invoices into accounting",
        description=(
            "Reconcile the invoicing software's invoices into accounting: match or create the partner by VAT "
            "number, map VAT codes and journals, create each missing entry once."
        ),
        arguments=(
            ("date_from", "First invoice date, YYYY-MM-DD", False),
            ("date_to", "Last invoice date, YYYY-MM-DD", False),
            ("invoice_type", "sales, purchases or both (default both)", False),
        ),
        render=_reconcile,
    ),
    PromptSpec(
        name="month_end_check",
        title="Month-end check of unpaid and outstanding items",
        description="Read-only review of unpaid invoices, outstanding items and unmatched payments for a month.",
        arguments=(("month", "The month to check, YYYY-MM", False),),
        render=_month_end,
    ),
)
_BY_NAME = {p.name: p for p in PROMPTS}


def render(name: str, arguments: dict[str, str], access: Access) -> str:
    """The prompt's text for ``access``; KeyError for an unknown prompt."""
    return _BY_NAME[name].render(arguments, access)
