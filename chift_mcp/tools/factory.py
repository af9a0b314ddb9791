"""The tool factory: one :class:`~chift_mcp.tools.definition.ToolSpec` per :class:`~chift_mcp.openapi.operations.Operation`.

``build_tools(operations)`` gives each operation its tool name (the operationId when clients accept
it), a description a model can choose by (with "when to use which" for families of near-identical
endpoints), its compact input schema, its annotations and the map that tells the registry where
each argument goes in the HTTP request. It knows nothing of callers, doors or MCP.
"""

from __future__ import annotations

__all__ = ["build_tools", "input_schema", "tool_name"]

import re
from collections.abc import Iterable
from typing import Any

from chift_mcp.openapi.operations import Operation
from chift_mcp.openapi.schemas import compact, shorten
from chift_mcp.tools.definition import ANNOTATIONS, CONSUMER_ARG, Arg, ToolSpec

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,54}$")
MAX_NAME = 54  # Cursor caps server name + tool name at 60 characters

# Parameters shared by many tools whose meaning the server instructions say once (server.py):
# repeated on each of 56 accounting tools, folder_id's sentence would cost ~400 tokens.
_EXPLAINED_ONCE = frozenset({"folder_id"})
_HIDDEN_QUERY = frozenset({"page", "size"})


def build_tools(operations: Iterable[Operation], *, max_items: int = 1000) -> list[ToolSpec]:
    """One ToolSpec per operation, with unique names."""
    tools: list[ToolSpec] = []
    taken: set[str] = set()
    operations = list(operations)
    all_ids = {op.id for op in operations}
    for op in operations:
        name = tool_name(op, taken)
        taken.add(name)
        schema, args = input_schema(op, max_items=max_items)
        tools.append(
            ToolSpec(
                name=name,
                title=title_of(op),
                description=describe(op, all_ids),
                input_schema=schema,
                annotations={"title": title_of(op), **ANNOTATIONS[op.kind]},
                domain=op.domain,
                kind=op.kind,
                operation=op,
                args=args,
                paginated=op.paginated,
            )
        )
    return tools


def tool_name(op: Operation, taken: set[str]) -> str:
    """The operationId when clients accept it, else ``domain_kind_resource``, made unique."""
    if NAME_PATTERN.match(op.id) and op.id not in taken:
        return op.id
    segments = [s for s in op.path.split("/") if s and not s.startswith("{")]
    resource = re.sub(r"[^a-zA-Z0-9]+", "_", segments[-1] if segments else "root").strip("_")
    base = f"{op.domain}_{op.kind}_{resource}"[:MAX_NAME]
    name, n = base, 2
    while name in taken:
        suffix = f"_{n}"
        name, n = base[: MAX_NAME - len(suffix)] + suffix, n + 1
    return name


def title_of(op: Operation) -> str:
    return shorten(op.summary or op.id.replace("_", " "), 80) or op.id


# When to use which, for families of near-identical endpoints (read as a model choosing a tool).
_MULTI_PLAN = re.compile(r"_(multi_analytic_plans|multiple_plans|multi_plans|multi_plan)$")
_CHOOSE = {
    "accounting_get_invoices_by_type": "Booked sale/purchase entries; invoices as issued in the invoicing software: invoicing_get_invoices",
    "invoicing_get_invoices": "Invoices as issued in the invoicing software; booked accounting entries: accounting_get_invoices_by_type",
    "accounting_get_outstandings": "Use for what clients owe and what is owed to suppliers (open items)",
    "accounting_create_invoice": "For sale/purchase invoices; other entries: accounting_create_generic_journal_entry",
    "accounting_create_generic_journal_entry": "For any balanced entry, miscellaneous ones included; invoices: accounting_create_invoice, bank/cash: accounting_create_financial_entries",
    "accounting_create_financial_entries": "For bank/cash journals; invoices: accounting_create_invoice",
    "accounting_create_miscellaneous_operation": "Prefer accounting_create_generic_journal_entry",
    "pos_get_orders": "Individual orders; totals per period: pos_get_sales",
    "pos_get_sales": "Totals per period; individual orders: pos_get_orders",
}


def _siblings(op_id: str, all_ids: set[str]) -> str | None:
    """The one-plan sibling of a multi-analytic-plan operation, or the reverse."""
    base = _MULTI_PLAN.sub("", op_id)
    if base != op_id:
        return (
            f"For several analytic plans; one plan: {base}"
            if base in all_ids
            else "For several analytic plans"
        )
    variants = [i for i in all_ids if _MULTI_PLAN.sub("", i) == op_id and i != op_id]
    if variants:
        return f"Default analytic plan only; several plans: {sorted(variants)[0]}"
    return None


_WORDS = re.compile(r"[a-z]+")
_FILLER_WORDS = frozenset(
    """
    a an the of for to in on by one all get retrieve list returns return
    """.split()
)


