"""Realistic numbers, booleans and dates for a field, chosen from its name (``semantics`` does strings).

``number_for(schema, "unit_price", draw, integer=False)`` -> ``125.4``; numbers always fall within the
schema's bounds (``clamp``).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from chift_mcp.sandbox.fakes import Draw

_EPOCH = date(2024, 1, 1)
_MONEY = (
    "amount",
    "total",
    "price",
    "balance",
    "debit",
    "credit",
    "cost",
    "fee",
    "tip",
    "discount",
    "refund",
    "montant",
    "other",
)


def boolean_for(name: str, draw: Draw) -> bool:
    n = name.lower()
    if n in ("is_company", "active", "enabled", "posted", "is_active", "visible", "available"):
        return draw.chance(0.8)
    if n.startswith(("is_deleted", "deleted", "archived", "is_archived")):
        return draw.chance(0.05)
    return draw.chance(0.5)


def number_for(schema: dict[str, Any], name: str, draw: Draw, integer: bool) -> int | float:
    n = name.lower()
    value: float
    if integer:
        value = _integer_for(n, draw)
    elif "exchange_rate" in n:
        value = 1.0
    elif "rate" in n or n in ("vat", "tax"):
        value = draw.pick((21.0, 21.0, 12.0, 6.0, 0.0))
    elif "percent" in n:
        value = draw.pick((100.0, 50.0, 25.0))
    elif n == "probability":
        value = float(draw.pick((10, 25, 50, 75, 90)))
    elif "quantity" in n or n == "guests":
        value = float(draw.between(1, 12))
    elif n == "weight":
        value = draw.between(1, 250) / 10
    elif n in ("unit_price", "price", "cost", "delivery_fee", "fee", "tip"):
        value = draw.between(100, 50_000) / 100
    elif any(word in n for word in _MONEY):
        value = draw.between(500, 500_000) / 100
    else:
        value = draw.between(100, 100_000) / 100
    return clamp(schema, value, integer)


def clamp(schema: dict[str, Any], value: float, integer: bool) -> int | float:
    if "minimum" in schema and value < schema["minimum"]:
        value = schema["minimum"]
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        value = schema["exclusiveMinimum"] + (1 if integer else 0.01)
    if "maximum" in schema and value > schema["maximum"]:
        value = schema["maximum"]
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        value = schema["exclusiveMaximum"] - (1 if integer else 0.01)
    if integer:
        return int(value)
    return round(float(value), 2)


def _integer_for(n: str, draw: Draw) -> int:
    if n in ("quantity", "current_quantity", "guests"):
        return draw.between(1, 12)
    if n in ("status_code", "httpstatus"):
        return 200
    if n == "expires_in":
        return 1800
    if n in ("integrationid", "integration_id"):
        return draw.between(1000, 9999)
    if n in ("display_order", "line_number", "page"):
        return draw.between(1, 20)
    if n in ("size", "page_size", "limit"):
        return 50
    if n in ("year", "fiscal_year"):
        return draw.between(2023, 2025)
    if n in ("occurrences", "attempts", "fiscal_years_back"):
        return draw.between(1, 5)
    if n == "expires_on":
        return 1_767_225_600 + draw.below(86_400)
    return draw.between(0, 250)


def date_for(name: str, draw: Draw) -> date:
    n = name.lower()
    if "birth" in n:
        return date(1960, 1, 1) + timedelta(days=draw.below(365 * 40))
    return _EPOCH + timedelta(days=draw.below(730))
