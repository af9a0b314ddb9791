"""Discovery mode: three small tools instead of one per endpoint.

``find_operations`` ranks the operations a caller may use (BM25 over their names, titles,
descriptions and parameter names — no model), ``describe_operation`` gives one operation's full
input schema and the shape of its answer, ``call_operation`` calls it through the same registry
path as the direct tools: same validation, same scope, same errors. The whole tool list stays
around a thousand tokens, whatever the function config.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import Any

from chift_mcp.errors import ArgumentError, ScopeError
from chift_mcp.operations import DOMAINS, KINDS
from chift_mcp.registry import Registry, ToolResult
from chift_mcp.schemas import shorten
from chift_mcp.toolset import DISCOVERY_DOMAIN, Scope, ToolSpec, local_tool

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


class OperationIndex:
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


def discovery_tools(registry: Registry) -> list[ToolSpec]:
    """The three discovery tools over ``registry``; they see and call what the caller's scope allows."""
    indexes: dict[tuple[Scope, int], OperationIndex] = {}

    def callable_tools(scope: Scope) -> list[ToolSpec]:
        direct = scope.with_mode("tools")
        return [t for t in registry.tools(direct) if t.operation is not None]

    def index_for(scope: Scope) -> OperationIndex:
        key = (scope.view, registry.version)
        index = indexes.get(key)
        if index is None:
            index = indexes[key] = OperationIndex(callable_tools(scope))
        return index

    async def find(args: dict[str, Any], scope: Scope) -> Any:
        limit = args.get("limit", 10)
        domain, kind = args.get("domain"), args.get("kind")
        query = (args.get("query") or "").strip()
        candidates = index_for(scope)
        if query:
            ranked = candidates.search(query, limit=len(candidates.tools))
        else:
            ranked = [(0.0, t) for t in candidates.tools]
        hits = [
            (s, t) for s, t in ranked if (not domain or t.domain == domain) and (not kind or t.kind == kind)
        ]
        if not query and not domain and not kind:
            raise ArgumentError("give a query, a domain or a kind", field="query")
        return {
            "operations": [
                {"name": t.name, "kind": t.kind, "summary": shorten(t.description, 110)}
                for _, t in hits[:limit]
            ],
            "total": len(hits),
            "next": "describe_operation(name) for its arguments, then call_operation(name, arguments)",
        }

    async def describe(args: dict[str, Any], scope: Scope) -> Any:
        tool = _resolve(args["name"], scope)
        assert tool.operation is not None
        return {
            "name": tool.name,
            "description": tool.description,
            "kind": tool.kind,
            "read_only": tool.read_only,
            "arguments": tool.input_schema,
            "returns": tool.operation.returns,
        }

    async def call(args: dict[str, Any], scope: Scope) -> ToolResult:
        name = args["name"]
        target = registry.get(name)
        if target is not None and target.operation is None:
            raise ScopeError(f"{name} is not an operation", hint="find_operations lists the operations")
        return await registry.call(name, args.get("arguments") or {}, scope.with_mode("tools"))

    def _resolve(name: str, scope: Scope) -> ToolSpec:
        for tool in callable_tools(scope):
            if tool.name == name:
                return tool
        registry.lookup(name, scope.with_mode("tools"))  # raises the precise reason (unknown, out of scope)
        raise ScopeError(f"{name} is not an operation", hint="find_operations lists the operations")

    name_arg = {"type": "string", "description": "Operation name from find_operations"}
    return [
        local_tool(
            "find_operations",
            title="Find Chift operations",
            description=(
                "Search the Chift API operations you may call (accounting, invoicing, POS, eCommerce, PMS, "
                "payment, banking, spend management, consumers, connections). Returns names and summaries, best first."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "query": {
                        "type": "string",
                        "description": "What you want to do, e.g. 'unpaid supplier invoices'",
                    },
                    "domain": {"type": "string", "enum": list(DOMAINS)},
                    "kind": {"type": "string", "enum": list(KINDS)},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50},
                },
            },
            handler=find,
            domain=DISCOVERY_DOMAIN,
        ),
        local_tool(
            "describe_operation",
            title="Describe a Chift operation",
            description="One operation's arguments (JSON schema) and the shape of its answer. Call before call_operation.",
            input_schema={"type": "object", "properties": {"name": name_arg}, "required": ["name"]},
            handler=describe,
            domain=DISCOVERY_DOMAIN,
        ),
        local_tool(
            "call_operation",
            title="Call a Chift operation",
            description=(
                "Call an operation by name with its arguments (as described by describe_operation). "
                "Errors say which argument to fix and whether a retry helps."
            ),
            input_schema={
                "type": "object",
                "properties": {"name": name_arg, "arguments": {"type": "object"}},
                "required": ["name"],
            },
            handler=call,
            # Listed like a read (the scope checks the operation it calls), annotated for the worst case:
            # it may create, update or delete.
            kind="get",
            domain=DISCOVERY_DOMAIN,
            open_world=True,
            hints={"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False},
        ),
    ]
