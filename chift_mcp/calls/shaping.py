"""Shaping: the answer an agent reads.

``shape(data, max_chars=...)`` drops empty values and keeps the text under the size cap: a list (or
a page of one) is cut at an item boundary with a note saying how many items were kept, where to
continue and how to ask for less. ``select(data, fields)`` keeps only the keys asked for (dotted
for nested ones), reporting the ones that match nothing. ``ToolResult`` is what every tool call
returns (:mod:`chift_mcp.tools.result`).
"""

from __future__ import annotations

__all__ = ["prune", "select", "shape"]

from typing import Any

from chift_mcp.tools.result import ToolResult, dumps


def shape(
    data: Any, *, max_chars: int, page: bool = False, offset: int = 0, paged: bool = False
) -> ToolResult:
    """Drop empty values and keep the text under ``max_chars``.

    ``page``: the answer is a list (or a page of one), so a long one is cut at an item boundary;
    ``paged``: the tool takes ``offset``, so the note can say where to continue. Each item is
    encoded once; the text is joined from those pieces, whether it is cut or not.
    """
    data = prune(data)
    if isinstance(data, list):
        data = {"items": data, "total": len(data)}
    elif not isinstance(data, dict):
        data = {"result": data} if data is not None else {"result": "done"}
    items = data.get("items")
    if page and isinstance(items, list) and items:
        encoded = [dumps(item) for item in items]
        rest = {k: v for k, v in data.items() if k != "items"}
        text = _page_text(encoded, rest)
        if len(text) <= max_chars:
            return ToolResult(text, {"items": items, **rest})
        shaped = _cut_items(rest, items, encoded, offset, paged, max_chars)
        if shaped is not None:
            return shaped
    else:
        text = dumps(data)
        if len(text) <= max_chars:
            return ToolResult(text, data)
    cut = text[: max_chars - 300]
    note = (
        f"[cut: the answer has {len(text)} characters, over the {max_chars} limit. "
        "Ask for less: fields=[...] keeps only the keys you need; filters (dates, ids) narrow the answer.]"
    )
    return ToolResult(cut + "\n" + note, None)


def _cut_items(
    rest: dict[str, Any], items: list[Any], encoded: list[str], offset: int, paged: bool, max_chars: int
) -> ToolResult | None:
    """The most items whose text fits, from each item's encoded length."""
    given = rest.get("total")
    total = given if isinstance(given, int) else len(items)
    keep, size = 0, len(_page_text([], _truncation(rest, 0, total, offset, paged)))
    for piece in encoded:
        size += len(piece) + 1  # the item and its comma
        if size > max_chars:
            break
        keep += 1
    while keep > 0:  # the note's numbers may be a few digits longer than in the frame
        tail = _truncation(rest, keep, total, offset, paged)
        text = _page_text(encoded[:keep], tail)
        if len(text) <= max_chars:
            return ToolResult(text, {"items": items[:keep], **tail})
        keep -= 1
    return None  # not even one item fits: the caller cuts the text and suggests fields


def _truncation(rest: dict[str, Any], keep: int, total: int, offset: int, paged: bool) -> dict[str, Any]:
    """The fields that follow the items in a cut answer: what was kept and how to go on."""
    out = {**rest, "truncated": True}
    narrow = "fields=[...] keeps only the keys you need; filters (dates, ids) narrow the list"
    if paged:
        out["next_offset"] = offset + keep
        out["note"] = (
            f"showing {keep} of {total} items: the full answer is too long for one result. "
            f"Continue with offset={offset + keep}, or ask for less: {narrow}, or a smaller limit."
        )
    else:
        out["note"] = (
            f"showing {keep} of {total} items: the full answer is too long for one result. Ask for less: {narrow}."
        )
    return out


def _page_text(encoded_items: list[str], rest: dict[str, Any]) -> str:
    """``dumps({"items": [...], **rest})`` from items already encoded."""
    tail = dumps(rest)
    return '{"items":[' + ",".join(encoded_items) + "]" + ("," + tail[1:] if len(tail) > 2 else "}")


def select(data: Any, paths: list[str], *, page: bool = False) -> Any:
    """Keep only ``paths`` (dotted for nested keys; through lists) in the returned object, or in
    each item when the answer is a list or a page (``page``).

    Paths that match nothing anywhere are reported in ``fields_not_found`` with the keys that exist.
    """
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
    seen: set[str] = set()
    if page and isinstance(data, dict) and isinstance(data.get("items"), list):
        objects: list[Any] = data["items"]
        out: Any = {**data, "items": [_select(o, tree, seen) for o in objects]}
    elif isinstance(data, list):
        objects = data
        out = {"items": [_select(o, tree, seen) for o in objects], "total": len(data)}
    else:
        objects = [data]
        out = _select(data, tree, seen)
    missing = [p for p in tree if p not in seen]
    if missing and isinstance(out, dict):
        sample = next((o for o in objects if isinstance(o, dict)), {})
        out = {**out, "fields_not_found": missing, "fields_available": sorted(sample)}
    return out


def _select(value: Any, tree: dict[str, Any], seen: set[str] | None = None) -> Any:
    if isinstance(value, list):
        return [_select(v, tree, seen) for v in value]
    if not isinstance(value, dict) or not tree:
        return value
    out = {}
    for key, sub in tree.items():
        if key in value:
            if seen is not None:
                seen.add(key)
            out[key] = _select(value[key], sub) if sub else value[key]
    return out


def prune(value: Any) -> Any:
    """Drop None, empty strings, empty lists and empty objects, recursively.

    Hot path (every item of every result): scalars are never recursed into.
    """
    kind = type(value)
    if kind is dict:
        return _prune_dict(value)
    if kind is list:
        return _prune_list(value)
    return value


def _prune_dict(data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        kind = type(value)
        if kind is dict:
            value = _prune_dict(value)
            if not value:
                continue
        elif kind is list:
            value = _prune_list(value)
            if not value:
                continue
        elif value is None or (kind is str and not value):
            continue
        out[key] = value
    return out


def _prune_list(items: list[Any]) -> list[Any]:
    out = []
    for value in items:
        kind = type(value)
        if kind is dict:
            value = _prune_dict(value)
            if not value:
                continue
        elif kind is list:
            value = _prune_list(value)
            if not value:
                continue
        elif value is None or (kind is str and not value):
            continue
        out.append(value)
    return out
