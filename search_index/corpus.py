"""The corpus: read ``llms-full.txt``, split it into pages, and pages into chunks.

Every page of ``llms-full.txt`` starts with ``# Title`` on one line and ``Source: <url>`` on the
next. Inside a page, ``#``..``######`` headings outside code fences open sections; a chunk keeps the
heading path it sits under (``Errors > Chift Error``) so a passage can be read, and ranked, without
its page. Chunks are packed from whole lines up to ``size`` characters; a section too long for one
chunk is split with ``overlap`` characters carried over, a very long line (a wide table row) is cut
at word boundaries. Small neighbouring sections share a chunk rather than make crumbs.

``page_summary`` is a page's short description beside its chunks: title, path words, section
headings and the first lines of prose — what a reader scans to decide whether a page is the one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SOURCE = "https://docs.chift.eu/llms-full.txt"
DOCS_PREFIX = "https://docs.chift.eu/"
# Chosen by measurement (bench/search_eval.py --sweep): see the README's "Docs search" section.
CHUNK_SIZE = 1000
CHUNK_OVERLAP = 150

_SOURCE = re.compile(r"^Source:\s*(\S+)\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Page:
    title: str
    url: str
    lines: tuple[str, ...]  # the body: every line after ``Source:``

    @property
    def path(self) -> str:
        """The page's path under docs.chift.eu (``connectors/pos/zelty``), used by section filters."""
        return page_path(self.url)


@dataclass(frozen=True)
class Chunk:
    page: int  # index of its page in the parsed corpus
    ordinal: int  # position within the page
    title: str
    url: str
    path: str
    section: str  # heading path below the page title, "" before the first heading
    text: str

    @property
    def heading(self) -> str:
        return f"{self.title} > {self.section}" if self.section else self.title

    def embedding_text(self) -> str:
        """What the embedder and the full-text index see: the heading path, then the passage."""
        return f"{self.heading}\n{self.text}"


def page_summary(page: Page, intro: int = 300) -> str:
    """Title, path words (``unified apis ecommerce datatypes``), headings and opening prose."""
    headings: list[str] = []
    for name, _ in sections(page):
        last = name.split(" > ")[-1] if name else ""
        if last and last not in headings:
            headings.append(last)
    prose: list[str] = []
    for line in page.lines:
        text = line.strip()
        if not text or text.startswith(_NOT_PROSE) or _HEADING.match(text):
            continue
        prose.append(text)
        if sum(len(p) for p in prose) > intro:
            break
    words = " ".join(w for w in re.split(r"[/_\-]+", page.path) if w)
    return "\n".join([page.title, words, "; ".join(headings), " ".join(prose)[: intro + 200]]).strip()


_NOT_PROSE = ("}>", "<", "|", "```", "~~~", "Website:", "Software type", "Geography")


def page_path(url: str) -> str:
    path = url[len(DOCS_PREFIX) :] if url.startswith(DOCS_PREFIX) else re.sub(r"^\w+://[^/]+/?", "", url)
    return path.strip("/")


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_pages(text: str) -> list[Page]:
    """Split ``llms-full.txt`` into pages. Text before the first page header is ignored."""
    lines = text.splitlines()
    starts = [i for i in range(len(lines) - 1) if lines[i].startswith("# ") and _SOURCE.match(lines[i + 1])]
    pages = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        match = _SOURCE.match(lines[start + 1])
        assert match is not None
        title = _clean_heading(lines[start][2:])
        pages.append(Page(title=title, url=match.group(1), lines=tuple(lines[start + 2 : end])))
    return pages


def _clean_heading(text: str) -> str:
    text = re.sub(r"[*_`]+", "", text).strip()
    return re.sub(r"\s+", " ", text)


def sections(page: Page) -> Iterator[tuple[str, list[str]]]:
    """(heading path below the title, lines) for each section of ``page``, headings included."""
    path: list[tuple[int, str]] = []
    current: list[str] = []
    fenced = False
    for line in page.lines:
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading:
            if any(s.strip() for s in current):
                yield _join_path(path), current
            level, name = len(heading.group(1)), _clean_heading(heading.group(2))
            path = [(lvl, n) for lvl, n in path if lvl < level] + [(level, name)]
            current = [line]
        else:
            current.append(line)
    if any(s.strip() for s in current):
        yield _join_path(path), current


def _join_path(path: list[tuple[int, str]]) -> str:
    return " > ".join(name for _, name in path if name)


def chunk_page(
    page: Page, index: int, *, size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP
) -> list[Chunk]:
    """Pack the page's sections into chunks of at most about ``size`` characters."""
    if overlap >= size:
        raise ValueError("overlap must be smaller than size")
    pieces: list[tuple[str, str]] = []  # (section, text)
    buf: list[str] = []
    buf_section = ""
    buf_len = 0

    def flush() -> None:
        nonlocal buf, buf_len
        text = "\n".join(buf).strip()
        if text:
            pieces.append((buf_section, text))
        buf, buf_len = [], 0

    for section, lines in sections(page):
        section_len = sum(len(line) + 1 for line in lines)
        # A new section starts a new chunk unless the current one is small and both fit together.
        if buf and (buf_len + section_len > size or buf_len >= size // 2):
            flush()
        if not buf:
            buf_section = section
        for line in _split_long(lines, size):
            if buf and buf_len + len(line) + 1 > size:
                carried = _tail(buf, overlap)
                flush()
                buf = carried
                buf_len = sum(len(x) + 1 for x in buf)
            buf.append(line)
            buf_len += len(line) + 1
    flush()
    return [
        Chunk(
            page=index,
            ordinal=n,
            title=page.title,
            url=page.url,
            path=page.path,
            section=section,
            text=text,
        )
        for n, (section, text) in enumerate(pieces)
    ]


def _split_long(lines: list[str], size: int) -> Iterator[str]:
    """Lines, with any line longer than ``size`` cut at word boundaries."""
    for line in lines:
        while len(line) > size:
            cut = line.rfind(" ", size // 2, size)
            cut = cut if cut > 0 else size
            yield line[:cut]
            line = line[cut:].lstrip()
        yield line


def _tail(lines: list[str], overlap: int) -> list[str]:
    """The end of ``lines`` that fits in ``overlap`` characters: whole lines, or the last words of
    the last line when it alone is longer."""
    out: list[str] = []
    total = 0
    for line in reversed(lines):
        if total + len(line) + 1 > overlap:
            break
        out.append(line)
        total += len(line) + 1
    if not out and lines and overlap > 0:
        last = lines[-1]
        cut = last.find(" ", len(last) - overlap)
        words = last[cut + 1 :] if cut >= 0 else ""
        return [words] if words.strip() else []
    return list(reversed(out))


def chunk_corpus(pages: list[Page], *, size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP) -> list[Chunk]:
    return [
        chunk for i, page in enumerate(pages) for chunk in chunk_page(page, i, size=size, overlap=overlap)
    ]


def read_source(source: str | Path, *, timeout: float = 60.0) -> str:
    """The corpus text from a local path or an http(s) URL."""
    text_source = str(source)
    if text_source.startswith(("http://", "https://")):
        import httpx2

        response = httpx2.get(text_source, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
        return response.text
    return Path(text_source).expanduser().read_text(encoding="utf-8")
