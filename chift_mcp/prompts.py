"""Prompts: short workflows that show an agent how to use the tools well."""

from __future__ import annotations

from dataclasses import dataclass

from chift_mcp.toolset import Scope


@dataclass(frozen=True)
class PromptSpec:
    name: str
    title: str
    description: str
    arguments: tuple[tuple[str, str, bool], ...]  # (name, description, required)


PROMPTS: tuple[PromptSpec, ...] = (
    PromptSpec(
        name="choose_consumer",
        title="Choose a consumer and its connections",
        description="Pick the end customer (consumer) to work on and find which Chift APIs it has connected.",
        arguments=(("consumer", "Name or id of the consumer, if already known", False),),
    ),
)


def render(name: str, arguments: dict[str, str], scope: Scope) -> str:
    if name != "choose_consumer":
        raise KeyError(name)
    wanted = (arguments.get("consumer") or "").strip()
    if scope.consumer_id:
        return (
            f"This server is bound to consumer {scope.consumer_id}; every tool works on it.\n"
            "1. Call connections_get_connections to see its connections: each has an `api` "
            "(Accounting, Invoicing, Point of Sale, eCommerce, ...) and a `status`.\n"
            "2. Use only tools of the domains whose connection is active; the tool list already "
            "leaves out the others.\n"
            "3. For accounting with several folders, call accounting_get_folders first and pass folder_id."
        )
    steps = [
        "You work with the Chift unified API through these tools. First choose the consumer (an end customer).",
        "1. Call consumers_get_consumers"
        + (f' with search="{wanted}"' if wanted else "")
        + " and show the user the consumers found (name, consumerid, internal_reference).",
        "2. Ask the user to confirm exactly which consumer to use; do not guess between similar names, "
        "and never act on all consumers without an explicit yes.",
        "3. Call connections_get_connections with that consumer_id. Keep the connections whose status is "
        "active; their `api` tells which tools apply: Accounting -> accounting_*, Invoicing -> invoicing_*, "
        "Point of Sale -> pos_*, eCommerce -> ecommerce_*, Property Management System -> pms_*, "
        "Payment -> payment_*, Banking -> banking_*, Spend Management -> spend_management_*.",
        "4. Pass the same consumer_id to every later call. For accounting with several folders, call "
        "accounting_get_folders and pass folder_id.",
        "5. If a call fails, read its error: it says which field to fix and whether retrying helps.",
    ]
    return "\n".join(steps)
