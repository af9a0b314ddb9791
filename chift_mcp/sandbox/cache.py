"""Chift's GET cache (docs "Caching in Chift API", ``developer-guides/advanced/caching``).

- Every GET of the unified APIs is cached for at most 5 minutes (``SandboxConfig.cache_ttl`` seconds
  on the sandbox's clock), per consumer, connection, path and query (``folder_id`` is in the query).
  The docs do not give the key: this one is the sandbox's choice.
- Writes do not clear it: a list read before a create stays as it was, without the new object, until
  it expires or is read with ``x-chift-force-refresh: true`` (the docs' own workflow: get, create,
  get with the header).
- ``x-chift-force-refresh: true`` (header name and value in any casing) bypasses the cache, and the
  fresh answer is cached in turn ("The response fetched with this header is also cached").
- Fetching what is not cached (another page of the same list) resets the lifetime of what is already
  cached for that path ("When non-cached data is requested, already cached data has its lifetime
  reset").
- Only successful answers are cached (the sandbox's choice; the docs speak of data).
- Platform routes (consumers, connections, the transaction lookup, tokens) are not cached: the docs'
  reason for the cache is the load on connected software, which those routes do not touch (an
  interpretation).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

FORCE_REFRESH = "x-chift-force-refresh"

Key = tuple[str, str, str, str]  # (consumer, connection, path, canonical query)


def force_refresh(headers: Mapping[str, str]) -> bool:
    """Whether the request asks to bypass the cache (``headers`` is case-insensitive, as Starlette's)."""
    return str(headers.get(FORCE_REFRESH, "")).strip().lower() == "true"


def cache_key(consumer: str, connection: str, path: str, query_string: str) -> Key:
    pairs = sorted(parse_qsl(query_string, keep_blank_values=True))
    return (consumer, connection, path, "&".join(f"{k}={v}" for k, v in pairs))


@dataclass
class _Entry:
    stored_at: float
    status: int
    body: bytes


class GetCache:
    """Answers by key with their time of storage; ``now`` is the sandbox's clock."""

    def __init__(self, size: int, ttl: float, now: Callable[[], float]) -> None:
        self.size = size
        self.ttl = ttl
        self._now = now
        self._data: OrderedDict[Key, _Entry] = OrderedDict()
        self._groups: dict[tuple[str, str, str], set[Key]] = {}
        self.hits = 0

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, key: Key) -> tuple[int, bytes] | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if self._now() - entry.stored_at >= self.ttl:
            self._drop(key)
            return None
        self._data.move_to_end(key)
        self.hits += 1
        return entry.status, entry.body

    def put(self, key: Key, status: int, body: bytes) -> None:
        now = self._now()
        group = self._groups.setdefault(key[:3], set())
        if key not in self._data:  # new data: what is still cached beside it lives 5 minutes more
            for other in list(group):
                if now - self._data[other].stored_at >= self.ttl:
                    self._drop(other)
                else:
                    self._data[other].stored_at = now
            group = self._groups.setdefault(key[:3], set())
        self._data[key] = _Entry(now, status, body)
        self._data.move_to_end(key)
        group.add(key)
        while len(self._data) > self.size:
            self._drop(next(iter(self._data)))

    def _drop(self, key: Key) -> None:
        self._data.pop(key, None)
        group = self._groups.get(key[:3])
        if group is not None:
            group.discard(key)
            if not group:
                del self._groups[key[:3]]

    def clear(self) -> None:
        self._data.clear()
        self._groups.clear()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._data)
