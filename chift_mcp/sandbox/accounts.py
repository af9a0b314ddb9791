"""Consumers, their connections and the transaction lookup: answered from the sandbox's state."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chift_mcp.sandbox import errors
from chift_mcp.sandbox.config import DEFAULT_INTEGRATIONS
from chift_mcp.sandbox.data import DataGenerator
from chift_mcp.sandbox.errors import ApiError
from chift_mcp.sandbox.state import SandboxState, iso_utc

if TYPE_CHECKING:
    from chift_mcp.sandbox.engine import Call

TRANSACTION_LOOKUP = "get_transaction_by_client_request_id_consumers__consumer_id__connections__connection_id__transactions_get"


class AccountRoutes:
    def __init__(self, state: SandboxState, gen: DataGenerator) -> None:
        self.state = state
        self.gen = gen

    def handlers(self) -> dict[str, Callable[[Call], tuple[int, Any, str | None]]]:
        """operationId -> handler returning (status, payload, created id)."""
        return {
            "consumers_get_consumers": self._consumers_list,
            "consumers_create_consumer": self._consumer_create,
            "consumers_get_consumer": self._consumer_get,
            "consumers_update_consumer": self._consumer_update,
            "consumers_delete_consumer": self._consumer_delete,
            "connections_get_connections": self._connections_list,
            "connections_get_connection": self._connection_get,
            "connections_create_connection": self._connection_create,
            "connections_update_connection": self._connection_update,
            "connections_delete_connection": self._connection_delete,
            TRANSACTION_LOOKUP: self._transaction_lookup,
        }

    def _schema(self, call: Call) -> dict[str, Any]:
        return (
            (call.info.item_schema or {})
            if call.info.schema and call.info.schema.get("type") == "array"
            else (call.info.schema or {})
        )

    def _consumer_view(self, schema: dict[str, Any], record: dict[str, Any]) -> Any:
        view = self.gen.conform(schema, record, f"consumer|{record['consumerid']}")
        if isinstance(view, dict):
            view["consumerid"] = record["consumerid"]
        return view

    def _consumers_list(self, call: Call) -> tuple[int, Any, str | None]:
        schema = self._schema(call)
        search = str(call.query.get("search") or "").lower()
        reference = call.query.get("internal_reference")
        out = []
        for record in self.state.consumers.values():
            text = f"{record.get('name') or ''} {record.get('email') or ''}".lower()
            if search and search not in text:
                continue
            if reference and record.get("internal_reference") != reference:
                continue
            out.append(self._consumer_view(schema, record))
        return call.info.status, out, None

    def _consumer_create(self, call: Call) -> tuple[int, Any, str | None]:
        ident = str(uuid.uuid4())
        body = call.body if isinstance(call.body, dict) else {}
        record = {
            "consumerid": ident,
            "name": body.get("name"),
            "email": body.get("email"),
            "created_on": iso_utc(self.state.now()),
            "internal_reference": body.get("internal_reference"),
            "redirect_url": body.get("redirect_url"),
            "account": None,
        }
        self.state.consumers[ident] = record
        self.state.connections[ident] = []
        self.state.created_counts["consumers"] += 1
        return call.info.status, self._consumer_view(self._schema(call), record), ident

    def _consumer_get(self, call: Call) -> tuple[int, Any, str | None]:
        record = self.state.consumers[str(call.consumer_id)]
        return call.info.status, self._consumer_view(self._schema(call), record), None

    def _consumer_update(self, call: Call) -> tuple[int, Any, str | None]:
        record = self.state.consumers[str(call.consumer_id)]
        record.update({k: v for k, v in (call.body or {}).items() if v is not None and k in record})
        return call.info.status, self._consumer_view(self._schema(call), record), None

    def _consumer_delete(self, call: Call) -> tuple[int, Any, str | None]:
        self.state.consumers.pop(str(call.consumer_id), None)
        for conn in self.state.connections.pop(str(call.consumer_id), []):
            self.state.setups.pop(conn["connectionid"], None)
        return 204, None, None

    def _find_connection(self, consumer_id: str, connection_id: str) -> dict[str, Any]:
        for conn in self.state.connections.get(consumer_id, []):
            if conn["connectionid"] == connection_id:
                return conn
        raise ApiError(404, None, errors.CONNECTION_MISSING)

    def _connections_list(self, call: Call) -> tuple[int, Any, str | None]:
        schema = self._schema(call)
        conns = self.state.connections.get(str(call.consumer_id), [])
        return (
            call.info.status,
            [self.gen.conform(schema, c, f"conn|{c['connectionid']}") for c in conns],
            None,
        )

    def _connection_get(self, call: Call) -> tuple[int, Any, str | None]:
        conn = self._find_connection(str(call.consumer_id), str(call.path.get("connectionid")))
        return (
            call.info.status,
            self.gen.conform(self._schema(call), conn, f"conn|{conn['connectionid']}"),
            None,
        )

    def _link(self, consumer_id: str, connection_id: str | None = None) -> dict[str, str]:
        suffix = f"&connectionid={connection_id}" if connection_id else ""
        return {
            "url": f"https://chift.app/link/{consumer_id}?token={self.gen.uuid(consumer_id + str(suffix))}{suffix}"
        }

    def _connection_create(self, call: Call) -> tuple[int, Any, str | None]:
        consumer_id = str(call.consumer_id)
        body = call.body if isinstance(call.body, dict) else {}
        integrationid = body.get("integrationid")
        created = None
        if integrationid is not None and body.get("credentials"):
            api = next((a for a, (_, iid) in DEFAULT_INTEGRATIONS.items() if iid == integrationid), None)
            if api is not None:
                if any(c["integrationid"] == integrationid for c in self.state.connections[consumer_id]):
                    raise ApiError(  # spec example of connections_create_connection
                        400,
                        None,
                        f"There is already an active connection for the integrationid {integrationid}. "
                        "Only one can be created for each consumer for each integrationid.",
                    )
                integration = DEFAULT_INTEGRATIONS[api][0]
                created = str(uuid.uuid4())
                self.state.add_connection(
                    consumer_id,
                    {
                        "connectionid": created,
                        "name": body.get("name") or f"{integration} ({api})",
                        "integration": integration,
                        "integrationid": integrationid,
                        "api": api,
                        "data": {},
                        "status": "active",
                        "agent": None,
                        "datalayer": None,
                    },
                )
        return call.info.status, self._link(consumer_id, created), created

    def _connection_update(self, call: Call) -> tuple[int, Any, str | None]:
        conn = self._find_connection(str(call.consumer_id), str(call.path.get("connectionid")))
        body = call.body if isinstance(call.body, dict) else {}
        if body.get("name"):
            conn["name"] = body["name"]
        return call.info.status, self._link(str(call.consumer_id), conn["connectionid"]), None

    def _connection_delete(self, call: Call) -> tuple[int, Any, str | None]:
        consumer_id = str(call.consumer_id)
        conn = self._find_connection(consumer_id, str(call.path.get("connectionid")))
        self.state.connections[consumer_id].remove(conn)
        self.state.setups.pop(conn["connectionid"], None)
        return 204, None, None

    def _transaction_lookup(self, call: Call) -> tuple[int, Any, str | None]:
        consumer_id = str(call.consumer_id)
        connection_id = str(call.path.get("connection_id"))
        self._find_connection(consumer_id, connection_id)
        found = self.state.transactions.get(str(call.query.get("client_request_id")))
        if (
            found is None
            or found.consumer_id != consumer_id
            or (found.connection_id is not None and found.connection_id != connection_id)
        ):
            raise ApiError(404, None, errors.TRANSACTION_MISSING)
        return call.info.status, found.lookup(), None
