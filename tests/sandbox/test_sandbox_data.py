"""The fake-data generator: deterministic, realistic, and always valid against its schema."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from support.sandbox import STRICT_FORMATS, schema_errors, shared_spec

from chift_mcp.sandbox.data import DataGenerator
from chift_mcp.sandbox.fakes import persona, slug
from chift_mcp.sandbox.schema_check import is_valid

COMPONENTS = sorted(shared_spec().document["components"]["schemas"])


def component(name: str) -> Any:
    spec = shared_spec()
    return spec.resolve(spec.document["components"]["schemas"][name])


@settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(COMPONENTS), key=st.text(max_size=12), seed=st.integers(0, 1000))
def test_generated_values_are_valid_for_every_component(name: str, key: str, seed: int) -> None:
    schema = component(name)
    value = DataGenerator(seed).generate(schema, key)
    assert schema_errors(schema, value) == []
    assert DataGenerator(seed).generate(schema, key) == value  # deterministic


@settings(max_examples=60, deadline=None, database=None)
@given(name=st.sampled_from(COMPONENTS), key=st.text(max_size=8))
def test_conform_always_returns_valid_data(name: str, key: str) -> None:
    schema = component(name)
    gen = DataGenerator(0)
    other = COMPONENTS[(COMPONENTS.index(name) * 7 + 3) % len(COMPONENTS)]
    foreign = gen.generate(component(other), key)
    assert schema_errors(schema, gen.conform(schema, foreign, key)) == []
    assert schema_errors(schema, gen.conform(schema, {"unexpected": 1}, key)) == []


@settings(max_examples=150, deadline=None, database=None)
@given(
    value=st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 200),
        st.floats(-10, 1000, allow_nan=False),
        st.sampled_from(
            [
                "",
                "abc",
                "2025-01-31",
                "2025-13-01",
                "00000000-0000-4000-8000-000000000000",
                "2025-01-31T10:00:00Z",
                "client",
            ]
        ),
        st.lists(st.integers(0, 3), max_size=3),
        st.dictionaries(st.sampled_from(["a", "name"]), st.integers()),
    ),
    schema=st.sampled_from(
        [
            {"type": "integer", "minimum": 1, "maximum": 100},
            {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
            {"type": "string", "format": "uuid"},
            {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            {"type": "string", "enum": ["client", "supplier"]},
            {"type": "number", "exclusiveMinimum": 0},
            {"type": "array", "items": {"type": "integer"}, "minItems": 1},
            {"type": "object", "properties": {"name": {"type": "integer"}}, "required": ["name"]},
            {"type": "string", "minLength": 1, "maxLength": 3},
        ]
    ),
)
def test_fast_checker_agrees_with_jsonschema(value: Any, schema: dict[str, Any]) -> None:
    expected = Draft202012Validator(schema, format_checker=STRICT_FORMATS).is_valid(value)
    assert is_valid(schema, value) is expected


def test_values_look_real() -> None:
    gen = DataGenerator(0)
    clients = [gen.generate(component("ClientItemOut"), f"client-{i}") for i in range(30)]
    emails = [c["email"] for c in clients if c["email"]]
    assert emails and all(re.fullmatch(r"[a-z.\-]+@[a-z0-9\-]+\.[a-z]{2}", e) for e in emails)
    assert all(c["name"] for c in clients)
    for client in clients:
        if client["iban"]:
            iban = client["iban"]
            numeric = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
            assert int(numeric) % 97 == 1, iban  # a valid IBAN checksum
        assert client["currency"] in (None, "EUR", "USD", "GBP", "CHF")
    assert len({c["name"] for c in clients}) > 20  # varied


def test_amounts_and_dates_agree() -> None:
    gen = DataGenerator(0)
    for i in range(20):
        invoice = gen.generate(component("InvoiceItemOutMonoAnalyticPlan"), f"inv-{i}")
        assert invoice["total"] == round(invoice["untaxed_amount"] + invoice["tax_amount"], 2)
        assert all(
            round(v, 2) == v for v in (invoice["total"], invoice["untaxed_amount"], invoice["tax_amount"])
        )
        if invoice["due_date"] and invoice["invoice_date"]:
            assert invoice["due_date"] >= invoice["invoice_date"]
        lines = invoice.get("lines") or []
        if lines and all(isinstance(line.get("untaxed_amount"), float) for line in lines):
            assert invoice["untaxed_amount"] == round(sum(line["untaxed_amount"] for line in lines), 2)


def test_a_persona_is_coherent() -> None:
    who = persona("some key")
    assert who == persona("some key")
    assert (
        who.email
        == f"{slug(who.first_name)}.{slug(who.last_name)}@{who.website.removeprefix('https://www.')}"
    )
    assert who.vat.startswith(who.country) and who.iban.startswith(who.country)
    assert who.company.startswith(who.last_name)


@pytest.mark.parametrize(
    "name", ["ConsumerItem", "ConnectionItem", "OrderItemOut", "JournalEntryMultiAnalyticPlan"]
)
def test_same_field_same_value_across_schemas(name: str) -> None:
    gen = DataGenerator(5)
    schema = component(name)
    assert gen.generate(schema, "k") == gen.generate(schema, "k")
    assert gen.generate(schema, "k") != gen.generate(schema, "other")
