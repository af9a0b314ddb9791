"""A client someone else wrote: Chift's official Python SDK (``chift`` on PyPI) against the sandbox.

The SDK talks HTTP with ``requests`` to the sandbox served on a loopback port (uvicorn in a thread):
its authentication, its headers, its paging loop and its pydantic models are Chift's, not ours. What
the SDK gets right or wrong about Chift is written where it shows (docs/chift-contract.md):

- it never sends ``x-chift-force-refresh`` (no parameter for it), so a list read back through it right
  after a create is Chift's cached answer, stale for up to 5 minutes: the sandbox follows the docs
  ("Caching in Chift API"), and the test below shows the create missing from the SDK's list;
- it picks a connection with ``x-chift-connectionid`` (``Consumer.connectionid``), never with an
  integration id; the docs allow both, the sandbox accepts both. Its ``Connection`` model parses
  ``connectionid`` into a ``UUID``, which ``requests`` refuses as a header value: the id must be
  given back as a ``str``.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn
from support.sandbox import shared_spec

from chift_mcp.sandbox import (
    DEMO_CONSUMER_ID,
    MULTI_FOLDER_CONSUMER_ID,
    SANDBOX_ACCOUNT_ID,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    TWO_CONNECTIONS_CONSUMER_ID,
    SandboxConfig,
    build_app,
)

if TYPE_CHECKING:
    from chift.api.client import ChiftClient

# The SDK is imported when a test runs, not at collection: importing ``chift`` loads its models, and
# tests/openapi checks that reading the bundled spec never does.


class Served:
    def __init__(self, app: Any, url: str) -> None:
        self.app = app
        self.url = url

    @property
    def state(self) -> Any:
        return self.app.state.sandbox

    def client(self, **extra: Any) -> ChiftClient:
        from chift.api.client import ChiftClient

        return ChiftClient(
            client_id=SANDBOX_CLIENT_ID,
            client_secret=SANDBOX_CLIENT_SECRET,
            account_id=SANDBOX_ACCOUNT_ID,
            url_base=self.url,
            **extra,
        )


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    app = build_app(shared_spec(), SandboxConfig())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    try:
        yield Served(app, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        for name in [m for m in sys.modules if m == "chift" or m.startswith("chift.")]:
            del sys.modules[name]  # as before this module: tests/openapi checks chift stays unimported


@pytest.fixture
def client(served: Served) -> ChiftClient:
    served.state.reset()
    return served.client()


@pytest.fixture
def chift() -> Any:
    return pytest.importorskip("chift")


def chift_error() -> type[Exception]:
    from chift.api.exceptions import ChiftException

    return ChiftException


def test_authenticate_and_read_consumers_and_connections(
    served: Served, client: ChiftClient, chift: Any
) -> None:
    consumers = chift.Consumer.all(client=client)
    ids = {str(c.consumerid) for c in consumers}  # the SDK's models parse ids into UUIDs
    assert {DEMO_CONSUMER_ID, TWO_CONNECTIONS_CONSUMER_ID, MULTI_FOLDER_CONSUMER_ID} <= ids
    demo = chift.Consumer.get(DEMO_CONSUMER_ID, client=client)
    assert demo.name == "Demo Company"
    connections = demo.Connection.all(client=client)
    assert {c.api for c in connections} >= {"Accounting", "Invoicing", "Point of Sale", "eCommerce"}
    assert all(getattr(c.status, "value", c.status) == "active" for c in connections)
    # The SDK's token call: POST /token with camelCase credentials, then Bearer on every call.
    assert served.state.stats()["tokens_issued"] == 1


# One list per domain, through the SDK's paging loop, parsed into the SDK's pydantic models.
LISTS: list[tuple[str, str, dict[str, Any]]] = [
    ("accounting", "Client", {}),
    ("accounting", "Supplier", {}),
    ("accounting", "Journal", {}),
    ("invoicing", "Invoice", {}),
    ("invoicing", "Contact", {}),
    ("pos", "Location", {}),
    ("pos", "Order", {"date_from": "2024-01-01", "date_to": "2024-01-31"}),
    ("commerce", "Product", {}),
    ("commerce", "Customer", {}),
    ("payment", "Balance", {}),
    ("pms", "Location", {}),
    ("banking", "FinancialInstitution", {}),
    ("spend_management", "Supplier", {}),
]


@pytest.mark.parametrize(("domain", "model", "params"), LISTS, ids=[f"{d}.{m}" for d, m, _ in LISTS])
def test_lists_parse_into_the_sdk_models(
    client: ChiftClient, chift: Any, domain: str, model: str, params: dict[str, Any]
) -> None:
    consumer = chift.Consumer.get(DEMO_CONSUMER_ID, client=client)
    resource = getattr(getattr(consumer, domain), model)
    items = resource.all(params=params or None, client=client, limit=120)
    assert items, f"{domain}.{model}: empty list"
    assert all(isinstance(item, resource.model) for item in items)


def test_create_get_update_and_the_cached_list(served: Served, client: ChiftClient, chift: Any) -> None:
    consumer = chift.Consumer.get(DEMO_CONSUMER_ID, client=client)
    clients = consumer.accounting.Client
    before = clients.all(client=client)  # every page: now cached for 5 minutes
    address = {
        "address_type": "main",
        "street": "Rue Haute 1",
        "city": "Bruxelles",
        "postal_code": "1000",
        "country": "BE",
    }
    created = clients.create({"name": "ACME SA", "addresses": [address]}, client=client)
    assert created.id and created.name == "ACME SA"
    # A connector returns what it stored: nothing the client did not send (docs, sevdesk page).
    assert created.email is None and created.mobile is None and created.iban is None
    assert created.vat is None and created.company_number is None
    fetched = clients.get(created.id, client=client)
    assert fetched.name == "ACME SA" and fetched.addresses and fetched.addresses[0].street == "Rue Haute 1"
    updated = clients.update(created.id, {"email": "billing@acme.example"}, client=client)
    assert updated.email == "billing@acme.example" and updated.name == "ACME SA"

    # The SDK cannot send x-chift-force-refresh: its list is Chift's cached one, without the create.
    after = clients.all(client=client)
    assert len(after) == len(before) and created.id not in {c.id for c in after}
    # Past the 5 minutes (the sandbox's clock), the same SDK call sees it.
    served.state.advance_clock(301)
    assert created.id in {c.id for c in clients.all(client=client)}


def test_two_connections_need_the_sdks_connection_id(served: Served, client: ChiftClient, chift: Any) -> None:
    consumer = chift.Consumer.get(TWO_CONNECTIONS_CONSUMER_ID, client=client)
    with pytest.raises(chift_error()) as refused:
        consumer.accounting.Client.all(client=client, limit=1)
    assert refused.value.message == "The connection is not correctly configured"  # the SDK's own test
    assert refused.value.error_code == "ERROR_CONFIGURATION_CONNECTION"
    accounting = [c for c in consumer.Connection.all(client=client) if c.api == "Accounting"]
    assert len(accounting) == 2
    # The SDK's Connection model holds a UUID, which its own header code cannot send: give it a str.
    chosen = str(accounting[1].connectionid)
    consumer.connectionid = chosen
    items = consumer.accounting.Client.all(client=client, limit=1)
    assert len(items) == 1
    last = served.state.log[-1]
    assert last["status"] == 200 and last["connection_id"] == chosen


def test_multi_folder_through_the_sdk(client: ChiftClient, chift: Any) -> None:
    consumer = chift.Consumer.get(MULTI_FOLDER_CONSUMER_ID, client=client)
    folders = consumer.accounting.Folder.all(client=client)
    assert [f.selected for f in folders] == [True, True, False]
    with pytest.raises(chift_error()) as refused:
        consumer.accounting.Client.all(client=client, limit=1)
    assert refused.value.error_code == "ERROR_INVALID_QUERY_PARAMETER"
    items = consumer.accounting.Client.all(params={"folder_id": folders[0].id}, client=client, limit=1)
    assert len(items) == 1
    with pytest.raises(chift_error()) as unselected:
        consumer.accounting.Client.all(params={"folder_id": folders[2].id}, client=client, limit=1)
    assert unselected.value.error_code == "ERROR_FOLDER_NOT_FOUND"


def test_errors_reach_the_sdk_as_chift_errors(served: Served, client: ChiftClient, chift: Any) -> None:
    served.state.faults.add(match="accounting_get_clients", error_code="ERROR_INTERNAL_ERROR")
    consumer = chift.Consumer.get(DEMO_CONSUMER_ID, client=client)
    with pytest.raises(chift_error()) as failed:
        consumer.accounting.Client.all(client=client, limit=1)
    assert failed.value.error_code == "ERROR_INTERNAL_ERROR"
    assert served.state.log[-1]["status"] == 400  # Chift's table: 400, not 500
