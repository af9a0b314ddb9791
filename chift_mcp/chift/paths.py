"""What a Chift API path is about: the consumer in ``/consumers/{consumer_id}/…``, or the account.

One reading for every module that needs it (the read-your-writes window, the lost-write lookup hint,
the doors' per-consumer concurrency): the id is percent-decoded, the query and fragment ignored, and
``/consumers/{id}`` itself (the consumer resource) belongs to that consumer.
"""

from __future__ import annotations

__all__ = ["consumer_of"]

from urllib.parse import unquote


def consumer_of(path: str) -> str:
    """The consumer ``path`` is about (percent-decoded), or "" for an account-level path
    (``/consumers``, ``/webhooks/…``, ``/token``)."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    parts = path.split("/", 3)
    if len(parts) > 2 and not parts[0] and parts[1] == "consumers" and parts[2]:
        return unquote(parts[2])
    return ""
