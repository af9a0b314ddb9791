"""Deterministic realistic values: personas (people, companies, addresses) and business vocabulary.

Everything derives from a ``Draw`` (a big integer from a hash, consumed digit by digit) so that the
same key always gives the same value, without ``random`` and without global state.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar, cast

T = TypeVar("T")


def digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=16).digest(), "big")


class Draw:
    """Consumes a 128-bit hash as a mixed-radix number: each call takes one digit (re-hashed when low)."""

    __slots__ = ("_n", "_seed")

    def __init__(self, n: int) -> None:
        self._n = n
        self._seed = n

    def below(self, k: int) -> int:
        if k <= 1:
            return 0
        if self._n < k << 16:
            self._seed = digest(f"refill|{self._seed}")
            self._n = (self._n << 128) | self._seed
        value = self._n % k
        self._n //= k
        return value

    def between(self, lo: int, hi: int) -> int:
        return lo + self.below(hi - lo + 1)

    def pick(self, seq: tuple[T, ...] | list[T]) -> T:
        return seq[self.below(len(seq))]

    def chance(self, p: float) -> bool:
        return self.below(1000) < int(p * 1000)

    def digits(self, count: int) -> str:
        return "".join(str(self.below(10)) for _ in range(count))


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = "".join(c.lower() if c.isalnum() else "-" for c in ascii_text)
    return "-".join(part for part in out.split("-") if part)


# Country -> (cities with postal codes, streets, phone prefix, mobile prefix, tld, languages, legal forms, BICs)
_COUNTRIES: dict[str, dict[str, tuple[object, ...]]] = {
    "BE": {
        "cities": (
            ("Bruxelles", "1000"),
            ("Antwerpen", "2000"),
            ("Gent", "9000"),
            ("Liège", "4000"),
            ("Namur", "5000"),
            ("Leuven", "3000"),
            ("Brugge", "8000"),
            ("Wavre", "1300"),
        ),
        "streets": (
            "Rue de la Loi",
            "Avenue Louise",
            "Meir",
            "Korenmarkt",
            "Boulevard d'Avroy",
            "Rue de Fer",
            "Bondgenotenlaan",
            "Chaussée de Bruxelles",
        ),
        "phone": ("+32 2", "+32 470"),
        "tld": ("be",),
        "languages": ("fr", "nl"),
        "legal": ("SRL", "SA", "BV", "NV"),
        "bic": ("GKCCBEBB", "GEBABEBB", "BBRUBEBB", "KREDBEBB"),
    },
    "FR": {
        "cities": (
            ("Paris", "75008"),
            ("Lyon", "69002"),
            ("Lille", "59000"),
            ("Bordeaux", "33000"),
            ("Nantes", "44000"),
            ("Toulouse", "31000"),
        ),
        "streets": (
            "Rue de Rivoli",
            "Boulevard Haussmann",
            "Rue de la République",
            "Cours de l'Intendance",
            "Rue Nationale",
            "Quai de la Fosse",
        ),
        "phone": ("+33 1", "+33 6"),
        "tld": ("fr",),
        "languages": ("fr",),
        "legal": ("SAS", "SARL", "SA"),
        "bic": ("BNPAFRPP", "SOGEFRPP", "CRLYFRPP", "AGRIFRPP"),
    },
    "NL": {
        "cities": (("Amsterdam", "1017"), ("Rotterdam", "3011"), ("Utrecht", "3511"), ("Eindhoven", "5611")),
        "streets": ("Keizersgracht", "Coolsingel", "Oudegracht", "Stratumseind"),
        "phone": ("+31 20", "+31 6"),
        "tld": ("nl",),
        "languages": ("nl", "en"),
        "legal": ("BV", "NV"),
        "bic": ("INGBNL2A", "ABNANL2A", "RABONL2U"),
    },
    "LU": {
        "cities": (("Luxembourg", "1111"), ("Esch-sur-Alzette", "4002")),
        "streets": ("Boulevard Royal", "Avenue de la Gare"),
        "phone": ("+352 26", "+352 621"),
        "tld": ("lu",),
        "languages": ("fr", "de"),
        "legal": ("SARL", "SA"),
        "bic": ("BCEELULL", "BGLLLULL"),
    },
    "DE": {
        "cities": (("Berlin", "10115"), ("Köln", "50667"), ("München", "80331")),
        "streets": ("Friedrichstraße", "Hohe Straße", "Maximilianstraße"),
        "phone": ("+49 30", "+49 151"),
        "tld": ("de",),
        "languages": ("de",),
        "legal": ("GmbH", "AG"),
        "bic": ("DEUTDEFF", "COBADEFF"),
    },
}
_COUNTRY_WEIGHTS = ("BE", "BE", "BE", "BE", "FR", "FR", "FR", "NL", "NL", "LU", "DE")

_FIRST = {
    "fr": (
        "Marie",
        "Lucas",
        "Camille",
        "Louis",
        "Emma",
        "Hugo",
        "Chloé",
        "Nathan",
        "Julie",
        "Thomas",
        "Sophie",
        "Antoine",
        "Léa",
        "Maxime",
        "Claire",
    ),
    "nl": (
        "Jan",
        "Emma",
        "Lars",
        "Sanne",
        "Pieter",
        "Lotte",
        "Bram",
        "Anouk",
        "Wouter",
        "Eva",
        "Sofie",
        "Tom",
        "Femke",
    ),
    "de": ("Anna", "Lukas", "Lena", "Felix", "Hannah", "Jonas", "Mia", "Paul"),
    "en": ("Olivia", "James", "Amelia", "Oliver", "Grace", "Jack"),
}
_LAST = {
    "fr": (
        "Dubois",
        "Lambert",
        "Martin",
        "Leroy",
        "Moreau",
        "Lefèvre",
        "Dupont",
        "Renard",
        "Girard",
        "Fontaine",
        "Mercier",
        "Laurent",
        "Simon",
        "Lemaire",
    ),
    "nl": (
        "Peeters",
        "Janssens",
        "Maes",
        "Jacobs",
        "Willems",
        "De Smet",
        "Mertens",
        "Claes",
        "Wouters",
        "Van den Berg",
        "De Vries",
        "Bakker",
        "Visser",
    ),
    "de": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Wagner"),
    "en": ("Smith", "Taylor", "Brown", "Wilson", "Evans", "Walker"),
}
_ACTIVITIES = (
    "Consulting",
    "Logistics",
    "Bakery",
    "Architects",
    "Motors",
    "Design",
    "Catering",
    "Engineering",
    "Trading",
    "Solutions",
    "Construction",
    "Pharma",
    "Studio",
    "Foods",
)

PRODUCTS = (
    "Espresso",
    "Cappuccino",
    "Butter croissant",
    "Club sandwich",
    "Margherita pizza",
    "Sparkling water 50cl",
    "Craft beer 33cl",
    "Consulting hour",
    "Website hosting (monthly)",
    "Annual maintenance contract",
    "Training session (half day)",
    "Office chair",
    "Laptop stand",
    "Printer paper A4 (500 sheets)",
    "Software license (yearly)",
    "Delivery fee",
    "Gift card 50 EUR",
    "Organic apple juice 1L",
    "Wireless mouse",
    "Cleaning service",
)
LINE_DESCRIPTIONS = (
    "Consulting services",
    "Monthly subscription",
    "Hardware supplies",
    "Catering for event",
    "Office rent",
    "Software license renewal",
    "Transport and delivery",
    "Maintenance intervention",
    "Marketing campaign",
    "Training session",
)
CATEGORIES = (
    "Food",
    "Drinks",
    "Desserts",
    "Services",
    "Hardware",
    "Software",
    "Office supplies",
    "Subscriptions",
)
PAYMENT_METHODS = ("Cash", "Card", "Bank transfer", "Bancontact", "Visa", "Mastercard", "PayPal", "Voucher")
JOURNALS = (
    ("VEN", "Sales"),
    ("ACH", "Purchases"),
    ("BQ1", "Bank KBC"),
    ("OD", "Miscellaneous operations"),
    ("CAI", "Cash"),
)
ACCOUNTS = (
    ("400000", "Customers"),
    ("440000", "Suppliers"),
    ("700000", "Sales of goods"),
    ("704000", "Sales of services"),
    ("604000", "Purchases of goods"),
    ("612000", "Rent"),
    ("613000", "Fees and services"),
    ("550000", "Bank KBC"),
    ("570000", "Cash"),
    ("451000", "VAT payable"),
    ("411000", "VAT recoverable"),
    ("620000", "Salaries"),
)
TAXES = (("V21", 21.0), ("V12", 12.0), ("V6", 6.0), ("V0", 0.0))
BANKS = ("KBC", "BNP Paribas Fortis", "ING Belgique", "Belfius", "Argenta", "Crédit Agricole", "ABN AMRO")
ANALYTIC_PLANS = ("Departments", "Projects", "Cost centers", "Regions")
FUNCTIONS = ("Accountant", "CFO", "Office manager", "Sales manager", "CEO", "Purchasing officer")
MESSAGES = (
    "Synchronisation completed",
    "Invoice booked in the accounting system",
    "Waiting for approval",
    "Partner matched on VAT number",
)
CURRENCIES = ("EUR", "EUR", "EUR", "EUR", "EUR", "EUR", "USD", "GBP", "CHF")
# A tiny valid PDF, base64 encoded.
PDF_BASE64 = (
    "JVBERi0xLjQKMSAwIG9iago8PCAvVHlwZSAvQ2F0YWxvZyAvUGFnZXMgMiAwIFIgPj4KZW5kb2JqCjIgMCBvYmoKPDwg"
    "L1R5cGUgL1BhZ2VzIC9LaWRzIFtdIC9Db3VudCAwID4+CmVuZG9iagp0cmFpbGVyCjw8IC9Sb290IDEgMCBSID4+CiUlRU9G"
)


def _iban(country: str, bban: str) -> str:
    """A syntactically valid IBAN (correct ISO 13616 check digits)."""
    rearranged = bban + country + "00"
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    check = 98 - int(numeric) % 97
    return f"{country}{check:02d}{bban}"


@dataclass(frozen=True)
class Persona:
    first_name: str
    last_name: str
    company: str
    email: str
    phone: str
    mobile: str
    website: str
    street: str
    street_number: str
    city: str
    postal_code: str
    country: str
    language: str
    vat: str
    company_number: str
    iban: str
    bic: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@lru_cache(maxsize=8192)
def persona(key: str) -> Persona:
    draw = Draw(digest("persona|" + key))
    country = draw.pick(_COUNTRY_WEIGHTS)
    info = _COUNTRIES[country]
    language = str(draw.pick(info["languages"]))
    names_lang = language if language in _FIRST else "fr"
    first = draw.pick(_FIRST[names_lang])
    last = draw.pick(_LAST[names_lang])
    activity = draw.pick(_ACTIVITIES)
    legal = str(draw.pick(info["legal"]))
    company = f"{last} {activity} {legal}"
    domain = f"{slug(last)}-{slug(activity)}.{info['tld'][0]}"
    city, postal = cast("tuple[str, str]", draw.pick(info["cities"]))
    phone_prefix, mobile_prefix = info["phone"]
    digits9 = draw.digits(9)
    vat = {
        "BE": f"BE0{digits9}",
        "FR": f"FR{draw.digits(2)}{digits9}",
        "NL": f"NL{digits9}B01",
        "LU": f"LU{digits9[:8]}",
        "DE": f"DE{digits9}",
    }[country]
    company_number = f"0{digits9}" if country == "BE" else digits9
    bban = {
        "BE": draw.digits(12),
        "FR": draw.digits(23),
        "NL": "INGB" + draw.digits(10),
        "LU": draw.digits(3) + draw.digits(13),
        "DE": draw.digits(18),
    }[country]
    return Persona(
        first_name=first,
        last_name=last,
        company=company,
        email=f"{slug(first)}.{slug(last)}@{domain}",
        phone=f"{phone_prefix} {draw.digits(3)} {draw.digits(2)} {draw.digits(2)}",
        mobile=f"{mobile_prefix} {draw.digits(2)} {draw.digits(2)} {draw.digits(2)}",
        website=f"https://www.{domain}",
        street=str(draw.pick(info["streets"])),
        street_number=str(draw.between(1, 240)),
        city=str(city),
        postal_code=str(postal),
        country=country,
        language=language,
        vat=vat,
        company_number=company_number,
        iban=_iban(country, bban),
        bic=str(draw.pick(info["bic"])),
    )
