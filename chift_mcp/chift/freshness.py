"""Reading your own writes through Chift's GET cache.

Chift caches every GET answer for up to 5 minutes and a write does not clear it; a GET with
``x-chift-force-refresh: true`` bypasses the cache ("The response fetched with this header is also
cached"), and Chift may block callers who overuse the header (docs.chift.eu
developer-guides/advanced/caching; "caching applies to all GET requests"). :class:`RecentWrites`
remembers, per scope, when a write last ended, and says which GETs must bypass the cache: those on
a scope written to within the window, never a ``cursor`` page (Chift: cursor pagination "is not
compatible with X-Chift-Force-Refresh").

A scope is a consumer (everything under ``/consumers/{id}``), or an account resource (the first
segment of an account-level path: ``/consumers``, ``/webhooks``, ``/syncs``…). A write to
``/consumers`` or to a consumer itself (``/consumers/{id}``: renamed, deleted) also changes the list of
consumers, so it marks ``/consumers`` too; and after a write to ``/consumers`` a GET of one consumer
bypasses the cache as well. A write is stamped when it is sent (lost or not, it may change the data)
and again when its answer or failure comes: Chift may carry it out at any time in between, so the
window runs from the later stamp.
"""

from __future__ import annotations

__all__ = ["CHIFT_CACHE_SECONDS", "RecentWrites"]

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from chift_mcp.chift.paths import consumer_of

# Chift caches GET answers for at most this long.
CHIFT_CACHE_SECONDS = 300.0
MAX_WRITERS = 4096  # scopes whose last write is remembered (least recently written dropped)
CONSUMERS = "/consumers"  # the account's list of consumers, as a scope


def _scopes(path: str) -> tuple[str, ...]:
    """The scopes a request on ``path`` is about: its consumer's (``consumer:{id}``) or its account
    resource's; the consumer resource itself (``/consumers/{id}``) is in the list of consumers too."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    consumer = consumer_of(path)
    if consumer:
        itself = path.rstrip("/").count("/") == 2
        return (f"consumer:{consumer}", CONSUMERS) if itself else (f"consumer:{consumer}",)
    return ("/" + path.lstrip("/").split("/", 1)[0],)


class RecentWrites:
    """Per scope, the time (``clock``: monotonic) a write for it last ended (or was sent)."""

    def __init__(self, window: float, clock: Callable[[], float]) -> None:
        self.window = window
        self._clock = clock
        self._at: OrderedDict[str, float] = OrderedDict()

    def fresh_read(self, method: str, path: str, params: Mapping[str, Any] | None, writes: bool) -> bool:
        """Note a write about to be sent; for a GET, whether it must bypass Chift's cache."""
        if writes:
            self.written(path)
            return False
        if method != "GET" or (params and params.get("cursor") is not None):
            return False
        return any(self.recent(scope) for scope in _scopes(path))

    def written(self, path: str) -> None:
        """Stamp a write on ``path`` now (when it is sent, and again when its outcome is known)."""
        now = self._clock()
        for scope in _scopes(path):
            self._at[scope] = now
            self._at.move_to_end(scope)
        while len(self._at) > MAX_WRITERS:
            self._at.popitem(last=False)

    def recent(self, scope: str) -> bool:
        """Whether a write for ``scope`` ended within the window."""
        at = self._at.get(scope)
        return at is not None and self._clock() - at < self.window
