"""Property-based: whatever malformed arguments an agent sends, the server (through an MCP session in
memory) refuses them with INVALID_ARGUMENTS naming a field, and not one request reaches the sandbox
Chift API."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import DEMO, INVOICE, payload
from support.inproc import Session, mcp_session

from chift_mcp.openapi.operations import load_operations
from chift_mcp.openapi.spec import load_spec
from chift_mcp.tools.factory import build_tools

TOOLS = {t.name: t for t in build_tools(load_operations(load_spec()))}
VALID = {
    "accounting_get_clients": {"consumer_id": DEMO, "limit": 5},
    "accounting_get_invoices_by_type": {"consumer_id": DEMO, "invoice_type": "customer_invoice"},
    "accounting_create_invoice": copy.deepcopy(INVOICE),
    "invoicing_post_contacts": {"consumer_id": DEMO},
}
WRONG = {
    "string": st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2)),
    "integer": st.one_of(
        st.text(max_size=5),
        st.booleans(),
        st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    ),
    "number": st.one_of(st.text(max_size=5), st.booleans(), st.lists(st.integers(), max_size=2)),
    "boolean": st.one_of(st.text(max_size=5), st.integers()),
    "array": st.one_of(
        st.text(max_size=5), st.integers(), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
    ),
    "object": st.one_of(st.text(max_size=5), st.integers(), st.lists(st.integers(), max_size=2)),
}


@st.composite
def bad_call(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(VALID)))
    schema = TOOLS[name].input_schema
    args = json.loads(json.dumps(VALID[name]))
    how = draw(st.sampled_from(["wrong_type", "missing", "unknown", "enum"]))
    required = [r for r in schema.get("required", []) if r in args]
    if how == "missing" and required:
        del args[draw(st.sampled_from(required))]
    elif how == "enum" and any("enum" in p for p in schema["properties"].values()):
        key = draw(st.sampled_from([k for k, p in schema["properties"].items() if "enum" in p]))
        args[key] = draw(
            st.text(min_size=1, max_size=8).filter(lambda v: v not in schema["properties"][key]["enum"])
        )
    elif how == "unknown":
        key = draw(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
                lambda k: k not in schema["properties"]
            )
        )
        args[key] = draw(st.integers())
    else:
        key = draw(st.sampled_from([k for k, p in schema["properties"].items() if p.get("type") in WRONG]))
        args[key] = draw(WRONG[schema["properties"][key]["type"]])
    return name, args


@pytest.fixture(scope="module")
def session() -> Iterator[tuple[BlockingPortal, Session]]:
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(mcp_session()) as session:
        yield portal, session


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(call=bad_call())
def test_malformed_arguments_never_reach_chift(
    session: tuple[BlockingPortal, Session], call: tuple[str, dict[str, Any]]
) -> None:
    portal, mcp = session
    name, args = call
    result = portal.call(mcp.client.call_tool, name, args)
    error = payload(result)
    assert result.is_error and error["error"] == "INVALID_ARGUMENTS", (name, args, error)
    assert error.get("field")
    assert mcp.requests("/consumers/") == [], "a malformed call reached the upstream"
