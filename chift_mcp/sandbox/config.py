"""Sandbox configuration: credentials, demo consumers and their connections (and folders), the cache.

The demo consumers (ids kept stable: tests and docs use them):

| id | name | connections |
| --- | --- | --- |
| ``11111111-1111-4111-8111-111111111111`` | Demo Company | one active connection per API |
| ``22222222-2222-4222-8222-222222222222`` | Accounting Only SRL | Accounting |
| ``33333333-3333-4333-8333-333333333333`` | Inactive Connection BV | Invoicing, inactive |
| ``44444444-4444-4444-8444-444444444444`` | Two Ledgers SA | two active Accounting connections (Odoo, Exact Online) and Invoicing: an accounting call must say which (``X-Chift-Connectionid`` or ``X-Chift-Integrationid``) |
| ``55555555-5555-4555-8555-555555555555`` | Fiduciaire Multi-Dossiers | Accounting in multi-folder mode: three folders, two selected; every accounting call but the folder list needs ``folder_id`` |

Integration ids are invented (Chift's real ones come from ``GET /integrations``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from chift_mcp.openapi.operations import CONNECTION_APIS, Operation
from chift_mcp.settings import SANDBOX_ACCOUNT_ID, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

DEMO_CONSUMER_ID = "11111111-1111-4111-8111-111111111111"
ACCOUNTING_CONSUMER_ID = "22222222-2222-4222-8222-222222222222"
INACTIVE_CONSUMER_ID = "33333333-3333-4333-8333-333333333333"
TWO_CONNECTIONS_CONSUMER_ID = "44444444-4444-4444-8444-444444444444"
MULTI_FOLDER_CONSUMER_ID = "55555555-5555-4555-8555-555555555555"

# The domain of a unified API -> the ``api`` of the connection that serves it (the ``Api`` enum of the spec).
API_OF_DOMAIN: dict[str, str] = {domain: api for api, domain in CONNECTION_APIS.items()}

# A plausible connector per API: (integration name, integration id).
DEFAULT_INTEGRATIONS: dict[str, tuple[str, int]] = {
    "Accounting": ("Odoo Accounting", 1012),
    "Invoicing": ("Odoo Invoicing", 3002),
    "Point of Sale": ("Lightspeed Restaurant (K series)", 2004),
    "eCommerce": ("Shopify", 4001),
    "Payment": ("Stripe", 6001),
    "Banking": ("Ponto", 7001),
    "Property Management System": ("Mews", 8001),
    "Spend Management": ("Spendesk", 9001),
    "Communication": ("Mailchimp", 5001),
    "Custom": ("Custom connector", 9901),
}


def connection_api(operation: Operation) -> str | None:
    """The ``api`` of the connection a consumer needs for ``operation``, None when it needs none."""
    return API_OF_DOMAIN.get(operation.domain) if operation.consumer_scoped else None


_NAMESPACE = uuid.UUID("6b1f3a52-9d0c-4c1e-9a57-1d3c9a0c0c7e")


@dataclass(frozen=True)
class FolderConfig:
    """One folder (legal entity) of an accounting connection in multi-folder mode (spec ``FolderItem``)."""

    id: str
    name: str
    selected: bool = True
    active: bool = True
    vat: str | None = None
    company_number: str | None = None


@dataclass(frozen=True)
class ConnectionConfig:
    """One connection of a consumer. Empty fields are derived from ``api`` and the consumer id.

    ``folders`` puts an accounting connection in multi-folder mode (docs "Folders"); without, it is
    bound to one folder and ``folder_id`` is ignored."""

    api: str
    status: str = "active"
    integration: str | None = None
    integrationid: int | None = None
    connectionid: str | None = None
    name: str | None = None
    folders: tuple[FolderConfig, ...] = ()


@dataclass(frozen=True)
class ConsumerConfig:
    consumer_id: str
    name: str
    email: str | None = None
    internal_reference: str | None = None
    connections: tuple[ConnectionConfig, ...] = ()

    @classmethod
    def with_apis(
        cls,
        consumer_id: str,
        name: str,
        active: tuple[str, ...] | list[str] = (),
        inactive: tuple[str, ...] | list[str] = (),
        *,
        email: str | None = None,
    ) -> ConsumerConfig:
        """A consumer with one active connection per API in ``active`` and an inactive one per ``inactive``."""
        connections = tuple(ConnectionConfig(api) for api in active) + tuple(
            ConnectionConfig(api, status="inactive") for api in inactive
        )
        return cls(consumer_id=consumer_id, name=name, email=email, connections=connections)


def connection_record(consumer_id: str, conn: ConnectionConfig) -> dict[str, object]:
    """The ``ConnectionItem`` the API returns for a configured connection."""
    integration, integrationid = DEFAULT_INTEGRATIONS.get(conn.api, ("Generic connector", 9999))
    seed = f"{consumer_id}/{conn.api}" + (f"/{conn.integration}" if conn.integration else "")
    connectionid = conn.connectionid or str(uuid.uuid5(_NAMESPACE, seed))
    return {
        "connectionid": connectionid,
        "name": conn.name or f"{conn.integration or integration} ({conn.api})",
        "integration": conn.integration or integration,
        "integrationid": conn.integrationid if conn.integrationid is not None else integrationid,
        "api": conn.api,
        "data": {},
        "status": conn.status,
        "agent": None,
        "datalayer": None,
    }


def demo_consumers() -> tuple[ConsumerConfig, ...]:
    return (
        ConsumerConfig.with_apis(
            DEMO_CONSUMER_ID,
            "Demo Company",
            active=tuple(CONNECTION_APIS),
            email="finance@demo-company.example",
        ),
        ConsumerConfig.with_apis(
            ACCOUNTING_CONSUMER_ID,
            "Accounting Only SRL",
            active=("Accounting",),
            email="compta@accounting-only.example",
        ),
        ConsumerConfig.with_apis(
            INACTIVE_CONSUMER_ID,
            "Inactive Connection BV",
            inactive=("Invoicing",),
            email="admin@inactive-connection.example",
        ),
        ConsumerConfig(
            TWO_CONNECTIONS_CONSUMER_ID,
            "Two Ledgers SA",
            email="finance@two-ledgers.example",
            connections=(
                ConnectionConfig("Accounting"),  # Odoo Accounting, 1012
                ConnectionConfig("Accounting", integration="Exact Online", integrationid=1005),
                ConnectionConfig("Invoicing"),
            ),
        ),
        ConsumerConfig(
            MULTI_FOLDER_CONSUMER_ID,
            "Fiduciaire Multi-Dossiers",
            email="dossiers@fiduciaire-multi.example",
            connections=(
                ConnectionConfig(
                    "Accounting",
                    integration="MyUnisoft",
                    integrationid=1021,
                    folders=(
                        FolderConfig("1001", "Boulangerie Dupont SRL", vat="BE0412345678"),
                        FolderConfig("1002", "Garage Lambert SA", vat="BE0498765432"),
                        FolderConfig("1003", "Ancienne Holding SA", selected=False),
                    ),
                ),
            ),
        ),
    )


@dataclass
class SandboxConfig:
    """What a sandbox starts with; ``POST /_sandbox/reset`` returns to it."""

    consumers: tuple[ConsumerConfig, ...] = field(default_factory=demo_consumers)
    token_lifetime: int = 1800
    seed: int = 0
    latency: float = 0.0
    client_id: str = SANDBOX_CLIENT_ID
    client_secret: str = SANDBOX_CLIENT_SECRET
    account_id: str = SANDBOX_ACCOUNT_ID
    max_log: int = 10_000
    cache_size: int = 4096
    cache_ttl: float = 300.0  # Chift's GET cache lifetime, seconds on the sandbox's clock; 0 = no cache
    backoff_scale: float = 1.0  # times Chift's rate-limit retry waits (1+2+4+8+16 s); 0.001 in tests
