"""Chift's error codes: the hint each one calls for, and the ones a retry cannot help.

:data:`CODE_HINTS` is the one table: a code whose hint says retrying will not help (configuration:
the consumer's connection, the connected software or Chift's setup must change first) is in
:data:`NO_RETRY_CODES`, which the client never retries and the hint table never calls retryable,
whatever HTTP status the code comes with (Chift's spec answers a connector's authentication failure
with 502 as well as 401). :func:`code_of` reads the code of an answer, recognising the codeless form
of one: the spec's 502 example "Error while trying to authenticate to {ConnectorName}" (POS
operations, no ``error_code``) is ``ERROR_CONNECTOR_AUTHENTICATION``.
Source: docs.chift.eu developer-guides/errors; the ``chift`` package's openapi.json.
"""

from __future__ import annotations

__all__ = ["CODE_HINTS", "CONNECTOR_AUTHENTICATION", "NO_RETRY_CODES", "code_of"]

CONNECTOR_AUTHENTICATION = "ERROR_CONNECTOR_AUTHENTICATION"
# The message of Chift's codeless 502 for a connector refusing the connection's credentials.
CONNECTOR_AUTHENTICATION_MESSAGE = "Error while trying to authenticate to "
NO_RETRY_NOTE = "will not help"  # what a configuration code's hint says about retrying

# Chift error codes whose meaning calls for a more precise hint than their HTTP status (Chift's
# error table, docs.chift.eu developer-guides/errors).
_REPORT = "if it persists, report it to Chift support with the client request id (if any)."
CODE_HINTS: dict[str, str] = {
    "ERROR_CONNECTOR_AUTHENTICATION": (
        "The connected software rejected the credentials stored in this connection (this server's "
        "Chift key is fine): the consumer must reconnect the connection in Chift. Retrying will not help."
    ),
    "ERROR_BACKEND_FORBIDDEN": (
        "The connected software refused access: the consumer must re-authorise the connection in Chift. "
        "Retrying will not help."
    ),
    "ERROR_NO_ACTIVE_CONNECTION": (
        "This consumer has no active connection for this API: list the consumer's connections to see "
        "which APIs it can use. Retrying as it is will not help."
    ),
    "ERROR_CONFIGURATION_CONNECTION": (
        "Chift finds this consumer's connection configuration incorrect, most often because it has "
        "several active connections for this API and cannot tell which one to use: call again with "
        "connection_id set to one of them (connections_get_connections lists them); with only one, the "
        "consumer must fix it in Chift. Retrying as it is will not help."
    ),
    "ERROR_FOLDER_NOT_FOUND": (
        "This connection has several folders (companies) and this one is unknown or was not selected: "
        "call accounting_get_folders and pass the id of a folder with selected=true as folder_id."
    ),
    "ERROR_RESOURCE_NOT_SUPPORTED": (
        "The connected software does not support this operation: use another tool or another resource."
    ),
    "ERROR_API_RESOURCE_NOT_FOUND": "This route does not exist in Chift: check the tool and its path.",
    "ERROR_CONNECTOR_MAINTENANCE": (
        "The connected software is temporarily unavailable: retry in a few minutes."
    ),
    "ERROR_CONFIGURATION_LOCALAGENT": (
        "Chift cannot reach the local agent that links this consumer's on-premise software: the agent "
        "must be running and connected (check it on the consumer's machine and the connection in Chift). "
        "This is configuration, not the arguments; retrying before it is fixed will not help."
    ),
    "ERROR_BACKEND_NOT_FOUND": (
        "Chift cannot reach the connected software's server (its URL or host in the connection is wrong, "
        "or the server or local agent is down): check the connection in Chift. This is configuration, "
        "not the arguments; retrying before it is fixed will not help."
    ),
    "ERROR_GATEWAY_TIMEOUT": (
        "The connected software (often reached through a local agent) did not answer in time: retry in "
        "a little while; if it keeps failing, check the local agent and the connection."
    ),
    "ERROR_CONNECTOR_CONFIGURATION": (
        "The connected software's own setup blocks this (no licence, a module not active, a restart "
        "needed): the consumer must fix it there or in the Chift connection. The arguments are not the "
        "cause; retrying will not help."
    ),
    "ERROR_CONFIGURATION_SYNC": (
        "The consumer's sync is not configured correctly in Chift: fix it there. Retrying will not help."
    ),
    "ERROR_CONNECTION_INFO_EMPTY": (
        "A field of this connection is empty in Chift: the consumer must complete the connection. "
        "Retrying will not help."
    ),
    "ERROR_CONNECTOR_MISSING_EXTENSION": (
        "The connected software needs an extension (add-on) installed for this: the consumer must add "
        "it. Retrying will not help."
    ),
    "ERROR_DATA_VALIDATION": "Chift reports a data validation problem it cannot explain further: " + _REPORT,
    # Answered 400 by Chift, yet not a problem with the arguments.
    "ERROR_INTERNAL_ERROR": "Chift had an internal error (not caused by the arguments): " + _REPORT,
    "ERROR_UNEXPECTED": "Chift hit an unexpected error and was notified (not the arguments): " + _REPORT,
    "ERROR_TECHNICAL_MAPPING": (
        "Chift could not map the connected software's data (a technical error; Chift is alerted, the "
        "arguments are not the cause): " + _REPORT
    ),
    "ERROR_UNKNOWN": "Chift reports an unknown error (not the arguments): " + _REPORT,
}
# Codes a retry cannot help, whatever their status: those whose hint says so.
NO_RETRY_CODES = frozenset(code for code, hint in CODE_HINTS.items() if NO_RETRY_NOTE in hint.lower())


def code_of(status: int, code: object, message: object) -> str | None:
    """The Chift error code of an answer (``code``, ``message``: its ``error_code`` and ``message``),
    or None; a codeless 502 saying Chift could not authenticate to the connector is
    ``ERROR_CONNECTOR_AUTHENTICATION``."""
    if isinstance(code, str) and code:
        return code
    if status == 502 and isinstance(message, str) and message.startswith(CONNECTOR_AUTHENTICATION_MESSAGE):
        return CONNECTOR_AUTHENTICATION
    return None
