"""The resources the sandbox stores: created objects can be read back and updated.

Every other operation answers with generated data only. A resource's collection mixes generated items
(a stable number, 101-137, so that paging past 100 is testable) with the objects created through the
API, appended at the end in creation order.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    name: str
    creates: tuple[str, ...]
    lists: tuple[str, ...]
    gets: tuple[str, ...] = ()
    updates: tuple[str, ...] = ()
    id_param: str = ""
    variant: str | None = None  # a list path parameter that partitions the collection (and an item field)
    label: str = "object"
    # The 404 when the spec's get/update operation has no 404 example (``not_found`` in engine.py
    # reads the example first): (error_code, message), from the docs' table or another spec example.
    not_found: tuple[str, str] | None = None


RESOURCES: tuple[Resource, ...] = (
    Resource(
        "accounting.clients",
        creates=("accounting_create_client",),
        lists=("accounting_get_clients",),
        gets=("accounting_get_client",),
        updates=("accounting_update_client",),
        id_param="client_id",
        label="client",
    ),
    Resource(
        "accounting.suppliers",
        creates=("accounting_create_supplier",),
        lists=("accounting_get_suppliers",),
        gets=("accounting_get_supplier",),
        updates=("accounting_update_supplier",),
        id_param="supplier_id",
        label="supplier",
    ),
    Resource(
        "accounting.invoices",
        creates=("accounting_create_invoice", "accounting_create_invoice_multiple_plans"),
        lists=("accounting_get_invoices_by_type", "accounting_get_invoices_by_type_multi_analytic_plans"),
        gets=("accounting_get_invoice", "accounting_get_invoice_multi_analytic_plans"),
        id_param="invoice_id",
        variant="invoice_type",
        label="invoice",
    ),
    Resource(
        "accounting.journal_entries",
        creates=("accounting_create_generic_journal_entry",),
        lists=("accounting_get_journal_entries", "accounting_get_journal_entries_multi_plan"),
        gets=("accounting_get_journal_entry",),
        id_param="journal_entry_id",
        label="journal entry",
    ),
    Resource(
        "accounting.miscellaneous_operations",
        creates=("accounting_create_miscellaneous_operation",),
        lists=("accounting_get_miscellaneous_operations",),
        gets=("accounting_get_miscellaneous_operation",),
        id_param="operation_id",
        label="miscellaneous operation",
        not_found=(  # docs "Errors"
            "ERROR_MISCELLANEOUS_OPERATION_NOT_FOUND",
            "The miscellaneous operation doesn't exist in the accounting system.",
        ),
    ),
    Resource(
        "invoicing.contacts",
        creates=("invoicing_post_contacts",),
        lists=("invoicing_get_contacts",),
        gets=("invoicing_get_contact",),
        id_param="contact_id",
        label="contact",
    ),
    Resource(
        "invoicing.products",
        creates=("invoicing_post_products",),
        lists=("invoicing_get_products",),
        gets=("invoicing_get_product",),
        id_param="product_id",
        label="product",
    ),
    Resource(
        "invoicing.invoices",
        creates=("invoicing_post_invoices",),
        lists=("invoicing_get_invoices",),
        gets=("invoicing_get_invoice",),
        id_param="invoice_id",
        label="invoice",
    ),
    Resource(
        "invoicing.payments",
        creates=("invoicing_create_payment",),
        lists=("invoicing_get_payments",),
        updates=("invoicing_update_payment",),
        id_param="payment_id",
        label="payment",
        not_found=("ERROR_PAYMENT_NOT_FOUND", "The payment was not found"),  # spec: payment_get_payment
    ),
    Resource(
        "commerce.orders",
        creates=("ecommerce_create_order",),
        lists=("ecommerce_get_orders",),
        gets=("ecommerce_get_order",),
        id_param="order_id",
        label="order",
    ),
    Resource(
        "pos.customers",
        creates=("pos_create_pos_customer",),
        lists=("pos_get_customers",),
        gets=("pos_get_customer",),
        id_param="customer_id",
        label="customer",
    ),
    Resource(
        "spend_management.suppliers",
        creates=("spend_management_create_supplier",),
        lists=("spend_management_get_suppliers",),
        gets=("spend_management_get_supplier",),
        updates=("spend_management_update_supplier",),
        id_param="supplier_id",
        label="supplier",
    ),
)


# Fields of generated items that point at another stored resource, so that an id read in one answer
# can be fetched from the other: (resource, field) -> target resource; for accounting invoices the
# target depends on the invoice type (customer_* -> clients, supplier_* -> suppliers).
REFERENCES: dict[tuple[str, str], str] = {
    ("invoicing.invoices", "partner_id"): "invoicing.contacts",
    ("accounting.invoices", "partner_id"): "accounting.clients|accounting.suppliers",
}


def reference_target(resource: str, field: str, variant: str) -> str | None:
    target = REFERENCES.get((resource, field))
    if target and "|" in target:
        customer, supplier = target.split("|")
        return supplier if variant.startswith("supplier") else customer
    return target


def roles() -> dict[str, tuple[Resource, str]]:
    """operationId -> (resource, role) with role in create, list, get, update."""
    out: dict[str, tuple[Resource, str]] = {}
    for resource in RESOURCES:
        for role, ops in (
            ("create", resource.creates),
            ("list", resource.lists),
            ("get", resource.gets),
            ("update", resource.updates),
        ):
            for op in ops:
                out[op] = (resource, role)
    return out
