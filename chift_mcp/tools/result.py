"""What every tool call returns: :class:`ToolResult` (the text an agent reads and the structured
value beside it), and :func:`dumps`, the compact JSON every answer is written with. The doors only
convert a ToolResult to their wire types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json

__all__ = ["ToolResult", "dumps"]


@dataclass(frozen=True)
class ToolResult:
    text: str
    structured: dict[str, Any] | None
    is_error: bool = False


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII kept; ``str()`` of what JSON has no type for. pydantic_core's
    encoder (in Rust) writes what ``json.dumps(separators=(",", ":"), ensure_ascii=False)`` writes,
    three to four times faster (floats under 1e-4 aside: ``1e-7``, not ``1e-07``)."""
    return to_json(value, fallback=str).decode()
