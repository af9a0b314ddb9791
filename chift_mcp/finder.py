"""The operation finder: rank the operations a caller may use for a sentence saying what they want.

Lexical, no model: BM25 (k1=1.2, b=0.75) over each tool's name (counted three times), title,
description, domain, argument names and enum values, with English/French synonyms on both sides.
Discovery mode's ``find_operations`` (and any mode that finds operations) uses this ranking, over
the operations of the caller's view (``View.finder``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from chift_mcp.toolspec import ToolSpec

# Words an agent uses for the same thing; both sides are indexed.
_SYNONYMS = {
    "customer": "client",
    "customers": "client",
    "vendor": "supplier",
    "vendors": "supplier",
    "bill": "invoice",
    "bills": "invoice",
    "ledger": "account",
    "vat": "tax",
    "sale": "customer_invoice",
    "sales": "customer_invoice",
    "purchase": "supplier_invoice",
    "purchases": "supplier_invoice",
    "unpaid": "outstanding",
    "receivable": "outstanding",
    "payable": "outstanding",
    "list": "get",
    "fetch": "get",
    "retrieve": "get",
    "add": "create",
    "new": "create",
    "edit": "update",
    "modify": "update",
    "remove": "delete",
    # French, the other language of Chift's users
    "facture": "invoice",
    "factures": "invoice",
    "fournisseur": "supplier",
    "fournisseurs": "supplier",
    "ecriture": "journal entry",
    "ecritures": "journal entry",
    "commande": "order",
    "commandes": "order",
    "paiement": "payment",
    "paiements": "payment",
    "compte": "account",
    "comptes": "account",
    "tva": "vat tax",
    "impaye": "unpaid outstanding",
    "impayes": "unpaid outstanding",
    "impayee": "unpaid outstanding",
    "impayees": "unpaid outstanding",
    "banque": "bank",
    "produit": "product",
    "produits": "product",
    "dossier": "folder",
    "dossiers": "folder",
    "creer": "create",
}
_WORD = re.compile(r"[a-z0-9]+")


def _fold(text: str) -> str:
    """Lower case without accents: "écritures" -> "ecritures"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """Words, a crude singular of each (the plural is kept too, so "journals" prefers the list), and
    synonyms."""
    out: list[str] = []
    for word in _WORD.findall(_fold(text).replace("_", " ")):
        stem = word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
        out.append(stem)
        if stem != word:
            out.append(word)
        synonym = _SYNONYMS.get(word) or _SYNONYMS.get(stem)
        if synonym:
            out.extend(_WORD.findall(synonym.replace("_", " ")))
    return out


class OperationFinder:
    """BM25 (k1=1.2, b=0.75) over each tool's name (counted three times), title, description,
    domain and argument names."""

    def __init__(self, tools: Iterable[ToolSpec]) -> None:
        self.tools = list(tools)
        self.docs = [Counter(tokens(self._text(t))) for t in self.tools]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg = sum(self.lengths) / max(len(self.docs), 1)
        df: Counter[str] = Counter()
        for doc in self.docs:
            df.update(doc.keys())
        n = len(self.docs)
        self.idf = {term: math.log(1 + (n - f + 0.5) / (f + 0.5)) for term, f in df.items()}

    @staticmethod
    def _text(tool: ToolSpec) -> str:
        properties = tool.input_schema.get("properties", {})
        enums = [str(v) for p in properties.values() for v in p.get("enum", [])]
        return " ".join([tool.name] * 3 + [tool.title, tool.description, tool.domain, *properties, *enums])

    def search(self, query: str, limit: int) -> list[tuple[float, ToolSpec]]:
        terms = tokens(query)
        scored = []
        for doc, length, tool in zip(self.docs, self.lengths, self.tools, strict=True):
            score = 0.0
            for term in terms:
                f = doc.get(term)
                if f:
                    score += self.idf[term] * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * length / self.avg))
            if score > 0:
                scored.append((score, tool))
        scored.sort(key=lambda pair: (-pair[0], pair[1].name))
        return scored[:limit]
