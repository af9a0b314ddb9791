"""Make the fields of one generated object agree: amounts add up, rates apply, dates come in order.

``DataGenerator`` calls ``harmonise`` on every object whose schema has one of ``HARMONISED_FIELDS``; each change
is kept only when it stays valid against the field's schema.
"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from typing import Any

from chift_mcp.sandbox.schema_check import is_valid

_LINE_KEYS = ("lines", "items", "invoice_lines", "order_lines")
_ORDERED_TIMES = (
    ("created_on", "last_updated_on"),
    ("created_on", "updated_on"),
    ("created_on", "modified_on"),
    ("creation_date", "closing_date"),
    ("created_at", "updated_at"),
    ("start", "end"),
)
HARMONISED_FIELDS = frozenset(  # an object with one of these is harmonised
    {"untaxed_amount", "tax_amount", "debit", "currency_exchange_rate", "due_date", "end_date", "date_to"}
    | {name for pair in _ORDERED_TIMES for name in pair}
)


def harmonise(obj: dict[str, Any], props: dict[str, Any]) -> None:
    """Make amounts, dates and rates of one object agree; keeps every change schema-valid."""
    changes: dict[str, Any] = {}

    def num(name: str) -> float | None:
        value = changes.get(name, obj.get(name))
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    unit_price, quantity, untaxed = num("unit_price"), num("quantity"), num("untaxed_amount")
    if unit_price is not None and quantity is not None and untaxed is not None:
        changes["untaxed_amount"] = round(unit_price * quantity, 2)
    lines = next((obj[k] for k in _LINE_KEYS if isinstance(obj.get(k), list) and obj[k]), None)
    if lines and all(isinstance(line, dict) for line in lines):
        for field_name in ("untaxed_amount", "tax_amount", "total"):
            values = [line.get(field_name) for line in lines]
            if num(field_name) is not None and all(isinstance(v, int | float) for v in values):
                changes[field_name] = round(sum(values), 2)
    untaxed, tax, total = num("untaxed_amount"), num("tax_amount"), num("total")
    if untaxed is not None and tax is not None and not lines:
        rate = num("tax_rate")
        tax = round(untaxed * (rate if rate is not None else 21.0) / 100, 2)
        changes["tax_amount"] = tax
    if untaxed is not None and tax is not None and total is not None:
        changes["total"] = round(untaxed + tax, 2)
    debit, credit = num("debit"), num("credit")
    if debit is not None and credit is not None and debit and credit:
        changes["credit" if int(debit * 100) % 2 else "debit"] = 0.0
    if obj.get("currency") == "EUR" and num("currency_exchange_rate") is not None:
        changes["currency_exchange_rate"] = 1.0
    for start, end, days in (
        ("invoice_date", "due_date", 30),
        ("date", "due_date", 30),
        ("start_date", "end_date", 90),
        ("date_from", "date_to", 30),
    ):
        first, second = obj.get(start), obj.get(end)
        if isinstance(first, str) and isinstance(second, str) and len(first) == len(second) == 10:
            with contextlib.suppress(ValueError):
                changes[end] = (date.fromisoformat(first) + timedelta(days=days)).isoformat()
    for early, late in _ORDERED_TIMES:
        first, second = obj.get(early), obj.get(late)
        if (
            isinstance(first, str)
            and isinstance(second, str)
            and len(first) == len(second)
            and first > second
        ):
            changes[early], changes[late] = second, first
    for name, value in changes.items():
        if name in props and is_valid(props[name], value):
            obj[name] = value
