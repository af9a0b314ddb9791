"""``Scope.narrowed``: a token's grant narrows the server's scope and never widens it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chift_mcp.openapi.operations import DOMAINS, KINDS
from chift_mcp.tools.access import Access, parse_function_config
from chift_mcp.tools.definition import ToolSpec

DEMO = "11111111-1111-4111-8111-111111111111"
OTHER = "22222222-2222-4222-8222-222222222222"


def allowed(scope: Access, tools: list[ToolSpec]) -> set[str]:
    return {t.name for t in tools if scope.allows(t)}


def test_function_config_intersects_per_domain(tools: list[ToolSpec]) -> None:
    server = Access.of(parse_function_config('{"accounting": ["get", "create"], "pos": ["get"]}'))
    token = server.narrowed(function_config={"accounting": ["get", "delete"], "invoicing": ["get"]})
    assert token.kinds == {"accounting": frozenset({"get"})}
    names = allowed(token, tools)
    assert names and all(n.startswith("accounting_") for n in names)
    assert names == {t.name for t in tools if t.domain == "accounting" and t.kind == "get"}


def test_read_only_turns_on_and_never_off(tools: list[ToolSpec]) -> None:
    server = Access.of(parse_function_config(None), read_only=True)
    assert server.narrowed(read_only=False).read_only
    writable = Access.of(parse_function_config(None))
    token = writable.narrowed(read_only=True)
    assert token.read_only
    assert all(t.kind == "get" for t in tools if token.allows(t))


def test_consumer_binds_an_unbound_scope_and_turns_account_tools_off(tools: list[ToolSpec]) -> None:
    server = Access.of(parse_function_config(None))
    token = server.narrowed(consumer_id=DEMO)
    assert token.consumer_id == DEMO and token.active_domains is None
    assert "consumers_get_consumers" in allowed(server, tools)
    assert "consumers_get_consumers" not in allowed(token, tools)
    assert "accounting_get_clients" in allowed(token, tools)


def test_bound_scope_keeps_its_consumer_and_active_domains() -> None:
    server = Access.of(parse_function_config(None), consumer_id=DEMO, active_domains=frozenset({"pos"}))
    assert server.narrowed(consumer_id=DEMO) == server
    narrowed = server.narrowed(read_only=True)
    assert narrowed.consumer_id == DEMO and narrowed.active_domains == frozenset({"pos"})
    with pytest.raises(ValueError, match="cannot be narrowed to another"):
        server.narrowed(consumer_id=OTHER)


def test_no_grant_is_the_same_scope() -> None:
    server = Access.of(parse_function_config(None), read_only=True, consumer_id=DEMO)
    assert server.narrowed() is server


grants = st.dictionaries(
    st.sampled_from(sorted(DOMAINS)), st.lists(st.sampled_from(sorted(KINDS)), unique=True), max_size=6
)


@settings(max_examples=150, deadline=None)
@given(
    server_config=st.one_of(st.none(), grants),
    server_read_only=st.booleans(),
    server_consumer=st.sampled_from([None, DEMO]),
    token_config=st.one_of(st.none(), grants),
    token_read_only=st.booleans(),
    token_consumer=st.sampled_from([None, DEMO]),
)
def test_a_grant_never_widens_the_server_scope(
    tools: list[ToolSpec],
    server_config: dict[str, list[str]] | None,
    server_read_only: bool,
    server_consumer: str | None,
    token_config: dict[str, list[str]] | None,
    token_read_only: bool,
    token_consumer: str | None,
) -> None:
    server = Access.of(
        parse_function_config(server_config), read_only=server_read_only, consumer_id=server_consumer
    )
    token = server.narrowed(
        function_config=token_config, read_only=token_read_only, consumer_id=token_consumer
    )
    granted = allowed(token, tools)
    assert granted <= allowed(server, tools)
    if token_config is not None:
        assert all(t.kind in token_config.get(t.domain, ()) for t in tools if t.name in granted)
    if token_read_only:
        assert all(t.kind == "get" for t in tools if t.name in granted)
    if token_consumer or server_consumer:
        assert token.consumer_id == (server_consumer or token_consumer)
