"""Which connection, and which folder, a unified-API request is for.

Connections (docs "Connection concepts & lifecycle", ``developer-guides/implementation/connections``):
only active connections serve requests; a consumer may have several connections on one API (one per
integration), and then a request must name one with ``X-Chift-Connectionid`` (the connection's guid)
or ``X-Chift-Integrationid`` (the integration's code), "as otherwise we will not be able to know which
connection to use". Without: 400 ``ERROR_CONFIGURATION_CONNECTION`` "The connection is not correctly
configured" (the message of the Python SDK's ``tests/test_connection.py::test_multi_connections``; the
code is the docs table's "more than one connection is active"). No active connection: 400
``ERROR_NO_ACTIVE_CONNECTION``. A connection id that is not the consumer's: 400 "The specified
connectionid is not valid" (a spec example, without a code). Header names in any casing.

Folders (docs "Folders", ``developer-guides/api-guides/accounting/folders``; spec ``FolderItem``): an
accounting connection is bound to one folder and ignores ``folder_id``, or is in multi-folder mode,
where every accounting call but ``GET …/accounting/folders`` names its folder with ``folder_id``. Only
selected folders may be used: another id is 404 ``ERROR_FOLDER_NOT_FOUND`` "Folder not found". When
only one folder is selected it is the default (spec ``FolderItem.selected``). A missing ``folder_id``
with several selected folders is not documented anywhere: the sandbox answers 422
``ERROR_INVALID_QUERY_PARAMETER`` as for a missing required query parameter (invented).

Each connection (and each folder) has its own data: ``Setup.scope`` keys the generated and stored
objects. The first connection of an API keeps the consumer id as scope, so the demo consumers' data
is the same as before connections and folders had scopes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chift_mcp.sandbox import errors
from chift_mcp.sandbox.config import FolderConfig
from chift_mcp.sandbox.errors import ApiError

FOLDER_LIST = "accounting_get_folders"  # needs no folder_id
FOLDER_GET = "accounting_get_folder"  # the folder is in the path
_NAMESPACE = uuid.UUID("0c9e5a37-3f43-4a8e-9b39-5d2f0b6a7c11")


@dataclass
class Setup:
    """What the sandbox keeps of a connection beside its ``ConnectionItem``."""

    scope: str
    multi_folder: bool = False
    folders: list[dict[str, Any]] = field(default_factory=list)

    def selected(self) -> list[dict[str, Any]]:
        return [f for f in self.folders if f.get("selected", True)]


def folder_record(folder: FolderConfig) -> dict[str, Any]:
    return {
        "id": folder.id,
        "name": folder.name,
        "selected": folder.selected,
        "active": folder.active,
        "vat": folder.vat,
        "company_number": folder.company_number,
        "main_currency": "EUR",
        "addresses": [],
    }


def new_setup(
    consumer: dict[str, Any],
    connection: dict[str, Any],
    folders: tuple[FolderConfig, ...],
    first_of_api: bool,
) -> Setup:
    """The setup of a connection: its data scope and its folders (one, bound, when ``folders`` is empty)."""
    consumer_id, connection_id = consumer["consumerid"], connection["connectionid"]
    scope = consumer_id if first_of_api else f"{consumer_id}/{connection_id}"
    if folders:
        return Setup(scope, True, [folder_record(f) for f in folders])
    bound = FolderConfig(str(uuid.uuid5(_NAMESPACE, connection_id)), str(consumer.get("name") or "Main"))
    return Setup(scope, False, [folder_record(bound)])


def choose_connection(
    connections: list[dict[str, Any]], api: str, headers: Mapping[str, str]
) -> dict[str, Any]:
    """The connection of ``connections`` (a consumer's) that serves ``api`` for this request."""
    wanted = headers.get("x-chift-connectionid")
    integration = headers.get("x-chift-integrationid")
    no_active = ApiError(
        400,
        errors.NO_ACTIVE_CONNECTION,
        "No active connection/integration for this API are configured",
        f"No active connection for the API '{api}'"
        + (" matches the connection or integration asked for" if wanted or integration else ""),
    )
    if wanted:
        found = [c for c in connections if c["connectionid"] == wanted.strip()]
        if not found:
            raise ApiError(400, None, errors.CONNECTION_ID_INVALID)
        if found[0]["api"] != api or found[0]["status"] != "active":
            raise no_active
        return found[0]
    active = [c for c in connections if c["api"] == api and c["status"] == "active"]
    if integration:
        active = [c for c in active if str(c["integrationid"]) == integration.strip()]
    if not active:
        raise no_active
    if len(active) > 1:
        raise ApiError(
            400,
            errors.CONNECTION_CONFIGURATION,
            "The connection is not correctly configured",
            f"More than one connection is active for the API '{api}': send X-Chift-Connectionid "
            "or X-Chift-Integrationid to choose one",
        )
    return active[0]


def choose_folder(setup: Setup, operation_id: str, path: Mapping[str, Any], query: Mapping[str, Any]) -> str:
    """The data scope of an accounting request on this connection: its folder's, in multi-folder mode."""
    if operation_id == FOLDER_LIST:
        return setup.scope
    if operation_id == FOLDER_GET:
        wanted = str(path.get("folder_id", ""))
        if not any(f["id"] == wanted for f in setup.selected()):
            raise ApiError(404, errors.FOLDER_NOT_FOUND, "Folder not found")
        return setup.scope
    if not setup.multi_folder:
        return setup.scope  # bound to one folder: folder_id is ignored
    selected = setup.selected()
    folder_id = query.get("folder_id")
    if folder_id is None or folder_id == "":
        if len(selected) == 1:
            return f"{setup.scope}/{selected[0]['id']}"
        raise ApiError(
            422,
            errors.INVALID_QUERY,
            "Invalid query parameter: folder_id: Field required",
            [
                {
                    "loc": ["query", "folder_id"],
                    "msg": "Field required: the connection is in multi-folder mode",
                    "type": "missing",
                }
            ],
        )
    if not any(f["id"] == str(folder_id) for f in selected):
        raise ApiError(404, errors.FOLDER_NOT_FOUND, "Folder not found")
    return f"{setup.scope}/{folder_id}"
