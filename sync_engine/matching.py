"""How a contact is matched to a Clockwork person beyond its email (SPEC B2): LinkedIn URLs.

Pure functions: URL normalisation (scheme, ``www.``, trailing slash, query, fragment, case) and
picking the people whose LinkedIn URLs match a contact's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit


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
