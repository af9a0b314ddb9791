"""The operation finder: how a question is read, and where it ranks the operations it means."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chift_mcp.openapi.operations import DOMAINS, KINDS
from chift_mcp.tools.access import Access
from chift_mcp.tools.definition import ToolSpec
from chift_mcp.tools.finder import OperationFinder, read, stem, words
from chift_mcp.tools.inventory import Inventory

DEV = Path(__file__).resolve().parents[2] / "bench" / "eval" / "discovery_tasks.jsonl"


@pytest.fixture(scope="module")
def finder(tools: list[ToolSpec]) -> OperationFinder:
    every = Access.of({d: frozenset(KINDS) for d in DOMAINS})
    return OperationFinder(Inventory(tools).view(every).operations)


def top(finder: OperationFinder, query: str, k: int = 5) -> list[str]:
    return [t.name for _, t in finder.search(query, k)]


def test_words_are_folded_stemmed_and_stripped_of_stop_words() -> None:
    assert words("Les écritures de l'exercice") == ["ecriture", "ecritures", "exercice"]
    assert stem("entries") == "entry" and stem("matched") == "match" and stem("address") == "address"


def test_french_and_business_words_add_the_api_words() -> None:
    terms = read("les écritures de l'exercice 2024").terms
    assert {"journal", "entry", "bookyear"} <= set(terms)
    assert {"refund", "customer"} <= set(read("we gave them a credit note").terms)
    assert "expense" in read("une note de frais").terms  # the phrase, not "note" alone


def test_the_verb_says_the_kind_and_a_software_name_the_domain() -> None:
    assert read("Crée le client Dupont").kind == "create"
    assert read("liste les factures impayées").kind == "get"
    assert read("supprime ce webhook").kind == "delete"
    assert read("change the supplier's IBAN").kind == "update"
    assert read("orders from our Shopify store").domains == {"ecommerce"}
    assert read("the Zelty till").domains == {"pos"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("who still owes us money", "accounting_get_outstandings"),
        ("qui nous doit encore de l'argent", "accounting_get_outstandings"),
        ("exporter le FEC de l'exercice", "accounting_export_fec"),
        ("lettrer deux écritures", "accounting_match_entries"),
        ("set the stock of a variant in the webshop", "ecommerce_update_variant_quantity"),
        ("register a webhook for new connections", "webhooks_create_webhook"),
        ("le Z de caisse d'hier", "pos_get_closure"),
        ("payouts from Stripe last month", "payment_get_payouts"),
    ],
)
def test_everyday_questions_find_their_operation(finder: OperationFinder, query: str, expected: str) -> None:
    assert expected in top(finder, query), top(finder, query)


def test_dutch_german_and_spanish_words_add_the_api_words_and_their_verb() -> None:
    """From the language files (data/languages/*.json), phrases included; the verb is translated."""
    dutch = read("maak een nieuwe creditnota aan")
    assert dutch.kind == "create" and {"credit", "note"} <= set(dutch.terms)
    assert {"journal", "entry"} <= set(read("de boekingen van het dagboek").terms)
    german = read("Gutschrift erstellen")
    assert german.kind == "create" and "credit" in german.terms
    spanish = read("listar los asientos contables")
    assert spanish.kind == "get" and {"journal", "entry"} <= set(spanish.terms)
    assert "van" not in words("de boekingen van het dagboek")  # the languages' function words are stop words


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("welke klanten hebben nog openstaande posten", "accounting_get_outstandings"),
        ("afletteren van twee boekingen", "accounting_match_entries"),
        ("Webhook für neue Verbindungen registrieren", "webhooks_create_webhook"),
        ("pagos de Stripe del mes pasado", "payment_get_payouts"),
    ],
)
def test_questions_in_dutch_german_and_spanish_find_their_operation(
    finder: OperationFinder, query: str, expected: str
) -> None:
    assert expected in top(finder, query), top(finder, query)


def test_the_dev_split_stays_above_its_measured_floor(finder: OperationFinder) -> None:
    """A floor under the lexical finder's dev figures on the English and French tasks (the Dutch,
    German and Spanish ones were added later; bench/discovery_eval.py reports them all)."""
    names = {t.name for t in finder.tools}
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    tasks = [
        r
        for r in rows
        if r["split"] == "dev" and r["lang"] in ("en", "fr") and any(op in names for op in r["ops"])
    ]
    found = sum(any(op in top(finder, t["q"]) for op in t["ops"]) for t in tasks)
    assert found / len(tasks) >= 0.92, found / len(tasks)
