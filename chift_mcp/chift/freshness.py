"""Reading your own writes through Chift's GET cache.

Chift caches every GET answer for up to 5 minutes and a write does not clear it; a GET with
``x-chift-force-refresh: true`` bypasses the cache ("The response fetched with this header is also
cached"), and Chift may block callers who overuse the header (docs.chift.eu
developer-guides/advanced/caching). :class:`RecentWrites` remembers, per consumer, when a write was
last sent, and says which GETs must bypass the cache: those on a consumer written to within the
window, never a ``cursor`` page (Chift: cursor pagination "is not compatible with
X-Chift-Force-Refresh").
"""

from __future__ import annotations

__all__ = ["CHIFT_CACHE_SECONDS", "RecentWrites"]

import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

# Chift caches GET answers for at most this long.
CHIFT_CACHE_SECONDS = 300.0
MAX_WRITERS = 4096  # consumers whose last write is remembered (least recently written dropped)
_CONSUMER_PATH = re.compile(r"^/consumers/([^/?#]+)")


class RecentWrites:
    """Per consumer, the time (``clock``: monotonic) of the last write sent for it."""

    def __init__(self, window: float, clock: Callable[[], float]) -> None:
        self.window = window
        self._clock = clock
        self._at: OrderedDict[str, float] = OrderedDict()

    def fresh_read(self, method: str, path: str, params: Mapping[str, Any] | None, writes: bool) -> bool:
        """Note a write about to be sent (lost or not, it may change the data); for a GET, whether it
        must bypass Chift's cache."""
        match = _CONSUMER_PATH.match(path)
        if match is None:
            return False
        consumer = match.group(1)
        if writes:
            self._at[consumer] = self._clock()
            self._at.move_to_end(consumer)
            while len(self._at) > MAX_WRITERS:
                self._at.popitem(last=False)
            return False
        if method != "GET" or (params and params.get("cursor") is not None):
            return False
        return self.recent(consumer)

    def recent(self, consumer: str) -> bool:
        """Whether a write for ``consumer`` was sent within the window."""
        at = self._at.get(consumer)
        return at is not None and self._clock() - at < self.window
