"""Chift's documented error codes: ``code -> (HTTP status, description)``, every row of the table on
the docs page "Errors" (``developer-guides/errors`` in ``llms-full.txt``; 161 rows, 152 distinct codes,
no code listed twice with two statuses). Copied as the page has it, typos included.

Codes the sandbox answers with that are not in this table come from the spec's own examples (a 404 of
a get operation, ``ERROR_CONTACT_NOT_FOUND``...) or, for platform answers, carry no code at all, as the
spec's examples do (``"The consumer does not exist"``). ``tests/sandbox/test_sandbox_contract_errors.py``
checks the table against ``llms-full.txt`` when the docs are beside the repository.
"""

from __future__ import annotations

ERROR_TABLE: dict[str, tuple[int, str]] = {
    "ERROR_CHIFT_AUTHENTICATION_ERROR": (
        401,
        "Error with the provided Chift token or combination of clientId,clientSecret en accountId",
    ),
    "ERROR_CONNECTOR_AUTHENTICATION": (
        401,
        "Error related to the authentication to the connector (wrong credentials, ...)",
    ),
    "ERROR_CONNECTOR_CONFIGURATION": (
        400,
        "Error related to the configuration of the connector not related to Chift (e.g. no license, connector not active, needs to be restarted, ...)",
    ),
    "ERROR_CONFIGURATION_SYNC": (400, "Error in the configuration of the sync"),
    "ERROR_NO_ACTIVE_CONNECTION": (400, "No active connection/integration for this API are configured"),
    "ERROR_CONFIGURATION_CONNECTION": (
        400,
        "Error related to the configuration of the connection (e.g. more than one connection is active, ...)",
    ),
    "ERROR_DATA_VALIDATION": (
        400,
        "Impossible to retrieve data due to a data validation issue. Contact support for more details",
    ),
    "ERROR_API_RESOURCE_NOT_FOUND": (
        400,
        "The route that was called does not exist. Make sure that you use the routes as specified in the documentation.",
    ),
    "ERROR_WEBHOOK_NOT_SUPPORTED": (405, "This webhook type is not supported for this integration"),
    "ERROR_UNKNOWN": (400, "An unknown error occurred during the call. Please contact Chift team."),
    "ERROR_INVALID_BODY": (422, "One of the input field of the body is invalid"),
    "ERROR_INVALID_QUERY_PARAMETER": (422, "One of the query parameters is invalid"),
    "ERROR_INVALID_PATH_PARAMETER": (422, "One of the path parameters is invalid"),
    "ERROR_INVALID_RESPONSE": (422, "The response could not be built. Our support should be contacted."),
    "ERROR_RESOURCE_NOT_SUPPORTED": (405, "The requested resource is not supported by this connector."),
    "ERROR_TECHNICAL_MAPPING": (
        400,
        "There is a technical error while processing the request. We are already alerted and working on this. Please contact support if needed.",
    ),
    "ERROR_INTEGRATION_INVALID": (400, "The specified integration is invalid or could not be found"),
    "ERROR_CONNECTION_INFO_EMPTY": (400, "A field in the connection is not filled in."),
    "ERROR_ORDER_NOT_FOUND": (404, "The given order could not be retrieved"),
    "ERROR_CUSTOMER_NOT_FOUND": (404, "The given customer could not be retrieved"),
    "ERROR_LOCATION_NOT_FOUND": (404, "The given location could not be found"),
    "ERROR_CONFIGURATION_LOCALAGENT": (
        502,
        "Impossible to connect to the specified local agent (e.g. not configured, ...)",
    ),
    "ERROR_CONNECTOR_MAINTENANCE": (503, "Impossible to connect to the target application"),
    "ERROR_GATEWAY_TIMEOUT": (504, "Impossible to connect to a remote application (for local agent)"),
    "ERROR_BACKEND_FORBIDDEN": (403, "Impossible to retrieve data due to a permission issue"),
    "REQUEST_ALREADY_PROCESSED": (
        409,
        "Request with same client request id was already successfully processed",
    ),
    "REQUEST_IN_PROCESS": (409, "Request with same client request id is currently processed"),
    "ERROR_RATE_LIMIT": (429, "The rate limit has been reached for this connector. Please try again later."),
    "ERROR_BACKEND_NOT_FOUND": (
        504,
        "Impossible to connect to the specified backend (url, host, unique identifier,... might be incorrect or the backend is down)",
    ),
    "ERROR_UNEXPECTED": (
        400,
        "Unexpected error while trying to perform the request. This is often linked to some data being uncorrectly managed. We are notified and are working proactively on those errors.",
    ),
    "ERROR_INTERNAL_ERROR": (
        400,
        "Internal server error. This is often linked to a technical error. We are notified and are working proactively on those errors.",
    ),
    "ERROR_CONNECTOR_MISSING_EXTENSION": (400, "The connector requires an extension."),
    "ERROR_INVALID_PERIOD": (400, "The given period is not valid (based on date_from & date_to parameters)"),
    "ERROR_INVALID_HOST": (400, "The given host is not valid and the backend cannot be reached"),
    "ERROR_FOLDER_NOT_FOUND": (404, "Folder not found"),
    "ERROR_INVALID_VAT_FORMAT": (
        422,
        "The VAT number doesn't seem to be correct. Please remove dots and whitespaces. The expected format is the following: BE0784930037",
    ),
    "ERROR_INVALID_LANGUAGE_FORMAT": (
        422,
        "The language format is not correct. Please use the ISO 639-1 codes.",
    ),
    "ERROR_INVALID_CURRENCY_FORMAT": (
        422,
        "The currency format is not correct. Please use the ISO 4217 codes.",
    ),
    "ERROR_INVALID_COUNTRY_FORMAT": (
        422,
        "The country format is not correct. Please use the ISO 3166-1 codes.",
    ),
    "ERROR_INVALID_FINANCIAL_PERIOD_FORMAT": (
        422,
        "The forced financial period must be 6 numbers (e.g. 02 for february and 2022 => 022022).",
    ),
    "ERROR_BOOKS_FROZEN": (422, "The books are frozen in the accounting tool."),
    "ERROR_NO_INVOICE_LINE": (400, "The invoice must contain at least one invoice line."),
    "ERROR_ZERO_INVOICE": (400, "You cannot create an invoice with an untaxed amount of 0."),
    "ERROR_ZERO_LINE": (400, "You cannot create entries/invoices with a line equal to zero."),
    "ERROR_NO_OPERATION_LINE": (400, "The miscellaneous operation must contain at least one line."),
    "ERROR_INVALID_OPERATION_LINE_TYPE": (
        400,
        "A line of type 'customer_account' or 'supplier_account' must have a 'partner_id' filled in.",
    ),
    "ERROR_OPERATION_NOT_BALANCED": (
        400,
        "The operation is not balanced. The sum of the lines must be zero.",
    ),
    "ERROR_NOT_ENOUGH_MATCHING_ENTRIES": (400, "Matching is only possible with at least 2 entries."),
    "ERROR_ANALYTIC_ACCOUNTING_NOT_ACTIVE": (405, "Analytic accounting is not active on this connection."),
    "ERROR_ANALYTIC_ACCOUNTING_PLAN_NOT_CONFIGURED": (
        405,
        "A default analytic plan must be configured to use this endpoint.",
    ),
    "ERROR_ANALYTIC_ACCOUNT_ALREADY_EXISTS": (
        400,
        "An analytic account already exists with the same code in the accounting system.",
    ),
    "ERROR_ANALYTIC_ACCOUNT_NOT_FOUND": (404, "The analytic account doesn't exist in the accounting system."),
    "ERROR_ANALYTIC_PLAN_NOT_FOUND": (404, "The analytic plan doesn't exist in the accounting system."),
    "ERROR_INVALID_ANALYTIC_DISTRIBUTION": (
        400,
        "There is an error with the analytic distribution. This error can come from an anlytic plan or account being more than once in the analytic distribution; from a percentage not being between 1 and 100 or from an analytic plan not having a 100% coverage.",
    ),
    "ERROR_INVALID_ANALYTIC_DISTRIBUTION_ACCOUNTS": (
        400,
        "Each analytic plan in the analytic distribution of an invoice line must contain at least one analytic account.",
    ),
    "ERROR_INVALID_ANALYTIC_DISTRIBUTION_ACCOUNTS_PERCENTAGE": (
        400,
        "Analytic accounts of each analytic plan in the analytic distribution of an invoice line must cover 100% of the amount of the invoice line.",
    ),
    "ERROR_INVOICE_AMOUNTS_DO_NOT_MATCH": (400, "The amounts of the invoice are not correct."),
    "ERROR_LINE_AMOUNTS_DO_NOT_MATCH": (400, "The amounts in one invoice line are not correct."),
    "ERROR_TAX_RATE_NOT_CORRESPONDING": (
        400,
        "The tax rate doesn't match the tax rate linked to the tax code in the accounting system.",
    ),
    "ERROR_MULTIPLE_GL_ACCOUNTS": (400, "The entries have different receivable/payable accounts."),
    "ERROR_MULTIPLE_PARTNER_ACCOUNTS": (
        400,
        "A sale/purchase entry cannot be linked to multiple partner accounts.",
    ),
    "ERROR_ACCOUNT_NUMBER_NOT_CONFIGURED": (
        400,
        "The account number is not configured to be used in entries. It cannot be imputed.",
    ),
    "ERROR_ENTRY_HAS_INVALID_STATUS": (400, "The entry doesn't have the correct status to be matched."),
    "ERROR_ENTRY_HAS_NO_ACCOUNT_RECEIVABLE_PAYABLE": (
        400,
        "The entry doesn't have a receivable/payable account.",
    ),
    "ERROR_ENTRY_NOT_LINKED_TO_PARTNER": (
        400,
        "The entry is not linked to partner mentionnend in the matching body.",
    ),
    "ERROR_ENTRY_ALREADY_RECONCILED": (400, "The entry is already reconciled in the accounting system."),
    "ERROR_ENTRY_ALREADY_PARTIALLY_MATCHED": (
        400,
        "An entry is already partially matched with another entry in the accounting system.",
    ),
    "ERROR_JOURNAL_NOT_GOOD_SCOPE": (400, "The journal cannot be used for this scope."),
    "ERROR_JOURNAL_NOT_CONFIGURED": (400, "The journal is not configured for a used functionnality."),
    "ERROR_TAX_CODE_NOT_GOOD_SCOPE": (400, "The tax code cannot be used for this type of invoices."),
    "ERROR_MULTIPLE_JOURNALS": (
        404,
        "Multiple journals were found. Please indicate the wanted journal in the request.",
    ),
    "ERROR_JOURNAL_NOT_FOUND_FOR_SCOPE": (
        404,
        "Please indicate the wanted journal in the request. No journal has been found for this scope.",
    ),
    "ERROR_INVOICE_NUMBER_ALREADY_USED": (
        409,
        "The invoice number is already used in the accounting system.",
    ),
    "ERROR_INVOICE_ALREADY_EXISTS": (409, "The invoice already exists in the accounting system."),
    "ERROR_ENTRY_NUMBER_ALREADY_USED": (409, "The entry number already used in the accounting system."),
    "ERROR_PDF_NOT_APPLICABLE_TO_DRAFT_INVOICE": (
        400,
        "You cannot upload a PDF when creating a draft invoice.",
    ),
    "ERROR_TAX_CODE_NOT_FOUND": (404, "The tax code doesn't exist in the accounting system."),
    "ERROR_TAX_CODE_NOT_CONFIGURED": (
        400,
        "The tax code is not configured to be used with this type of invoice.",
    ),
    "ERROR_ACCOUNT_NUMBER_NOT_FOUND": (404, "The account number doesn't exist in the accounting system."),
    "ERROR_OPERATION_NOT_FOUND": (404, "The operation doesn't exist in the accounting system."),
    "ERROR_OPERATION_NUMBER_ALREADY_USED": (
        409,
        "The operation number is already used in the accounting system.",
    ),
    "ERROR_WRONG_ACCOUNT_TYPE": (
        400,
        "The account cannot be used for this type of line of a miscellaneous operation.",
    ),
    "ERROR_BOOKYEAR_NOT_FOUND": (400, "The accounting system is not set up for this date."),
    "ERROR_PERIOD_CLOSED": (400, "The accounting period is closed in the accounting system."),
    "ERROR_JOURNAL_LOCKED": (400, "The journal is locked in the accounting system."),
    "ERROR_INVALID_FIELD_FORMAT_BANK_ACCOUNT": (422, "The bank account/iban is not valid."),
    "ERROR_INVALID_FIELD_FORMAT_ANALYTIC_ACCOUNT": (
        422,
        "The code of the analytic account doesn't follow the format of the corresponding accounting system.",
    ),
    "ERROR_INVALID_FIELD_FORMAT_ANALYTIC_PLAN": (
        422,
        "The format of the field 'analytic_plan' doesn't follow the format of the corresponding accounting system.",
    ),
    "ERROR_INVALID_FIELD_FORMAT_JOURNAL_ID": (
        422,
        "The format of the field 'journal_id' doesn't follow the format of the corresponding accounting system.",
    ),
    "ERROR_INVALID_FIELD_FORMAT_TAX_CODE": (
        422,
        "The format of the field 'tax_code' doesn't follow the format of the corresponding accounting system.",
    ),
    "ERROR_INVALID_FIELD_FORMAT_ENTRIES": (
        422,
        "The format of the IDs entries doesn't follow the format of the corresponding accounting system.",
    ),
    "ERROR_JOURNAL_ALREADY_OPEN": (
        400,
        "The entry couldn't be created in the accounting system. The journal is already open.",
    ),
    "ERROR_INVALID_FIELD_FORMAT_ID": (
        422,
        "The format of the ID doesn't follow the format of the corresponding accounting system.",
    ),
    "ERROR_INVALID_FIELD_FORMAT_PARTNER_ID": (
        422,
        "The format of the field 'partner_id' doesn't seem to be correct for the corresponding accounting system.",
    ),
    "ERROR_INVALID_FIELD_FORMAT_COMPANY_ID": (
        422,
        "The format of the field 'company_id' doesn't seem to be correct for the corresponding accounting system.",
    ),
    "ERROR_MISSING_FIRST_NAME": (
        400,
        "The field 'first_name' must be filled in when the client/supplier is an individual.",
    ),
    "ERROR_MISSING_LAST_NAME": (
        400,
        "The field 'last_name' must be filled in when the client/supplier is an individual.",
    ),
    "ERROR_MISSING_INVOICE_NUMBER": (400, "The target connector is expecting an invoice number."),
    "ERROR_PARTNER_ALREADY_EXISTS": (
        400,
        "A client/supplier already exists with the same code/id in the accounting system.",
    ),
    "ERROR_JOURNAL_NOT_FOUND": (404, "The journal doesn't exist in the accounting system."),
    "ERROR_PARTNER_NOT_FOUND": (404, "The client/supplier doesn't exist in the accounting system."),
    "ERROR_ENTRY_NOT_FOUND": (404, "The entry doesn't exist in the accounting system."),
    "ERROR_DUPLICATE_ENTRIES": (400, "Entries cannot contain duplicates."),
    "ERROR_INVOICE_NOT_FOUND": (404, "The invoice doesn't exist in the accounting system."),
    "ERROR_MISCELLANEOUS_OPERATION_NOT_FOUND": (
        404,
        "The miscellaneous operation doesn't exist in the accounting system.",
    ),
    "ERROR_LANGUAGE_NOT_FOUND": (
        404,
        "The specified language doesn't exist or is not active in the accounting system.",
    ),
    "ERROR_CURRENCY_NOT_FOUND": (
        404,
        "The currency doesn't exist or is not active in the accounting system.",
    ),
    "ERROR_NEGATIVE_INVOICE": (
        400,
        "An invoice must be positive. The invoice type determines the sign of the invoice.",
    ),
    "ERROR_ACCOUNT_NUMBER_NOT_ACTIVE": (400, "An account number used in an invoice line is not active."),
    "ERROR_PARTNER_NOT_ACTIVE": (400, "The used client/supplier is not active."),
    "ERROR_ACCOUNT_NUMBER_NOT_GOOD_SCOPE": (400, "The account number cannot be used in this scope."),
    "ERROR_INVALID_INVOICE_DATE": (400, "The period containing the invoice date is already locked."),
    "ERROR_WRONG_ENTRY_TYPE": (400, "You can only create entries in a sale or purchase journal."),
    "ERROR_MAX_DIFFERENCE_MONTHS": (
        400,
        "You can retrieve maximum 3 months of data at once. The difference between 'date_from' and 'date_to' is at maximum 3 months.",
    ),
    "ERROR_ATTACHMENT_ALREADY_EXISTS": (400, "An attachment already exists for this invoice."),
    "ERROR_INVALID_BASE64_STRING": (400, "The document is not a valid base64 string representing a PDF."),
    "ERROR_INVALID_DUE_DATE": (422, "The due date must be after the invoice date."),
    "ERROR_CHARGE_PRODUCT_ACCOUNT_MISSING": (422, "Please provide at least one charge/product account."),
    "ERROR_COLLECTIVE_ACCOUNT_MISSING": (422, "Please provide a client/supplier collective account."),
    "ERROR_PARTNER_ACCOUNT_MISSING": (
        422,
        "Please provide a client/supplier account in the partner_id field.",
    ),
    "ERROR_ANALYTIC_ACCOUNT_ARCHIVED": (400, "The analytic account is archived."),
    "ERROR_INVALID_FIELD_FORMAT_INVOICE_NUMBER": (
        422,
        "The format of the invoice number doesn't follow the format of the corresponding accounting system (e.g. too long)",
    ),
    "ERROR_INVALID_FIELD_FORMAT_OPERATION_NUMBER": (
        422,
        "The format of the operation number doesn't follow the format of the corresponding accounting system (e.g. too long)",
    ),
    "ERROR_INVALID_FIELD_FORMAT_NUMBER": (
        422,
        "The format of the number doesn't follow the format of the corresponding accounting system (e.g. too long)",
    ),
    "ERROR_ANALYTIC_ACCOUNT_NUMBER_PLAN_NOT_ACTIVE": (
        400,
        "The account number cannot be used (is not configured) with an analytic account of the specified analytic plan",
    ),
    "ERROR_LEDGER_ACCOUNT_ALREADY_EXISTS": (
        400,
        "A ledger account already exists with the same number in the accounting system.",
    ),
    "ERROR_NUMBER_ALREADY_USED": (400, "The number of the invoice is already used in the accounting system."),
    "ERROR_COUNTERPART_ACCOUNT_NUMBER_NOT_GOOD_SCOPE": (
        400,
        "The counterpart account number cannot be used in this scope.",
    ),
    "ERROR_COUNTERPART_ACCOUNT_NOT_FOUND": (
        400,
        "The counterpart account doesn't exist in the accounting system.",
    ),
    "ERROR_COLLECTIVE_ACCOUNT_NOT_CONFIGURED": (
        400,
        "The collective account is not set up for customer/supplier.",
    ),
    "ERROR_JOURNAL_ALREADY_EXISTS": (
        400,
        "A journal already exists with the same code in the accounting system.",
    ),
    "ERROR_COUNTERPART_ACCOUNT_ALREADY_USED": (
        400,
        "The counterpart account is already linked to another journal.",
    ),
    "ERROR_COUNTERPART_ACCOUNT_NOT_ALLOWED": (
        400,
        "You can only specify a counterpart account on Bank and Cash journals.",
    ),
    "ERROR_MISSING_COUNTERPART_ACCOUNT": (
        400,
        "You must specify a counterpart account on Bank and Cash journals.",
    ),
    "ERROR_PERIOD_BLOCKED": (400, "The accounting period is currently blocked due a revision."),
    "ERROR_PDF_MUST_BE_UNIQUE": (400, "The pdf already exists in the accounting system."),
    "ERROR_ENTRY_ITEMS": (400, "You need to push at least 2 entry items."),
    "ERROR_BANK_ACCOUNT_NUMBER_ALREADY_EXISTS": (
        400,
        "The bank account number already exists in the accounting system.",
    ),
    "ERROR_INVALID_FIELD_FORMAT_STATEMENT_NUMBER": (
        422,
        "The statement id/number format is not accepted by the accounting software.",
    ),
    "ERROR_PRODUCT_NOT_FOUND": (404, "The product doesn't exist."),
    "ERROR_VARIANT_NOT_FOUND": (404, "The variant doesn't exist."),
    "ERROR_SHOPIFY_CUSTOMER_DATA_ACCESS": (
        403,
        "The Shopify app is not configured to have access to customer data. See Shopify documentation.",
    ),
    "ERROR_PHONE_INVALID": (
        422,
        "The phone number doesnt seem to be valid. The number must begin with the country code.",
    ),
    "ERROR_PHONE_ALREADY_USED": (422, "The phone number is already used by another client."),
    "ERROR_INVALID_FIELD_FORMAT": (
        422,
        "The date format of the query parameter 'Date From' or 'Date To' is not valid. The expected format is the following: YYYY-MM-DD.",
    ),
    "ERROR_NO_ORDER_LINE": (400, "New orders must have at least one line."),
    "ERROR_OPPORTUNITY_NOT_FOUND": (404, "The opportunity doesn't exist."),
    "ERROR_TAX_NOT_FOUND": (404, "The tax doesn't exist."),
    "ERROR_OPPORTUNITY_NOT_CREATED": (400, "The opportunity was not created."),
    "ERROR_PRODUCT_NOT_CREATED": (400, "The product was not created."),
    "ERROR_TAX_NOT_CREATED": (400, "The tax was not created."),
    "ERROR_INVOICE_NOT_CREATED": (400, "The invoice was not created."),
}
