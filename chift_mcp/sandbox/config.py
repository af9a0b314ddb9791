"""Sandbox configuration: credentials, demo consumers and their connections."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from chift_mcp.openapi.operations import CONNECTION_APIS, Operation
from chift_mcp.settings import SANDBOX_ACCOUNT_ID, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

DEMO_CONSUMER_ID = "11111111-1111-4111-8111-111111111111"
ACCOUNTING_CONSUMER_ID = "22222222-2222-4222-8222-222222222222"
INACTIVE_CONSUMER_ID = "33333333-3333-4333-8333-333333333333"

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
class ConnectionConfig:
    """One connection of a consumer. Empty fields are derived from ``api`` and the consumer id."""

    api: str
    status: str = "active"
    integration: str | None = None
    integrationid: int | None = None
    connectionid: str | None = None
    name: str | None = None


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
    connectionid = conn.connectionid or str(uuid.uuid5(_NAMESPACE, f"{consumer_id}/{conn.api}"))
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
