"""The SearchChift tool: registry validation, background build with progress, failures the agent
can act on, the server wiring, and an MCP client session in memory (fake embedder, tiny corpus)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("lancedb")

from mcp.client import Client
from support.docs import CORPUS

from chift_mcp.app import Runtime
from chift_mcp.calls.registry import Registry
from chift_mcp.modes.docs_search import ALIASES, SearchService, search_service, search_tool
from chift_mcp.server import build_server
from chift_mcp.settings import Settings
from chift_mcp.tools.access import Access, ConsumerAccess
from chift_mcp.tools.inventory import Inventory
from search_index import HashEmbedder, SearchIndex, build_index

pytestmark = pytest.mark.anyio
SCOPE = Access.of({})
TIMEOUT = 20


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "llms-full.txt"
    path.write_text(CORPUS, encoding="utf-8")
    return path


def fake_service(corpus: Path, uri: Path, *, gate: threading.Event | None = None) -> SearchService:
    """A service on the fake embedder; ``gate`` holds the build after its first progress report."""
    embedder = HashEmbedder()

    def builder(progress: Any) -> Any:
        def report(stage: str, done: int, total: int) -> None:
            progress(stage, done, total)
            if gate is not None and stage == "embed" and done == 0:
                gate.wait(TIMEOUT)

        return build_index(corpus, uri, embedder=embedder, progress=report)

    return SearchService(
        str(uri),
        str(corpus),
        embedder.name,
        opener=lambda: SearchIndex.open(uri, embedder=embedder),
        builder=builder,
    )


def registry_with(service: SearchService) -> Registry:
    return Registry(Inventory([search_tool(service)], ALIASES), upstream=None)


async def wait_ready(service: SearchService) -> None:
    with anyio.fail_after(TIMEOUT):
        while service.state not in ("ready", "failed"):
            await anyio.sleep(0.01)


async def test_answers_ranked_passages_with_title_section_and_url(corpus: Path, tmp_path: Path) -> None:
    service = fake_service(corpus, tmp_path / "index")
    service.start()
    await wait_ready(service)
    result = await registry_with(service).call(
        "search_chift", {"query": "VAT codes of the accounting software", "k": 2}, SCOPE
    )
    assert not result.is_error
    results = result.structured["results"]  # type: ignore[index]
    assert len(results) == 2
    assert results[0]["url"] == "https://docs.chift.eu/api-reference/endpoints/accounting/get-vat-codes"
    assert {"title", "url", "score", "text"} <= set(results[0])


async def test_section_filter_and_bad_section(corpus: Path, tmp_path: Path) -> None:
    service = fake_service(corpus, tmp_path / "index")
    registry = registry_with(service)
    service.start()
    await wait_ready(service)
    ok = await registry.call("SearchChift", {"query": "api key", "section": "connectors/pos"}, SCOPE)
    assert [r["title"] for r in ok.structured["results"]] == ["Zelty"]  # type: ignore[index]
    bad = await registry.call("SearchChift", {"query": "api key", "section": "no spaces please"}, SCOPE)
    assert bad.is_error and bad.structured["field"] == "section"  # type: ignore[index]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({}, "query"), ({"query": ""}, "query"), ({"query": "x", "k": 21}, "k"), ({"query": "x", "k": 0}, "k")],
)
async def test_arguments_are_validated_before_searching(arguments: dict[str, Any], field: str) -> None:
    service = SearchService("unused", "unused", "unused", opener=lambda: pytest.fail("must not open"))
    result = await registry_with(service).call("SearchChift", arguments, SCOPE)
    assert result.is_error and result.structured["error"] == "INVALID_ARGUMENTS"  # type: ignore[index]
    assert result.structured["field"] == field  # type: ignore[index]
    assert service.state == "idle"


async def test_missing_index_is_built_in_the_background_with_progress(corpus: Path, tmp_path: Path) -> None:
    gate = threading.Event()
    service = fake_service(corpus, tmp_path / "index", gate=gate)
    registry = registry_with(service)
    with anyio.fail_after(5):  # answers while building, does not wait for the build to end
        first = await registry.call("SearchChift", {"query": "idempotency"}, SCOPE)  # starts it
    with anyio.fail_after(TIMEOUT):
        while service.progress[0] != "embed":
            await anyio.sleep(0.01)
    building = await registry.call("SearchChift", {"query": "idempotency"}, SCOPE)
    gate.set()
    await wait_ready(service)
    answered = await registry.call("SearchChift", {"query": "REQUEST_ALREADY_PROCESSED retried POST"}, SCOPE)
    assert first.is_error and first.structured["error"] == "SEARCH_UNAVAILABLE"  # type: ignore[index]
    assert building.is_error and building.structured["retryable"] is True  # type: ignore[index]
    message = building.structured["message"]  # type: ignore[index]
    assert "being built" in message and "embedding chunk 0 of" in message and "(0%)" in message
    assert not answered.is_error
    assert answered.structured["results"][0]["title"] == "Idempotency"  # type: ignore[index]


async def test_a_build_that_fails_says_what_to_do(tmp_path: Path) -> None:
    service = fake_service(tmp_path / "does-not-exist.txt", tmp_path / "index")
    service.start()
    await wait_ready(service)
    result = await registry_with(service).call("SearchChift", {"query": "x"}, SCOPE)
    payload = result.structured
    assert result.is_error and payload["error"] == "SEARCH_UNAVAILABLE"  # type: ignore[index]
    assert "does-not-exist.txt" in payload["message"]  # type: ignore[index]
    assert "chift-mcp index build" in payload["hint"] and payload["retryable"] is False  # type: ignore[index]


async def test_start_is_idempotent_and_opens_once(corpus: Path, tmp_path: Path) -> None:
    build_index(corpus, tmp_path / "index", embedder=HashEmbedder())
    opened: list[int] = []
    embedder = HashEmbedder()

    def opener() -> Any:
        opened.append(1)
        return SearchIndex.open(tmp_path / "index", embedder=embedder)

    service = SearchService(str(tmp_path / "index"), str(corpus), embedder.name, opener=opener)
    for _ in range(3):
        service.start()
    await wait_ready(service)
    service.start()
    registry = registry_with(service)
    for _ in range(3):
        assert not (await registry.call("SearchChift", {"query": "Zelty"}, SCOPE)).is_error
    assert opened == [1]


async def test_over_mcp_in_memory(corpus: Path, tmp_path: Path) -> None:
    service = fake_service(corpus, tmp_path / "index")
    registry = registry_with(service)
    server = build_server(registry, ConsumerAccess(SCOPE, None, ttl=0))  # type: ignore[arg-type]
    service.start()
    await wait_ready(service)
    with anyio.fail_after(TIMEOUT):
        async with Client(server) as client:
            tools = (await client.list_tools()).tools
            result = await client.call_tool("SearchChift", {"query": "no rate limits on requests", "k": 1})
            # The name this server listed before, and the official server's docs' name: both answered.
            alias = await client.call_tool("search_chift", {"query": "no rate limits on requests", "k": 1})
    assert [t.name for t in tools if "earch" in t.name] == ["SearchChift"]  # listed once, by Chift's name
    assert alias.content == result.content
    tool = next(t for t in tools if t.name == "SearchChift")
    assert tool.annotations is not None and tool.annotations.read_only_hint is True
    assert set(tool.input_schema["properties"]) == {"query", "k", "section"}
    assert not result.is_error
    body = json.loads(result.content[0].text)
    assert body["results"][0]["url"] == "https://docs.chift.eu/developer-guides/rate-limits"


def test_runtime_registers_the_tool_only_when_search_is_on(tmp_path: Path) -> None:
    creds = {"client_id": "a", "client_secret": "b", "account_id": "c"}
    off = Runtime.open(Settings(**creds))
    assert off.inventory.get("SearchChift") is None
    on = Runtime.open(Settings(**creds, search=True, search_index=str(tmp_path / "idx")))
    assert on.inventory.get("SearchChift") is not None and on.inventory.get("search_chift") is not None
    service = on.services["search"]
    assert service.index_uri == str(tmp_path / "idx") and service.state == "idle"  # nothing started yet
    assert service.model == "google/universal-sentence-encoder-multilingual-3"


def test_default_index_is_in_the_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    service = search_service(Settings())
    assert service.index_uri == str(tmp_path / "chift-mcp" / "search")
    assert service.source == "https://docs.chift.eu/llms-full.txt"


def test_chift_mcp_index_delegates_to_search_index(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import search_index.build
    import search_index.search
    from chift_mcp.cli import main

    monkeypatch.setattr(search_index.build, "make_embedder", lambda name=None: HashEmbedder())
    monkeypatch.setattr(search_index.search, "make_embedder", lambda name=None: HashEmbedder())
    monkeypatch.setenv("CHIFT_SEARCH_INDEX", str(tmp_path / "from-settings"))
    monkeypatch.setenv("CHIFT_SEARCH_SOURCE", str(corpus))
    assert main(["index", "build", "--no-progress"]) == 0
    assert (tmp_path / "from-settings" / "chunks.lance").is_dir()
    capsys.readouterr()
    assert main(["index", "query", "--k", "1", "Zelty restaurants"]) == 0
    assert "connectors/pos/zelty" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        main(["index", "query", "-h"])
    assert exited.value.code == 0 and "chift-mcp index query" in capsys.readouterr().out


async def test_a_local_index_of_another_model_is_rebuilt_with_this_one(corpus: Path, tmp_path: Path) -> None:
    """After the default model changed, the index built with the old one is rebuilt, not refused."""
    uri = tmp_path / "index"
    build_index(corpus, uri, embedder=HashEmbedder(dim=128, name="test/old-model"))
    new = HashEmbedder(name="test/new-model")
    built: list[str] = []

    def builder(progress: Any) -> Any:
        built.append("yes")
        return build_index(corpus, uri, embedder=new, progress=progress)

    service = SearchService(
        str(uri), str(corpus), new.name, opener=lambda: SearchIndex.open(uri, embedder=new), builder=builder
    )
    service.start()
    await wait_ready(service)
    assert service.state == "ready" and built == ["yes"]
    shared = SearchService(
        "s3://bucket/docs",
        str(corpus),
        new.name,
        opener=lambda: SearchIndex.open(uri, embedder=HashEmbedder(dim=64)),
        builder=builder,
    )
    shared.start()
    await wait_ready(shared)
    assert shared.state == "failed" and built == ["yes"]  # a shared index is left to whoever builds it
