"""Chift-style error answers: ``{"status": "error", "message", "error_code", "detail"}``."""

from __future__ import annotations

import json
from typing import Any


class ApiError(Exception):
    """Raised inside the sandbox to answer with a Chift error (``error_code`` None: a platform answer,
    which Chift sends without a code, as the spec's examples show)."""

    def __init__(
        self,
        status: int,
        error_code: str | None,
        message: str,
        detail: Any = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.error_code, self.message, self.detail)


def error_body(error_code: str | None, message: str, detail: Any = "") -> dict[str, Any]:
    return {"status": "error", "message": message, "error_code": error_code, "detail": detail}


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# Codes used by the sandbox, in one place; statuses from ``error_table.ERROR_TABLE`` (docs "Errors").
AUTHENTICATION = "ERROR_CHIFT_AUTHENTICATION_ERROR"  # 401
ROUTE_NOT_FOUND = "ERROR_API_RESOURCE_NOT_FOUND"  # 400, unknown route
METHOD_NOT_SUPPORTED = "ERROR_RESOURCE_NOT_SUPPORTED"  # 405
NO_ACTIVE_CONNECTION = "ERROR_NO_ACTIVE_CONNECTION"  # 400
CONNECTION_CONFIGURATION = "ERROR_CONFIGURATION_CONNECTION"  # 400, several active connections
FOLDER_NOT_FOUND = "ERROR_FOLDER_NOT_FOUND"  # 404, unknown or not selected folder
RATE_LIMIT = "ERROR_RATE_LIMIT"  # 429
ALREADY_PROCESSED = "REQUEST_ALREADY_PROCESSED"  # 409
IN_PROCESS = "REQUEST_IN_PROCESS"  # 409
INTERNAL = "ERROR_INTERNAL_ERROR"  # 400 (not 500: Chift's table)
INVALID_BODY = "ERROR_INVALID_BODY"  # 422 (also ERROR_INVALID_QUERY_PARAMETER, ERROR_INVALID_PATH_PARAMETER)
INVALID_QUERY = "ERROR_INVALID_QUERY_PARAMETER"  # 422

# Platform answers (spec examples, no error_code): consumers, connections, the transaction lookup.
CONSUMER_MISSING = "The consumer does not exist"
CONNECTION_MISSING = "The connection does not exist"
TRANSACTION_MISSING = "The specified transaction could not be found"
CONNECTION_ID_INVALID = "The specified connectionid is not valid"