# What the tool's name already says, said again by the spec's descriptions: the system it reaches
# ("... in the accounting system" on accounting_*), "Returns the list of" for a list, "and returns the
# created record" for a create. Cut, the sentence keeps what tells the tools apart.
_SYSTEMS = {
    "accounting": "accounting system",
    "invoicing": "invoicing system",
    "pos": "POS system",
    "ecommerce": "e-commerce system",
    "pms": "property management system",
    "payment": "payment (?:processor|connector)",
}
_LEADS = (
    (re.compile(r"^(?:Returns|Retrieves?) (?:the |a )?(?:full )?list of (?:all )?(?:the )?"), "Lists "),
    (re.compile(r"^(?:Returns|Retrieve) all (?:the )?"), "Lists "),
    (re.compile(r"^Returns (?:a|one) (?:specific|single) "), "One "),
    (re.compile(r"^Returns the specified "), "One "),
    (re.compile(r"^Creates? a new (?=[aeiouAEIOU])"), "Creates an "),
    (re.compile(r"^Creates? a new "), "Creates a "),
    (re.compile(r"^Creates? new "), "Creates "),
    (re.compile(r"^Endpoint that gives the possibility to (\w)"), lambda m: m.group(1).upper()),
)
_TAILS = (
    re.compile(r",? and returns the (?:created|updated) [a-z ]*?(?=[.;,]|$)"),
    re.compile(r" with the provided fields"),
    re.compile(r",? optionally filtered(?: by [^.;]*)?(?=[.;]|$)"),  # its arguments show the filters
    re.compile(r" for the (?:authenticated )?consumer(?=[.;]|$)"),  # every tool works for the consumer
    re.compile(r"\s+by (?:its|their) (?:unique identifier|ID)\b"),
)


def _compact_text(text: str, domain: str) -> str:
    """``text`` without what the tool's name and kind already say."""
    for pattern, lead in _LEADS:
        text = pattern.sub(lead, text)
    for pattern in _TAILS:
        text = pattern.sub("", text)
    system = _SYSTEMS.get(domain)
    if domain == "accounting":
        text = re.sub(r" in the accounting(?=[.;]|$)", "", text)
    if system:
        said = (
            r"(?:,? (?:accepted and configured|registered|configured|defined|available|recorded|"
            rf"generated|processed|existing))? (?:in|from|of|for|by) the {system}"
        )
        text = re.sub(said + r"(?= for | as | using |[,.;]|$)", "", text)
        text = re.sub(rf"the {system}'s ", "the ", text)
    return text


def describe(op: Operation, all_ids: set[str] | None = None) -> str:
    """What the tool does and returns, in a sentence or two a model can choose by."""
    text = shorten(op.description, 130) if op.description else ""
    summary = shorten(op.summary, 100)
    if text and summary and (not _covers(text, summary) or not text[0].isupper()):
        # "One page of them, the latest changed first" or "payable_type is mandatory...": the
        # description alone does not say what the operation is; lead with the summary.
        text = f"{summary}. {text[0].upper()}{text[1:]}" if text[0].isupper() else f"{summary}. {text}"
    if not text:
        text = _compact_text(summary or op.id.replace("_", " "), op.domain)
        # A bare summary ("Get Catalog") needs its context to be chosen by: its tags, less the domain
        # the tool's name already gives (the domain itself for a summary of two words or fewer).
        label = op.domain.replace("_", " ")
        tags = [re.sub(r"(?<=[a-z])(?=[A-Z])", " ", t) for t in op.tags]  # "TaxCodes" -> "Tax Codes"
        tags = [re.sub(rf"^{label}\s*", "", t, flags=re.I) for t in tags]
        context = " ".join(dict.fromkeys(t for t in tags if t and not _covers(text, t)))
        if not context and len(summary.split()) <= 2:
            context = label
        text = f"{text} ({context})" if context else text
    text = _compact_text(text, op.domain)
    if op.deprecated and "deprecated" not in text.lower():
        text = "Deprecated. " + text
    hints = [h for h in (_CHOOSE.get(op.id), _siblings(op.id, all_ids or set())) if h]
    return ". ".join([text.rstrip("."), *hints]) + "."


def _covers(text: str, summary: str) -> bool:
    """Whether ``text`` already says what ``summary`` says (most of its content words appear)."""
    words = {w.rstrip("s") for w in _WORDS.findall(summary.lower()) if w not in _FILLER_WORDS}
    found = {w.rstrip("s") for w in _WORDS.findall(text.lower())}
    return not words or len(words & found) * 2 >= len(words)


def input_schema(op: Operation, *, max_items: int = 1000) -> tuple[dict[str, Any], dict[str, Arg]]:
    """The tool's compact input schema and where each argument goes."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    args: dict[str, Arg] = {}
    for param in op.params:
        if op.paginated and param.location == "query" and param.name in _HIDDEN_QUERY:
            continue
        arg = _arg_name(param.name, param.location)
        prop = compact({**param.schema, "description": param.description}, name=param.name)
        if param.name in _EXPLAINED_ONCE:
            prop.pop("description", None)
        if param.name == CONSUMER_ARG:
            prop = {"type": "string"}
        properties[arg] = prop
        args[arg] = Arg(param.location, param.name)
        if param.required:
            required.append(arg)
    if op.paginated:
        # Out-of-range low values are clamped (limit >= 1, offset >= 0) rather than refused.
        properties["limit"] = {"type": "integer", "maximum": max_items}
        properties["offset"] = {"type": "integer"}
        args["limit"] = Arg("page", "limit")
        args["offset"] = Arg("page", "offset")
    if op.body is not None:
        body = compact(op.body)
        body_props = body.get("properties")
        if body.get("type") == "object" and body_props and not body.get("additionalProperties"):
            body_required = set(body.get("required", [])) if op.body_required else set()
            for key, value in body_props.items():
                arg = key if key not in properties else f"body_{key}"
                properties[arg] = value
                args[arg] = Arg("body_field", key)
                if key in body_required:
                    required.append(arg)
        else:
            properties["body"] = body
            args["body"] = Arg("body", "")
            if op.body_required:
                required.append("body")
    if op.response is not None and "fields" not in properties:
        # Keys to keep in the returned object(s); dotted paths reach nested ones ("partner.name").
        properties["fields"] = {"type": "array", "items": {"type": "string"}}
        args["fields"] = Arg("shape", "fields")
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema, args


def _arg_name(name: str, location: str) -> str:
    if location == "header":
        name = re.sub(r"^x-chift-", "", name.lower())
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)
