"""search_index on a tiny corpus with a deterministic fake embedder: parsing, chunking, building,
skipping, hybrid ranking, grouping, filters, model checks and the command line."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import pytest

pytest.importorskip("lancedb")
pytest.importorskip("snowballstemmer")

from support.docs import CORPUS

from search_index import HashEmbedder, IndexMissing, ModelMismatch, SearchIndex, build_index
from search_index import cli as index_cli
from search_index.corpus import chunk_corpus, chunk_page, parse_pages, sections
from search_index.search import BadSection, section_filter


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "llms-full.txt"
    path.write_text(CORPUS, encoding="utf-8")
    return path


NO_QUESTIONS: dict[str, dict[str, list[str]]] = {}


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def index(corpus_file: Path, tmp_path: Path, embedder: HashEmbedder) -> SearchIndex:
    build_index(
        corpus_file,
        tmp_path / "index",
        embedder=embedder,
        questions=NO_QUESTIONS,
        chunk_size=300,
        chunk_overlap=60,
    )
    return SearchIndex.open(tmp_path / "index", embedder=embedder)


# ----------------------------------------------------------------------------- corpus


def test_pages_have_title_url_and_path() -> None:
    pages = parse_pages(CORPUS)
    assert [p.title for p in pages] == ["Rate limits", "Idempotency", "Zelty", "Get vat codes", "Long page"]
    assert pages[2].url == "https://docs.chift.eu/connectors/pos/zelty"
    assert pages[2].path == "connectors/pos/zelty"


def test_sections_keep_the_heading_path_and_ignore_comments_in_code() -> None:
    idempotency = parse_pages(CORPUS)[1]
    names = [name for name, _ in sections(idempotency)]
    assert names == ["", "What can you expect?"]  # "# this is a comment" is inside a fence
    chunk = chunk_page(idempotency, 1)[0]
    assert chunk.heading.startswith("Idempotency")


def test_chunks_respect_size_and_overlap() -> None:
    long_page = parse_pages(CORPUS)[4]
    chunks = chunk_page(long_page, 4, size=300, overlap=60)
    assert len(chunks) > 5
    assert all(len(c.text) <= 300 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        # the end of a chunk (here the last words of its last line) starts the next one
        carried = after.text.splitlines()[0]
        assert before.text.endswith(carried) and 0 < len(carried) <= 60
    whole_lines = chunk_page(long_page, 4, size=300, overlap=130)
    for before, after in itertools.pairwise(whole_lines):
        assert before.text.splitlines()[-2:] == after.text.splitlines()[:2]


def test_small_sections_share_a_chunk() -> None:
    chunks = chunk_corpus(parse_pages(CORPUS)[:1], size=1000, overlap=100)
    assert len(chunks) == 1
    assert "Connector limits" in chunks[0].text


def test_chunking_rejects_overlap_as_large_as_size() -> None:
    with pytest.raises(ValueError):
        chunk_page(parse_pages(CORPUS)[0], 0, size=100, overlap=100)


# ----------------------------------------------------------------------------- build


def test_build_records_model_source_and_counts(
    corpus_file: Path, tmp_path: Path, embedder: HashEmbedder
) -> None:
    result = build_index(corpus_file, tmp_path / "i", embedder=embedder, questions=NO_QUESTIONS)
    assert not result.skipped
    assert result.pages == 5
    assert result.meta["model"] == embedder.name
    assert result.meta["source"] == str(corpus_file)
    assert len(result.meta["source_hash"]) == 64


def test_build_is_skipped_when_the_source_is_unchanged(
    corpus_file: Path, tmp_path: Path, embedder: HashEmbedder
) -> None:
    build_index(corpus_file, tmp_path / "i", embedder=embedder, questions=NO_QUESTIONS)
    assert build_index(corpus_file, tmp_path / "i", embedder=embedder, questions=NO_QUESTIONS).skipped
    assert not build_index(
        corpus_file, tmp_path / "i", embedder=embedder, questions=NO_QUESTIONS, force=True
    ).skipped
    corpus_file.write_text(
        CORPUS + "# New page\nSource: https://docs.chift.eu/new\nNew text.\n", encoding="utf-8"
    )
    rebuilt = build_index(corpus_file, tmp_path / "i", embedder=embedder, questions=NO_QUESTIONS)
    assert not rebuilt.skipped and rebuilt.pages == 6


def test_build_reports_progress(corpus_file: Path, tmp_path: Path, embedder: HashEmbedder) -> None:
    seen: list[tuple[str, int, int]] = []
    build_index(
        corpus_file,
        tmp_path / "i",
        embedder=embedder,
        questions=NO_QUESTIONS,
        progress=lambda *a: seen.append(a),
    )
    stages = [s for s, _, _ in seen]
    assert stages[0] == "read" and stages[-1] == "write" and "embed" in stages
    embeds = [(d, t) for s, d, t in seen if s == "embed"]
    assert embeds[-1][0] == embeds[-1][1] > 0


def test_a_source_without_pages_is_refused(tmp_path: Path, embedder: HashEmbedder) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("just text\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no pages"):
        build_index(empty, tmp_path / "i", embedder=embedder, questions=NO_QUESTIONS)


# ----------------------------------------------------------------------------- search


def test_hybrid_search_finds_the_page_that_answers(index: SearchIndex) -> None:
    hits = index.search("retry a POST without processing it twice: request id header", k=3)
    assert hits[0].url == "https://docs.chift.eu/developer-guides/advanced/idempotency"
    assert hits[0].title == "Idempotency"
    assert 0 < hits[0].score <= 1


def test_bm25_alone_matches_exact_terms(index: SearchIndex) -> None:
    hits = index.search("REQUEST_ALREADY_PROCESSED", k=3, mode="bm25")
    assert hits and hits[0].title == "Idempotency"
    assert hits[0].section == "What can you expect?" or "REQUEST_ALREADY_PROCESSED" in hits[0].text


def test_one_page_does_not_fill_the_results(index: SearchIndex) -> None:
    hits = index.search("journals and ledger accounts paragraph", k=5)
    urls = [h.url for h in hits]
    assert len(urls) == len(set(urls))
    assert urls[0] == "https://docs.chift.eu/developer-guides/long"
    assert len(hits) == 5  # other pages fill the remaining places


def test_section_filter_narrows_to_a_docs_path(index: SearchIndex) -> None:
    hits = index.search("api key", k=5, section="connectors/pos")
    assert hits and all(h.url.startswith("https://docs.chift.eu/connectors/pos/") for h in hits)
    assert index.search("vat codes", k=5, section="api-reference")[0].title == "Get vat codes"
    assert (
        index.search("vat codes", k=5, section="https://docs.chift.eu/api-reference/")[0].title
        == "Get vat codes"
    )
    assert index.search("vat codes", k=5, section="connectors/pms") == []


@pytest.mark.parametrize("bad", ["x' OR 1=1 --", "a b", "../etc"])
def test_section_filter_refuses_anything_but_a_path(bad: str) -> None:
    with pytest.raises(BadSection):
        section_filter(bad)


def test_queries_with_only_punctuation_fall_back_to_vectors(index: SearchIndex) -> None:
    assert index.text_ids("?!", 5) == []
    assert len(index.search("?!", k=2)) == 2


def test_opening_a_missing_index_says_how_to_build_it(tmp_path: Path, embedder: HashEmbedder) -> None:
    with pytest.raises(IndexMissing, match="build"):
        SearchIndex.open(tmp_path / "nothing", embedder=embedder)


def test_a_different_model_is_refused(index: SearchIndex, tmp_path: Path) -> None:
    with pytest.raises(ModelMismatch, match="test/hash-embedder"):
        SearchIndex.open(tmp_path / "index", embedder=_Shifted())
    with pytest.raises(ModelMismatch):
        SearchIndex.open(tmp_path / "index", embedder=HashEmbedder(dim=32))
    # the same model under another name (a local copy) is accepted: the fingerprint decides
    assert len(SearchIndex.open(tmp_path / "index", embedder=HashEmbedder(name="/models/copy"))) == len(index)


class _Shifted(HashEmbedder):
    """Same dimension, different vectors: another model."""

    def __init__(self) -> None:
        super().__init__(name="other/model")

    def _vector(self, text: str):  # type: ignore[no-untyped-def]
        return super()._vector(text + " shifted words change every vector")


# ----------------------------------------------------------------------------- command line


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI builds its embedder from a model name: hand it the fake one."""
    import search_index.build
    import search_index.search

    monkeypatch.setattr(search_index.build, "make_embedder", lambda name=None: HashEmbedder())
    monkeypatch.setattr(search_index.search, "make_embedder", lambda name=None: HashEmbedder())


