"""The demo's data: its firms and their keys, the people a recruiter already entered in
Clockwork, the accounts' contacts, and made-up contacts for the Demo controls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clockwork_simulator import DEMO_API_KEY, DEMO_API_SECRET, DEMO_FIRM, DEMO_FIRM_SERVICE_KEY

DEMO_ACTOR = "demo"


@dataclass(frozen=True)
class DemoFirm:
    """A simulator firm and the keys that work with it (what the connect form's hint gives).

    ``rotated_from`` is a key pair the firm had before its customer rotated it: the seeded
    account connects with that one, which the simulator then rejects (needs attention), so
    reconnecting with the working keys is part of the demo.
    """

    name: str
    api_key: str
    api_secret: str
    firm_service_key: str
    rotated_from: tuple[str, str] | None = None

    def fields(self, base_url: str, *, rotated: bool = False) -> dict[str, str]:
        """What staff would type to connect this firm (with ``rotated``: the old key pair)."""
        api_key, api_secret = self.rotated_from if rotated and self.rotated_from else self.keys
        return {
            "firm": self.name,
            "api_key": api_key,
            "api_secret": api_secret,
            "firm_service_key": self.firm_service_key,
            "base_url": base_url,
        }

    @property
    def keys(self) -> tuple[str, str]:
        """The working API key and secret."""
        return self.api_key, self.api_secret


DEMO_FIRMS = {
    "demo": DemoFirm(DEMO_FIRM, DEMO_API_KEY, DEMO_API_SECRET, DEMO_FIRM_SERVICE_KEY),
    "initech": DemoFirm("initech", "initech-api-key", "initech-api-secret", "initech-fsk"),
    "globex": DemoFirm(
        "globex",
        "globex-api-key-2",
        "globex-api-secret-2",
        "globex-fsk",
        rotated_from=("globex-api-key", "globex-api-secret"),
    ),
}


def demo_firm_hint(firm: str | None) -> DemoFirm:
    """The demo firm whose working keys the connect form suggests for an account connected to
    ``firm`` (the ``demo`` firm for an account never connected or connected elsewhere)."""
    by_name = {demo_firm.name: demo_firm for demo_firm in DEMO_FIRMS.values()}
    return by_name.get(firm or "", DEMO_FIRMS["demo"])


# People a recruiter entered in Clockwork before the integration: their emails match demo
# contacts, so those enrollments are flagged Exists in Clockwork and linked, not duplicated.
EXISTING_PEOPLE: dict[str, list[dict[str, Any]]] = {
    "demo": [
        {
            "first_name": "Grace",
            "last_name": "Hopper",
            "emails": ["grace.hopper@northwind-traders.com"],
            "title": "CTO",
            "company": "Northwind Traders",
        },
        {
            "first_name": "Linus",
            "last_name": "Pauling",
            "emails": ["linus@pauling-labs.com", "l.pauling@contoso-health.com"],
            "title": "VP Finance",
            "company": "Contoso Health",
        },
        {
            "first_name": "Katherine",
            "last_name": "Johnson",
            "emails": ["KJohnson@Fabrikam-Labs.com"],
            "title": "Head of Product",
            "company": "Fabrikam Labs",
        },
    ],
    "initech": [
        {
            "first_name": "Ruth",
            "last_name": "Bader",
            "emails": ["ruth.bader@tailspin-airlines.com"],
            "title": "Deputy General Counsel",
            "company": "Tailspin Airlines",
        },
    ],
}


def _contact(first: str, last: str, email: str, title: str, company: str, **extra: str) -> dict:
    return {
        "first_name": first,
        "last_name": last,
        "email": email,
        "title": title,
        "company": company,
        **extra,
    }


ACME_VPE = [
    _contact("Grace", "Hopper", "grace.hopper@northwind-traders.com", "CTO", "Northwind Traders"),
    _contact("Alan", "Kay", "alan.kay@northwind-traders.com", "Principal Engineer", "Northwind"),
    _contact(
        "Barbara", "Liskov", "b.liskov@adventure-works.com", "VP Engineering", "Adventure Works"
    ),
    _contact("Ken", "Thompson", "ken@wingtip-toys.com", "Director of Platform", "Wingtip Toys"),
    _contact(
        "Frances",
        "Allen",
        "frances.allen@litware.com",
        "Engineering Manager",
        "Litware",
        # Pasted with a space: accepted here, refused by Clockwork, so the demo shows a failure.
        linkedin_url="https://www.linkedin.com/in/frances allen",
    ),
]
ACME_CFO = [
    _contact("Linus", "Pauling", "l.pauling@contoso-health.com", "VP Finance", "Contoso Health"),
    _contact("Ada", "Lovelace", "ada@lovelace-analytics.com", "CFO", "Lovelace Analytics"),
    _contact("Charles", "Babbage", "cbabbage@proseware.com", "Controller", "Proseware"),
    _contact("Mary", "Somerville", "mary.s@fourth-coffee.com", "Finance Director", "Fourth Coffee"),
]
ACME_INTROS = [
    _contact("Katherine", "Johnson", "kjohnson@fabrikam-labs.com", "Head of Product", "Fabrikam"),
    _contact("Dennis", "Ritchie", "dmr@tailwind-traders.com", "Staff Engineer", "Tailwind"),
    _contact(
        "Hedy",
        "Lamarr",
        "hedy@lamarr-wireless.com",
        "Founder",
        "Lamarr Wireless",
        linkedin_url="https://www.linkedin.com/in/hedy-lamarr",
    ),
]
ACME_NEWSLETTER = [
    _contact("John", "Backus", "jbackus@margies-travel.com", "CIO", "Margie's Travel"),
    _contact("Radia", "Perlman", "radia@coho-winery.com", "Network Architect", "Coho Winery"),
]
INITECH_GC = [
    _contact("Ruth", "Bader", "ruth.bader@tailspin-airlines.com", "Deputy GC", "Tailspin Airlines"),
    _contact(
        "Thurgood", "Marshall", "t.marshall@blue-yonder.com", "General Counsel", "Blue Yonder"
    ),
    _contact("Sandra", "Day", "sandra.day@woodgrove-bank.com", "Chief Legal Officer", "Woodgrove"),
    _contact("Oliver", "Holmes", "oholmes@alpine-ski-house.com", "Legal Director", "Alpine Ski"),
    _contact("Louis", "Brandeis", "lbrandeis@relecloud.com", "Head of Legal", "Relecloud"),
    _contact("Sonia", "Sotomayor", "sonia@trey-research.com", "Associate GC", "Trey Research"),
]
GLOBEX_HOP = [
    _contact("Hank", "Scorpio", "hank@globex-corp.com", "CEO", "Globex Corporation"),
    _contact("Frank", "Grimes", "frank.grimes@springfield-power.com", "Safety Inspector", "SNPP"),
    _contact("Lenny", "Leonard", "lenny@springfield-power.com", "Technician", "SNPP"),
]
UMBRELLA = [
    _contact("Albert", "Wesker", "awesker@umbrella-pharma.com", "Research Lead", "Umbrella"),
    _contact("Jill", "Valentine", "jill@raccoon-security.com", "Security Director", "Raccoon Sec"),
]


# Synced before today and changed in Clockwork since: what a verification finds.
DRIFTED = [
    _contact("Wendy", "Shaw", "wendy.shaw@fabrikam.example", "CTO", "Fabrikam"),
    _contact("Victor", "Lane", "victor.lane@proseware.example", "VP Engineering", "Proseware"),
    _contact("Uma", "Patel", "uma.patel@lucerne.example", "Head of Platform", "Lucerne"),
]


_FIRST = ("Maya", "Jonas", "Priya", "Tomás", "Aiko", "Noah", "Leila", "Marcus", "Ingrid", "Kofi")
_LAST = ("Okafor", "Lindqvist", "Raman", "Alvarez", "Tanaka", "Fischer", "Haddad", "Reyes", "Berg")
_COMPANIES = (
    ("Northwind Traders", "northwind-traders.com"),
    ("Contoso Health", "contoso-health.com"),
    ("Fabrikam Labs", "fabrikam-labs.com"),
    ("Woodgrove Bank", "woodgrove-bank.com"),
    ("Tailspin Airlines", "tailspin-airlines.com"),
)
_TITLES = ("VP Engineering", "CFO", "Head of Product", "General Counsel", "Director of Sales")


def made_up_contact(number: int) -> dict[str, str]:
    """A plausible, deterministic made-up contact (``number`` picks it and keeps emails unique)."""
    first = _FIRST[number % len(_FIRST)]
    last = _LAST[(number // len(_FIRST)) % len(_LAST)]
    company, domain = _COMPANIES[number % len(_COMPANIES)]
    return {
        "email": f"{first.lower()}.{last.lower()}.{number}@{domain}".replace("á", "a"),
        "first_name": first,
        "last_name": last,
        "title": _TITLES[number % len(_TITLES)],
        "company": company,
    }
