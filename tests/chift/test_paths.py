"""One reading of the consumer a Chift path is about, shared by the cache window, the hints and the doors."""

from __future__ import annotations

import pytest

from chift_mcp.chift.hints import lookup_hint
from chift_mcp.chift.paths import consumer_of
from chift_mcp.doors import limits


@pytest.mark.parametrize(
    ("path", "consumer"),
    [
        ("/consumers/c-1/accounting/clients", "c-1"),
        ("/consumers/c-1", "c-1"),  # the consumer resource itself
        ("/consumers/c-1?x=1", "c-1"),
        ("/consumers/a%20b/invoicing/invoices", "a b"),
        ("/consumers", ""),
        ("/consumers/", ""),
        ("/webhooks/w-1", ""),
        ("/token", ""),
    ],
)
def test_the_consumer_of_a_path(path: str, consumer: str) -> None:
    assert consumer_of(path) == consumer


def test_the_doors_count_by_the_same_reading() -> None:
    assert limits.consumer_of is consumer_of


def test_a_lost_write_to_the_consumer_itself_names_it_in_the_lookup() -> None:
    assert "GET /consumers/c-1/connections/" in lookup_hint("/consumers/c-1", "r-1")
    assert "GET /consumers/a%20b/connections/" in lookup_hint("/consumers/a%20b/invoicing/invoices", "r-1")