@pytest.mark.usefixtures("fake_model")
def test_cli_build_then_skip(corpus_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri = str(tmp_path / "cli-index")
    assert index_cli.main(["build", "--source", str(corpus_file), "--index", uri]) == 0
    err = capsys.readouterr().err
    assert "built" in err and "embedding" in err  # the progress bar is on stderr
    assert index_cli.main(["build", "--source", str(corpus_file), "--index", uri, "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "up to date" in captured.err and captured.out == ""


@pytest.mark.usefixtures("fake_model")
def test_cli_query_prints_readable_results(
    corpus_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = str(tmp_path / "cli-index")
    index_cli.main(["build", "--source", str(corpus_file), "--index", uri, "--no-progress"])
    capsys.readouterr()
    assert index_cli.main(["query", "--index", uri, "--k", "2", "Zelty restaurant api key"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. Zelty")
    assert "https://docs.chift.eu/connectors/pos/zelty" in out


@pytest.mark.usefixtures("fake_model")
def test_cli_jsonl_answers_one_line_per_query(
    corpus_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = str(tmp_path / "cli-index")
    index_cli.main(["build", "--source", str(corpus_file), "--index", uri, "--no-progress"])
    capsys.readouterr()
    lines = [
        json.dumps({"query": "VAT codes of the accounting software"}),
        "",
        json.dumps({"query": "Zelty", "section": "connectors"}),
        "not json",
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert index_cli.main(["query", "--index", uri, "--k", "2", "--jsonl"]) == 1  # one bad line
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(answers) == 3
    assert answers[0]["query"] == "VAT codes of the accounting software"
    first = answers[0]["results"][0]
    assert set(first) == {"url", "title", "section", "score", "text"}
    assert first["url"] == "https://docs.chift.eu/api-reference/endpoints/accounting/get-vat-codes"
    assert all(r["url"].startswith("https://docs.chift.eu/connectors/") for r in answers[1]["results"])
    assert answers[2]["line"] == 4 and "error" in answers[2]


def test_cli_query_on_a_missing_index_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert index_cli.main(["query", "--index", str(tmp_path / "none"), "anything"]) == 1
    assert "no search index" in capsys.readouterr().err


def test_cli_query_checks_its_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert index_cli.main(["query", "--index", str(tmp_path), "--k", "0", "q"]) == 2
    assert index_cli.main(["query", "--index", str(tmp_path)]) == 2


# ----------------------------------------------------------------------------- torch-free questions


def _model_dir(
    tmp_path: Path, modules: list[str], pooling: dict[str, bool], model_type: str = "bert"
) -> Path:
    path = tmp_path / "model"
    (path / "1_Pooling").mkdir(parents=True)
    (path / "modules.json").write_text(
        json.dumps([{"type": t, "path": "1_Pooling" if "Pooling" in t else ""} for t in modules])
    )
    (path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (path / "config.json").write_text(json.dumps({"model_type": model_type, "hidden_act": "gelu"}))
    return path


@pytest.mark.parametrize(
    ("modules", "pooling", "model_type"),
    [
        (["Transformer", "Pooling", "Normalize"], {"pooling_mode_cls_token": True}, "bert"),
        (["Transformer", "Pooling"], {"pooling_mode_mean_tokens": True}, "xlm-roberta"),
        (["Transformer", "Pooling", "Dense"], {"pooling_mode_mean_tokens": True}, "bert"),
        (["Transformer", "Pooling"], {"pooling_mode_mean_tokens": True}, "bert"),  # no weights, no tokenizer
    ],
)
def test_numpy_questions_only_for_pipelines_they_reproduce(
    tmp_path: Path, modules: list[str], pooling: dict[str, bool], model_type: str
) -> None:
    from search_index.fastquery import NumpyBertQuery

    full = [f"sentence_transformers.models.{m}" for m in modules]
    assert NumpyBertQuery.from_dir(_model_dir(tmp_path, full, pooling, model_type)) is None
    assert NumpyBertQuery.from_dir(tmp_path / "missing") is None


def test_an_index_uri_works_like_a_path(corpus_file: Path, tmp_path: Path, embedder: HashEmbedder) -> None:
    """Object-store URIs (s3://, gs://, az://) go to LanceDB as they are; file:// takes the same road."""
    uri = f"file://{tmp_path}/shared-index"
    assert not build_index(corpus_file, uri, embedder=embedder, questions=NO_QUESTIONS).skipped
    assert build_index(corpus_file, uri, embedder=embedder, questions=NO_QUESTIONS).skipped
    assert SearchIndex.open(uri, embedder=embedder).search("Zelty", 1)[0].title == "Zelty"


# ----------------------------------------------------------------------------- text, glossary, ranking


def test_markdown_escapes_are_removed_before_indexing() -> None:
    from search_index.text import unescape

    assert (
        unescape("| ERROR\\_PARTNER\\_ALREADY\\_EXISTS | 400 |") == "| ERROR_PARTNER_ALREADY_EXISTS | 400 |"
    )
    assert unescape("Website: [zelty.fr](https://zelty.fr)\\\nGeography: France") == (
        "Website: [zelty.fr](https://zelty.fr)\nGeography: France"
    )
    assert unescape("a \\* b \\& c") == "a * b & c"


def test_terms_are_stemmed_words_plus_whole_identifiers() -> None:
    from search_index.text import terms

    assert terms("Matching the invoices") == ["match", "invoic"]
    assert "=error_partner_already_exists" in terms("ERROR_PARTNER_ALREADY_EXISTS")
    assert "=x-chift-connectionid" in terms("the X-Chift-ConnectionId header")
    assert "=customer_refund" in terms("type customer_refund")
    assert not [t for t in terms("end-of-day T-shirt e-commerce") if t.startswith("=")]
    assert terms("Écriture") == terms("ecriture")


def test_bm25_ranks_rarer_and_repeated_terms_higher() -> None:
    from search_index.bm25 import BM25

    bm25 = BM25([["vat", "code"], ["vat", "vat", "rate"], ["journal"]])
    scores = bm25.scores(["vat"])
    assert scores[1] > scores[0] > 0 == scores[2]
    assert bm25.scores({"journal": 0.5})[2] == pytest.approx(bm25.scores(["journal"])[2] / 2)


def test_french_questions_are_rewritten_in_the_docs_english() -> None:
    from search_index.glossary import expand

    e = expand("Comment récupérer les écritures d'un exercice comptable ?")
    assert e.french
    assert "journal entry" in e.english and "bookyear" in e.english and "comment" not in e.english.lower()
    assert expand("Où sont mes avoirs ?").french and "credit note" in expand("Où sont mes avoirs ?").english
    assert "match entries" in expand("lettrage des factures client").english


def test_dutch_german_and_spanish_questions_are_rewritten_in_english() -> None:
    """From the finder's language files: phrase, then Snowball stem; English words never count as Dutch."""
    pytest.importorskip("snowballstemmer")
    from search_index.glossary import expand, other_language

    dutch = expand("Hoe boek ik een creditnota in het dagboek?")
    assert dutch.french and "credit note" in dutch.english and "journal" in dutch.english
    assert dutch.for_vectors.startswith("Hoe boek ik een creditnota")  # as asked, then the rewriting
    assert "hoe" not in dutch.english.lower().split()  # function words dropped
    german = other_language("Wie finde ich die offenen Posten in der Buchhaltung?")
    spanish = other_language("¿Cómo creo una factura de venta?")
    assert german is not None and german.code == "de" and spanish is not None and spanish.code == "es"
    assert other_language("We sell on several webshops; can we use the connector?") is None
    assert other_language("Comment créer une facture de vente ?") is None  # French stays French
    assert expand("Comment créer une facture de vente ?").original == ""


def test_business_acts_bring_the_api_words() -> None:
    from search_index.glossary import expand

    e = expand("We gave the customer a credit note")
    assert not e.french and e.english == "We gave the customer a credit note"
    assert any("customer_refund" in a for a in e.added)
    assert expand("How do I authenticate?").added == ()


def test_page_summaries_hold_title_path_headings_and_prose() -> None:
    from search_index.corpus import page_summary

    zelty = parse_pages(CORPUS)[2]
    summary = page_summary(zelty)
    assert summary.splitlines()[:3] == ["Zelty", "connectors pos zelty", "Configure Zelty"]
    assert "point of sale for restaurants" in summary


def test_an_exact_identifier_finds_its_page(index: SearchIndex) -> None:
    hits = index.search("REQUEST_ALREADY_PROCESSED", k=3)
    assert hits[0].title == "Idempotency"


def test_french_question_finds_the_english_page(index: SearchIndex) -> None:
    hits = index.search("Comment obtenir les codes TVA du logiciel comptable ?", k=2)
    assert hits[0].title == "Get vat codes"


def test_baseline_modes_answer_over_the_same_chunks(index: SearchIndex) -> None:
    for mode in ("bm25", "vector", "rrf", "hybrid"):
        hits = index.search("retry a POST without processing it twice: request id header", k=3, mode=mode)
        assert hits and len({h.url for h in hits}) == len(hits)
    assert index.search("REQUEST_ALREADY_PROCESSED", k=1, mode="rrf")[0].title == "Idempotency"


def test_scores_are_scaled_to_one(index: SearchIndex) -> None:
    hits = index.search("Zelty restaurant point of sale", k=5)
    assert all(0 < h.score <= 1 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_local_index_opens_from_its_arrow_snapshot(index: SearchIndex, tmp_path: Path) -> None:
    from search_index import store

    assert (tmp_path / "index" / store.SNAPSHOT_CHUNKS).is_file()
    assert index._table is None  # LanceDB not opened: the default ranking needs only the snapshot
    hits = index.search("Zelty restaurant api key", k=3)
    assert index._table is None
    assert index.search("Zelty", k=1, mode="bm25")[0].title == "Zelty"  # LanceDB opened on demand
    for name in (store.SNAPSHOT_CHUNKS, store.SNAPSHOT_PAGES):
        (tmp_path / "index" / name).unlink()
    from_lancedb = SearchIndex.open(tmp_path / "index", embedder=HashEmbedder())
    assert from_lancedb._table is not None
    assert from_lancedb.search("Zelty restaurant api key", k=3) == hits


def test_a_rebuild_replaces_the_snapshot(corpus_file: Path, tmp_path: Path, embedder: HashEmbedder) -> None:
    from search_index import store

    uri = tmp_path / "i"
    build_index(corpus_file, uri, embedder=embedder, questions=NO_QUESTIONS)
    corpus_file.write_text(
        CORPUS + "# New page\nSource: https://docs.chift.eu/new\nNew text.\n", encoding="utf-8"
    )
    build_index(corpus_file, uri, embedder=embedder, questions=NO_QUESTIONS)
    meta, _chunks, pages, _questions = store.read_snapshot(uri) or ({}, None, None, None)
    assert meta["pages"] == 6 and pages is not None and pages.num_rows == 6
    assert (
        SearchIndex.open(uri, embedder=embedder).search("New text", k=1)[0].url == "https://docs.chift.eu/new"
    )


def test_the_questions_a_page_answers_rank_it_in_the_askers_words(
    corpus_file: Path, tmp_path: Path, embedder: HashEmbedder
) -> None:
    """A page's own text names the mechanism; its questions carry the asker's words (French too)."""
    from search_index import store

    asked = {
        "developer-guides/long": {
            "en": ["my script crashed and I ran it twice"],
            "fr": ["facturé deux fois ?"],
        }
    }
    build_index(corpus_file, tmp_path / "q", embedder=embedder, questions=asked)
    index = SearchIndex.open(tmp_path / "q", embedder=embedder)
    assert (
        index.search("script crashed ran twice", k=1)[0].url == "https://docs.chift.eu/developer-guides/long"
    )
    assert index.search("facturé deux fois", k=1)[0].url == "https://docs.chift.eu/developer-guides/long"
    meta, _, _, questions = store.read_snapshot(tmp_path / "q") or ({}, None, None, None)
    assert (
        meta["questions"] == 2
        and questions is not None
        and questions.column("lang").to_pylist() == ["en", "fr"]
    )
    # New questions are a new build; the same ones are not.
    assert build_index(corpus_file, tmp_path / "q", embedder=embedder, questions=asked).skipped
    assert not build_index(corpus_file, tmp_path / "q", embedder=embedder, questions=NO_QUESTIONS).skipped


def test_questions_in_any_language_are_indexed_and_the_embedded_ones_get_vectors(
    corpus_file: Path, tmp_path: Path, embedder: HashEmbedder
) -> None:
    """Dutch, German, Spanish (any code) sit beside English and French; only ``embedded`` get vectors."""
    import numpy as np

    from search_index import store

    asked = {
        "developer-guides/long": {
            "nl": ["mijn script liep twee keer"],
            "fr": ["facturé deux fois ?"],
            "en": ["my script crashed and I ran it twice"],
            "es": ["mi script se ejecutó dos veces"],
        }
    }
    uri = tmp_path / "q"
    build_index(corpus_file, uri, embedder=embedder, questions=asked, embedded=("en", "nl"))
    meta, _, _, questions = store.read_snapshot(uri) or ({}, None, None, None)
    assert questions is not None and meta["question_languages"] == ["en", "nl"]
    assert questions.column("lang").to_pylist() == ["en", "fr", "es", "nl"]
    norms = np.linalg.norm(np.asarray(questions.column("vector").to_pylist()), axis=1)
    assert [bool(n > 0) for n in norms] == [True, False, False, True]
    index = SearchIndex.open(uri, embedder=embedder)
    assert (
        index.search("mijn script liep twee keer", k=1)[0].url
        == "https://docs.chift.eu/developer-guides/long"
    )
    # Other embedded languages are another build.
    assert build_index(corpus_file, uri, embedder=embedder, questions=asked, embedded=("en", "nl")).skipped
    assert not build_index(corpus_file, uri, embedder=embedder, questions=asked, embedded=("en",)).skipped


def test_the_expansion_names_the_language_it_read() -> None:
    from search_index.glossary import expand

    assert expand("how do I create an invoice?").language == "en"
    assert expand("comment créer une facture ?").language == "fr"
    assert expand("hoe maak ik een factuur aan?").language == "nl"
    assert expand("wie erstelle ich eine Rechnung?").language == "de"
    assert expand("¿cómo creo una factura?").language == "es"
