"""How a contact is identified and matched to a Clockwork person: its email, its LinkedIn URL.

Pure functions: the one email normalisation every layer compares with (SPEC §2, R3), LinkedIn
URL normalisation (scheme, ``www.``, trailing slash, query, fragment, case) and picking the
people whose LinkedIn URLs match a contact's (SPEC B2).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import idna


def normalize_email(raw: str) -> str:
    """An email as contacts are identified (SPEC §2): trimmed, lower-cased, Unicode NFC, and an
    internationalised domain in its Unicode form (IDNA, UTS #46).

    ``user@bücher.de``, ``USER@BÜCHER.DE`` and ``user@xn--bcher-kva.de`` are one address. The
    address is not validated here; a domain IDNA refuses is only lower-cased.
    """
    text = unicodedata.normalize("NFC", raw.strip().lower())
    local, at, domain = text.rpartition("@")
    if not at or (domain.isascii() and "xn--" not in domain):
        return text  # the common case: nothing for IDNA to change
    try:
        domain = idna.decode(idna.encode(domain, uts46=True))
    except UnicodeError:  # idna.IDNAError is one: not a domain IDNA can map
        return text
    return f"{local}@{domain}"


def email_spellings(raw: str) -> tuple[str, ...]:
    """The normalised email, then, for an internationalised domain, the same address with the
    domain in ASCII (``xn--``) form: what to look for in a system that does not normalise."""
    email = normalize_email(raw)
    local, _, domain = email.rpartition("@")
    if domain.isascii():
        return (email,)
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except UnicodeError:
        return (email,)
    return (email, f"{local}@{ascii_domain}")


def normalize_linkedin_url(url: str) -> str:
    """A LinkedIn profile URL reduced to ``linkedin.com/in/<id>`` form for comparison."""
    text = url.strip().lower()
    if not text:
        return ""
    parts = urlsplit(text if "://" in text else f"https://{text}")
    host = parts.netloc.removeprefix("www.")
    host = "linkedin.com" if host.endswith(".linkedin.com") else host  # uk.linkedin.com etc.
    path = parts.path.rstrip("/")
    return f"{host}{path}"


def people_with_linkedin(people: Iterable[dict[str, Any]], url: str) -> list[dict[str, Any]]:
    """The people any of whose LinkedIn URLs is the same profile as ``url``."""
    wanted = normalize_linkedin_url(url)
    if not wanted:
        return []
    matches = []
    for person in people:
        urls = [item.get("url", "") for item in person.get("linkedinUrls") or []]
        urls.append(person.get("preferredLinkedinUrl") or "")
        if any(normalize_linkedin_url(str(u)) == wanted for u in urls if u):
            matches.append(person)
    return matches
