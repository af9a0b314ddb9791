"""Merge page questions written in further languages into ``search_index/data/questions.json``.

    python bench/search_questions_merge.py nl=/work/blind/data/page_questions_nl.json de=... es=...

Each file maps a page path to its questions (``{"<page-id>": ["q1", "q2"]}``), written blind from
the docs alone by writers who never saw the evaluation questions or the ranking; they land under the
language's code beside ``en`` and ``fr``. Pages the file does not know are refused, so a file written
for another corpus is not merged silently; ``_about`` records which languages came from where.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "search_index" / "data" / "questions.json"
ABOUT = (
    "Questions each page of docs.chift.eu answers, as people ask them: per page path, by language code. "
    "Written from the docs alone by writers (other sessions) who never saw the evaluation questions "
    "(bench/eval) or the ranking: four English and two French per page, then two Dutch, two German "
    "and two Spanish per page, each language by a separate blind writer (merged with "
    "bench/search_questions_merge.py)."
)


def main(argv: list[str]) -> int:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    pages = {k for k in data if not k.startswith("_")}
    for arg in argv:
        code, _, path = arg.partition("=")
        extra = json.loads(Path(path).read_text(encoding="utf-8"))
        unknown = set(extra) - pages
        if not code.isalpha() or unknown:
            raise SystemExit(f"{arg}: bad language code or pages not in the corpus: {sorted(unknown)[:5]}")
        for page, asked in extra.items():
            clean = [q.strip() for q in asked if isinstance(q, str) and q.strip()]
            if clean:
                data[page][code] = clean
        print(f"{code}: {sum(len(v) for v in extra.values())} questions for {len(extra)} pages")
    data["_about"] = ABOUT
    ordered = {"_about": data.pop("_about"), **dict(sorted(data.items()))}
    DATA.write_text(json.dumps(ordered, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
