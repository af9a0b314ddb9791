"""Query expansion: French words to the docs' English, and business acts to the API's words.

The docs are English and name mechanisms (``customer_refund``, ``matching``, ``bookyear``); askers
write French, or describe what they did ("we gave the customer a credit note"). Two hand-written
tables bridge that gap, written from general accounting, invoicing, point-of-sale, e-commerce,
banking, hotel and API-integration vocabulary (a French accountant's everyday words, the French
chart of accounts, the docs' page titles and data types), not from evaluation questions:

- ``FRENCH``: a French word or phrase (lower case, accents folded) -> its English equivalents in the
  docs' vocabulary. Looked up whole, then by French Snowball stem, so plurals and conjugations
  (``écritures``, ``récupérez``) find their entry. ``FRENCH_COMMON`` holds question and common
  words, so a French question can be rewritten word by word into an English one for the (English)
  embedding model. A French word of the trade in an otherwise English query (``lettrage``) brings
  its English along too.
- ``ACTS``: an English phrase of the asker's world -> the API's words for it, added to the query.

``expand(query)`` returns the English rewriting (for the embedding model), the added terms (for
BM25, weighted below the asker's own words) and whether the query read as French.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from search_index.text import fold

# ---------------------------------------------------------------------------- French -> English
# Keys: folded (no accents), lower case, words separated by one space. Values: English, docs' words.
FRENCH: dict[str, str] = {
    # --- accounting: the books
    "comptabilite": "accounting",
    "compta": "accounting",
    "comptable": "accounting",
    "comptables": "accounting",
    "comptabiliser": "book record entry",
    "comptabilise": "booked recorded",
    "logiciel comptable": "accounting software",
    "logiciel de comptabilite": "accounting software",
    "outil comptable": "accounting software",
    "expert comptable": "accountant accounting firm",
    "cabinet comptable": "accounting firm accountant",
    "cabinet": "accounting firm",
    "ecriture": "entry journal entry",
    "ecriture comptable": "journal entry",
    "saisie": "entry booking",
    "piece": "entry document",
    "piece comptable": "accounting entry document",
    "numero de piece": "entry number",
    "journal": "journal",
    "journal des ventes": "sales journal",
    "journal des achats": "purchase journal",
    "journal de banque": "bank journal",
    "journal de caisse": "cash journal",
    "operations diverses": "miscellaneous operation journal entry",
    "operation diverse": "miscellaneous operation",
    "od": "miscellaneous operation",
    "grand livre": "general ledger",
    "balance": "balance of accounts trial balance",
    "balance agee": "aged balance outstanding items",
    "plan comptable": "chart of accounts",
    "plan comptable general": "chart of accounts",
    "pcg": "chart of accounts",
    "plan de comptes": "chart of accounts",
    "compte": "account",
    "compte general": "ledger account",
    "compte comptable": "ledger account",
    "compte de tiers": "partner account client supplier",
    "compte auxiliaire": "partner account",
    "compte client": "client account receivable",
    "compte fournisseur": "supplier account payable",
    "tiers": "partners clients suppliers",
    "client": "client customer",
    "fournisseur": "supplier",
    "salarie": "employee",
    "employe": "employee",
    "exercice": "bookyear fiscal year",
    "exercice comptable": "bookyear fiscal year",
    "exercice fiscal": "bookyear fiscal year",
    "cloture": "closure closing",
    "lettrage": "matching match entries",
    "lettrer": "match entries matching",
    "delettrer": "unmatch entries",
    "rapprochement": "reconciliation matching",
    "rapprochement bancaire": "bank reconciliation matching transactions",
    "rapprocher": "reconcile match",
    "avoir": "credit note refund",
    "facture": "invoice",
    "facture de vente": "sales invoice customer_invoice",
    "facture client": "customer invoice customer_invoice sale",
    "facture d achat": "purchase invoice supplier_invoice",
    "facture fournisseur": "supplier invoice supplier_invoice purchase",
    "facturation": "invoicing",
    "facturer": "invoice",
    "devis": "quote",
    "bon de commande": "purchase order",
    "acompte": "deposit down payment",
    "reglement": "payment",
    "regler": "pay payment",
    "encaissement": "payment received receipt",
    "encaisser": "collect payment",
    "decaissement": "payment disbursement",
    "paiement": "payment",
    "payer": "pay payment",
    "moyen de paiement": "payment method",
    "mode de paiement": "payment method",
    "echeance": "due date payment term",
    "conditions de paiement": "payment terms",
    "impaye": "unpaid outstanding",
    "non solde": "outstanding unpaid",
    "solde": "balance settled",
    "relance": "reminder retry",
    "relancer": "remind retry rerun",
    "creance": "receivable",
    "dette": "payable",
    "tresorerie": "cash treasury",
    "caisse": "cash register POS point of sale cash",
    "ticket de caisse": "receipt ticket order",
    "tva": "VAT tax",
    "taux de tva": "VAT rate tax rate",
    "code tva": "VAT code",
    "codes tva": "VAT codes",
    "tva intracommunautaire": "intracommunity VAT EU",
    "intracommunautaire": "intracommunity EU",
    "autoliquidation": "reverse charge reverse VAT",
    "tva deductible": "deductible VAT",
    "tva collectee": "collected VAT",
    "ht": "excluding tax net amount",
    "hors taxe": "excluding tax net amount",
    "ttc": "including tax total amount",
    "montant": "amount",
    "taxe": "tax",
    "retenue a la source": "withholding tax",
    "note de frais": "expense report expense",
    "notes de frais": "expense reports expenses",
    "frais": "expenses fees costs",
    "depense": "expense",
    "immobilisation": "fixed asset",
    "amortissement": "depreciation",
    "analytique": "analytic",
    "comptabilite analytique": "analytic accounting",
    "axe analytique": "analytic plan",
    "plan analytique": "analytic plan",
    "centre de cout": "cost center analytic account",
    "devise": "currency",
    "multi devise": "multi-currency",
    "taux de change": "exchange rate",
    "fec": "FEC export entries",
    "fichier des ecritures comptables": "FEC export entries",
    "liasse fiscale": "tax return",
    "declaration de tva": "VAT return",
    "bilan": "balance sheet",
    "compte de resultat": "income statement profit and loss",
    "dossier": "folder company",
    "societe": "company",
    "entreprise": "company",
    "siren": "company number",
    "siret": "company number",
    "numero de tva": "VAT number",
    "piece jointe": "attachment document",
    "justificatif": "attachment document receipt",
    "banque": "bank",
    "bancaire": "bank banking",
    "compte bancaire": "bank account",
    "releve bancaire": "bank statement transactions",
    "releve": "statement",
    "transaction": "transaction",
    "operation bancaire": "bank transaction",
    "virement": "transfer",
    "prelevement": "direct debit",
    "contrepartie": "counterpart",
    # --- invoicing, commerce, point of sale, hotels
    "produit": "product",
    "article": "product item",
    "categorie": "category",
    "famille": "category",
    "stock": "stock inventory available quantity",
    "inventaire": "inventory",
    "entrepot": "warehouse location",
    "declinaison": "variant",
    "variante": "variant",
    "quantite": "quantity",
    "prix": "price",
    "remise": "discount",
    "boutique en ligne": "ecommerce online store",
    "boutique": "shop store",
    "site marchand": "ecommerce online store",
    "e commerce": "ecommerce",
    "commande": "order",
    "panier": "cart order",
    "livraison": "shipping delivery",
    "frais de port": "shipping costs",
    "pays": "country",
    "remboursement": "refund",
    "rembourser": "refund",
    "point de vente": "point of sale POS location",
    "logiciel de caisse": "POS point of sale",
    "magasin": "store shop location",
    "etablissement": "location",
    "restaurant": "restaurant",
    "vente": "sale sales",
    "achat": "purchase",
    "chiffre d affaires": "revenue sales turnover",
    "ca": "revenue sales",
    "ventilation": "breakdown accounting categories",
    "pourboire": "tip",
    "couverts": "covers",
    "serveur": "server waiter",
    "objectif": "objective",
    "rapport z": "closure",
    "ticket z": "closure",
    "hotel": "hotel PMS",
    "chambre": "room",
    "reservation": "reservation booking",
    "sejour": "stay",
    "nuitee": "night",
    "contact": "contact",
    "opportunite": "opportunity",
    # --- integration, API, developer
    "jeton": "token access token",
    "jeton d acces": "access token",
    "cle api": "API key",
    "cle d api": "API key",
    "cle": "key",
    "identifiant": "identifier id",
    "identifiants": "credentials client id",
    "mot de passe": "password",
    "authentification": "authentication",
    "authentifier": "authenticate",
    "expirer": "expire expiry",
    "expiration": "expiry expires",
    "duree de vie": "validity expires lifetime",
    "valide": "valid",
    "limite": "limit",
    "quota": "rate limit",
    "pagination": "pagination",
    "page": "page",
    "par page": "per page",
    "requete": "request",
    "appel": "call request",
    "erreur": "error",
    "code d erreur": "error code",
    "reessayer": "retry",
    "doublon": "duplicate",
    "en double": "duplicate twice",
    "deux fois": "twice duplicate",
    "idempotence": "idempotency",
    "notification": "notification webhook",
    "evenement": "event",
    "historique": "history logs",
    "journaux": "journals logs",
    "connecteur": "connector integration",
    "integration": "integration connector",
    "connexion": "connection",
    "connecter": "connect",
    "brancher": "connect link",
    "relier": "connect link",
    "deconnecter": "disconnect",
    "consommateur": "consumer",
    "client final": "end customer consumer",
    "lien": "link url",
    "url": "url",
    "redirection": "redirect",
    "synchronisation": "sync synchronization",
    "synchro": "sync",
    "synchroniser": "sync",
    "flux": "flow",
    "automatisation": "sync flow automation",
    "execution": "execution run",
    "correspondance": "mapping",
    "parametre": "setting parameter",
    "parametrage": "configuration settings",
    "configuration": "configuration",
    "configurer": "configure",
    "environnement": "environment",
    "bac a sable": "sandbox",
    "environnement de test": "sandbox test environment",
    "production": "production",
    "installe": "installed local",
    "en local": "local on-premise",
    "sur site": "on-premise",
    "donnees brutes": "raw data",
    "donnee": "data",
    "donnees": "data",
    "champ": "field",
    "champ personnalise": "custom field",
    "filtre": "filter",
    "filtrer": "filter",
    "mise a jour": "update",
    "mettre a jour": "update",
    "modifier": "update modify",
    "creer": "create",
    "ajouter": "add create",
    "supprimer": "delete",
    "recuperer": "get retrieve",
    "obtenir": "get",
    "lire": "read get",
    "lister": "list",
    "liste": "list",
    "consulter": "view get",
    "envoyer": "send",
    "envoi": "send delivery",
    "pousser": "push create",
    "telecharger": "download upload",
    "importer": "import",
    "exporter": "export",
    "generer": "generate",
    "date de debut": "start date",
    "date de fin": "end date",
    "debut": "start",
    "fin": "end",
    "cache": "cache caching",
    "actualiser": "refresh",
    "rafraichir": "refresh",
    "a jour": "up to date",
    "utilisateur": "user",
    "droits": "permissions roles",
    "role": "role",
    "equipe": "team",
    "assistance": "support",
    "ticket": "ticket",
    "probleme": "issue problem",
    "anomalie": "issue",
    "format": "format",
    "numero": "number",
    "nom": "name",
    "adresse": "address",
    "langue": "language",
    "logiciel": "software",
    "outil": "tool",
    "plateforme": "platform",
    "tableau de bord": "dashboard",
}
# Question and common words: for the word-by-word rewriting of a French query, never a sign of French
# in an English one ("comment", "page").
FRENCH_COMMON: dict[str, str] = {
    "comment": "how",
    "pourquoi": "why",
    "quand": "when",
    "quel": "which",
    "quelle": "which",
    "quels": "which",
    "quelles": "which",
    "combien": "how many",
    "peut on": "can",
    "puis je": "can I",
    "pouvoir": "can",
    "doit": "must",
    "dois": "must",
    "devoir": "must",
    "faut il": "need",
    "sans": "without",
    "avec": "with",
    "pour": "for",
    "par": "per",
    "chaque": "each",
    "tous": "all",
    "toutes": "all",
    "plusieurs": "multiple",
    "deux": "two",
    "fois": "times",
    "premier": "first",
    "dernier": "last",
    "nouveau": "new",
    "nouvelle": "new",
    "ancien": "old",
    "meme": "same",
    "autre": "other",
    "seulement": "only",
    "automatiquement": "automatically",
    "manuellement": "manually",
    "jour": "day",
    "nuit": "night",
    "mois": "month",
    "annee": "year",
    "heure": "hour",
    "semaine": "week",
    "hier": "yesterday",
    "aujourd hui": "today",
    "plus": "more",
    "moins": "less",
    "tout de suite": "immediately",
    "immediatement": "immediately",
    "fonctionne": "works",
    "marche": "works",
    "refuse": "rejects refused",
    "accepte": "accepts",
    "existe": "exists",
    "existant": "existing",
    "recevoir": "receive",
    "recu": "received",
    "savoir": "know",
    "voir": "see",
    "changer": "change",
    "bloque": "blocked",
    "echoue": "failed",
    "echec": "failure failed",
    "attendre": "wait",
    "renvoie": "returns",
    "renvoyer": "return",
    "retourne": "returns",
    "souhaite": "want",
    "veux": "want",
    "besoin": "need",
}

# ---------------------------------------------------------------------------- business acts -> API
# For each of the docs' concepts (page titles, data types, endpoint resources: the API's words), the
# everyday words an accountant, a shop owner or a developer uses for it. Read the other way round:
# an asker's phrase brings the concept's words into the query.
CONCEPTS: dict[str, tuple[str, ...]] = {
    # accounting
    "refund customer_refund supplier_refund": ("credit note", "credit notes", "credit memo"),
    "supplier_invoice purchase invoice": (
        "vendor bill",
        "vendor bills",
        "purchase invoice",
        "supplier invoice",
    ),
    "customer_invoice sales invoice": ("sales invoice", "customer invoice"),
    "accounting software": ("bookkeeping", "bookkeeping software", "accounting package", "accounting app"),
    "accounting firm": ("accountant", "bookkeeper", "fiduciary"),
    "matching match entries": ("reconcile", "reconciliation", "lettering", "clearing", "allocate a payment"),
    "outstanding items": ("unpaid", "overdue", "open items", "open invoices", "receivables", "payables"),
    "bookyear": ("fiscal year", "financial year", "accounting year", "accounting period", "year end"),
    "chart of accounts ledger account": (
        "general ledger",
        "gl account",
        "gl code",
        "nominal code",
        "account code",
    ),
    "partners clients suppliers": (
        "customers and suppliers",
        "third parties",
        "counterparties",
        "debtors",
        "creditors",
    ),
    "supplier": ("vendor", "vendors"),
    "expense": ("expense report", "expense claim", "out of pocket"),
    "VAT code tax": ("sales tax", "tax rate", "tax code"),
    "reverse VAT": ("reverse charge", "self assessed vat"),
    "analytic account analytic plan": ("cost center", "cost centre", "department", "tracking category"),
    "attachment document pdf": ("supporting document", "receipt", "scan"),
    "journal entry miscellaneous operation": ("manual entry", "adjustment", "general journal"),
    "multi-currency currency": ("foreign currency", "exchange rate", "dollars", "euros"),
    "bank transactions financial entry": ("bank statement", "bank lines", "bank feed", "statement lines"),
    "payment methods": ("payment type", "means of payment", "tender"),
    "payment terms": ("due date", "terms of payment"),
    # commerce
    "POS point of sale": ("till", "cash register", "checkout", "epos"),
    "ecommerce": ("webshop", "web shop", "online store", "online shop", "e-shop", "storefront"),
    "PMS property management system": ("hotel", "hotel software", "front desk"),
    "locations": ("venue", "venues", "outlet", "outlets", "branch", "branches", "establishment"),
    "closure": ("end of day", "daily closing", "z report", "day close", "cash up"),
    "objectives": ("goals", "targets", "sales targets"),
    "accounting categories": ("revenue categories", "sales categories", "product families"),
    "available quantity inventory": ("stock", "stock level", "inventory level", "quantity on hand"),
    "variant": ("size", "colour", "color", "sku"),
    "tip": ("gratuity", "tips"),
    # platform and API
    "consumer": ("tenant", "end user", "client company", "merchant"),
    "connection": ("hook up", "plug in", "linked software"),
    "sync flow": ("automation", "automations", "scheduled job", "recurring export", "workflow"),
    "execution": ("run", "runs", "job"),
    "webhook": ("callback", "notify", "notification", "push event", "event subscription"),
    "issues": ("problems", "warnings"),
    "email reminders": ("reminder", "reminders", "follow up", "remind"),
    "local agent": (
        "on premise",
        "on-premise",
        "installed software",
        "desktop software",
        "local server",
        "firewall",
    ),
    "raw data custom endpoints": ("native fields", "unmapped fields", "passthrough", "raw response"),
    "sandbox environment": ("test account", "demo account", "staging", "test environment"),
    "caching cache": ("stale", "outdated data", "fresh data"),
    "pagination limit": ("page size", "next page", "more results", "per page"),
    "rate limits": ("throttle", "throttling", "too many requests", "429", "quota"),
    "idempotency": ("duplicate", "duplicates", "twice", "retry safely", "timeout"),
    "access token authentication": ("401", "unauthorized", "bearer", "expired token", "log in"),
    "API key": ("client id", "client secret", "credentials"),
    "roles": ("permissions", "access rights", "admin", "profile"),
    "multiple environments": ("dev", "staging", "production", "pre-production"),
    "custom event": ("trigger", "start manually"),
    "folders": ("company files", "dossiers", "entities", "multi-company"),
    "datatypes data types": ("data model", "schema", "object model"),
    "connectors integrations": ("supported software", "which software"),
    "changelog product updates": ("release notes", "what's new", "new features"),
    "MCP AI": ("ai assistant", "llm", "claude", "chatgpt", "copilot"),
    "SDK": ("client library", "python package", "npm package"),
    "embedded": ("white label", "in-app", "iframe"),
}
ACTS: dict[str, str] = {}
for _words, _phrases_of in CONCEPTS.items():
    for _phrase in _phrases_of:
        ACTS[_phrase] = f"{ACTS[_phrase]} {_words}" if _phrase in ACTS else _words

FRENCH_STOP = frozenset(
    """a au aux ce ces cet cette d de des du elle elles en est et etre il ils j je l la le les leur
    leurs lui m ma mais me mes moi mon n ne nos notre nous on ont or ou pas qu que qui s sa se ses
    si son sont sur t ta te tes toi ton tu un une vos votre vous y ai as avons avez sera seront
    deja encore aussi bien tres alors donc car dans entre vers chez ici la cela ca ceci celui celle
    est-ce estce faire fait font peut peuvent puis dont lorsque lors afin ainsi""".split()
)
_FRENCH_HINTS = frozenset(
    """le la les des du une est sont je nous vous mon ma mes notre nos comment pourquoi quand quel
    quelle quels quelles combien dans avec pour sur pas que qui est-ce faut peut dois doit""".split()
)
_ACCENTED = re.compile(r"[àâçéèêëîïôûùüÿœ]", re.IGNORECASE)
_TOKEN = re.compile(r"[0-9A-Za-zÀ-ÖØ-öø-ÿœŒ_]+(?:[-.][0-9A-Za-zÀ-ÖØ-öø-ÿ_]+)*")
MAX_PHRASE = 4


@dataclass(frozen=True)
class Expansion:
    french: bool
    english: str  # the query rewritten in English (French words translated); the query itself if English
    added: tuple[str, ...]  # words from the glossaries, for BM25
    acts: tuple[str, ...] = ()  # the API's words for the business acts named (a part of ``added``)

    @property
    def for_vectors(self) -> str:
        """What the embedding model sees: the English query, then the API's words the glossaries
        brought (for French, the rewriting already holds the translations)."""
        extra = self.acts if self.french else self.added
        return " ".join([self.english, *extra]) if extra else self.english


def is_french(query: str) -> bool:
    """French function words, accents and French-only glossary words (``lettrage``, ``factures``)
    taken together; a terse French keyword query has few function words."""
    folded, _ = _split_words(query)
    hints = sum(1 for t in folded if t in _FRENCH_HINTS)
    own = sum(1 for i in range(len(folded)) if _french_only(folded, i)[1] is not None)
    accents = bool(_ACCENTED.search(query))
    return hints >= 2 or (hints >= 1 and (accents or own >= 1)) or own >= 2 or (accents and own >= 1)


def _french_only(words: list[str], i: int) -> tuple[int, str | None]:
    """A French glossary phrase at ``words[i]``, or a French glossary word that is not also an
    English one (its English equivalents do not contain it), singular or plural: (length, English);
    (1, None) when there is none."""
    french, _ = _phrases()
    for n in range(min(MAX_PHRASE, len(words) - i), 1, -1):
        key = " ".join(words[i : i + n])
        if key in french:
            return n, french[key]
    word = words[i]
    for key in (word, word[:-1] if len(word) > 3 and word[-1] in "sx" else word):
        value = french.get(key)
        if value is not None and key not in FRENCH_COMMON and key not in value.lower().split():
            return 1, value
    return 1, None


@lru_cache(maxsize=1)
def _french_stemmer() -> object:
    import snowballstemmer

    return snowballstemmer.stemmer("french")


@lru_cache(maxsize=1)
def _by_stem() -> dict[str, str]:
    """Single-word French entries by their Snowball stem (the first entry wins)."""
    stemmer = _french_stemmer()
    out: dict[str, str] = {}
    for key, value in {**FRENCH_COMMON, **FRENCH}.items():
        if " " not in key:
            out.setdefault(stemmer.stemWord(key), value)  # type: ignore[attr-defined]
    return out


@lru_cache(maxsize=1)
def _phrases() -> tuple[dict[str, str], dict[str, str]]:
    acts = {" ".join(fold(w) for w in re.findall(r"[\w-]+", k)): v for k, v in ACTS.items()}
    return {**FRENCH_COMMON, **FRENCH}, acts


def _lookup_french(words: list[str], i: int) -> tuple[int, str | None]:
    french, _ = _phrases()
    for n in range(min(MAX_PHRASE, len(words) - i), 0, -1):
        key = " ".join(words[i : i + n])
        if key in french:
            return n, french[key]
    word = words[i]
    if len(word) > 3:
        hit = _by_stem().get(_french_stemmer().stemWord(word))  # type: ignore[attr-defined]
        if hit is not None:
            return 1, hit
    return 1, None


def _acts(words: list[str]) -> list[str]:
    _, acts = _phrases()
    out: list[str] = []
    i = 0
    while i < len(words):
        for n in range(min(MAX_PHRASE, len(words) - i), 0, -1):
            key = " ".join(words[i : i + n])
            if key in acts:
                out.append(acts[key])
                i += n
                break
        else:
            i += 1
    return out


def _split_words(query: str) -> tuple[list[str], list[str]]:
    """(folded words for lookups, the words as typed), hyphenated and elided words split."""
    raw = re.findall(r"[0-9A-Za-zÀ-ÖØ-öø-ÿœŒ_]+", query.replace("’", "'"))
    return [fold(w) for w in raw], raw


@lru_cache(maxsize=4096)
def expand(query: str) -> Expansion:
    folded, raw = _split_words(query)
    added: list[str] = []
    if is_french(query):
        english: list[str] = []
        i = 0
        while i < len(folded):
            n, value = _lookup_french(folded, i)
            if value is not None:
                english.append(value)
                added.append(value)
            elif folded[i] not in FRENCH_STOP:
                english.extend(raw[i : i + n])
            i += n
        rewritten = " ".join(english)
        acts = _acts(_split_words(rewritten)[0])
        return Expansion(True, rewritten, (*added, *acts), tuple(acts))
    # An English query may still hold a French word of the trade ("lettrage"): its English comes along.
    i = 0
    while i < len(folded):
        n, value = _french_only(folded, i)
        if value is not None:
            added.append(value)
        i += n
    acts = _acts(folded)
    return Expansion(False, query, (*added, *acts), tuple(acts))
