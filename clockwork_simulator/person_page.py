"""The simulator's read-only person page (``GET /people/{firm}/{person_id}``, outside ``/v3.0``):
what "Open the person in Clockwork" shows in a demo, where there is no Clockwork web app.

Everything on it comes from the firm's data — names, emails, titles, note bodies — so every
value is escaped, note bodies are reduced to their text first, and the page is served with a
Content-Security-Policy that allows no script, no frame and nothing fetched from elsewhere.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser
from typing import Any

__all__ = ["CONTENT_SECURITY_POLICY", "PERSON_PAGE_PATH", "not_found_page", "person_page"]

PERSON_PAGE_PATH = "/people/{firm}/{person_id}"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

_STYLE = """
body { font-family: system-ui, sans-serif; color: #1d2433; margin: 2rem auto; max-width: 46rem;
       padding: 0 1rem; line-height: 1.45; }
header p { color: #5b6478; margin: 0.2rem 0 0; }
h1 { margin: 0; font-size: 1.6rem; }
h2 { font-size: 1.05rem; margin: 1.6rem 0 0.4rem; border-bottom: 1px solid #e3e7f0; }
ul { padding-left: 1.2rem; margin: 0; }
.note { border: 1px solid #e3e7f0; border-radius: 6px; padding: 0.5rem 0.8rem; margin: 0.5rem 0;
        white-space: pre-wrap; }
.meta { color: #5b6478; font-size: 0.85rem; }
.badge { display: inline-block; background: #f4f6fb; border-radius: 4px; padding: 0 0.4rem;
         font-size: 0.8rem; color: #5b6478; }
"""


class _Text(HTMLParser):
    """The text of an HTML fragment (a note body), tags dropped, block ends as line breaks."""

    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")


def _note_text(content: str) -> str:
    parser = _Text()
    parser.feed(content)
    parser.close()
    lines = "".join(parser.parts).splitlines()
    return "\n".join(line.strip() for line in lines if line.strip())


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _items(values: list[str], empty: str) -> str:
    if not values:
        return f'<p class="meta">{escape(empty)}</p>'
    return "<ul>" + "".join(f"<li>{value}</li>" for value in values) + "</ul>"


def person_page(firm: str, person: dict[str, Any]) -> str:
    """The HTML page of ``person`` (`SimulatorState.person_record`) in ``firm``."""
    name = str(person.get("name") or "(no name)")
    positions = [
        escape(" at ".join(str(part) for part in (p.get("title"), p.get("companyName")) if part))
        + (f' <span class="badge">{escape(str(p["type"]))}</span>' if p.get("type") else "")
        for p in person.get("positions") or []
    ]
    emails = [
        escape(str(e["address"]))
        + (' <span class="badge">preferred</span>'
           if e["address"] == person.get("preferredEmailAddress") else "")
        for e in person.get("emails") or []
    ]  # fmt: skip
    linkedin = [escape(str(u["url"])) for u in person.get("linkedinUrls") or []]
    projects = [
        f"{escape(str(p['name']))} "
        f'<span class="badge">{escape(str(p["status"]))}</span> '
        f'<span class="meta">since {escape(str(p["createdAt"]))} UTC</span>'
        for p in person.get("projects") or []
    ]
    notes = "".join(
        f'<div class="note"><div class="meta">{escape(str(n.get("category") or "Note"))} · '
        f"{escape(str(n['createdAt']))} UTC</div>{escape(_note_text(str(n['content'])))}</div>"
        for n in person.get("notes") or []
    )
    body = (
        f"<header><h1>{escape(name)}</h1>"
        f"<p>Clockwork simulator · firm {escape(firm)} · read-only · person "
        f"{escape(str(person['id']))} · created {escape(str(person['createdAt']))} UTC</p>"
        "</header>"
        f"<h2>Positions</h2>{_items(positions, 'No position')}"
        f"<h2>Email addresses</h2>{_items(emails, 'No email address')}"
        f"<h2>LinkedIn</h2>{_items(linkedin, 'No LinkedIn URL')}"
        f"<h2>Projects</h2>{_items(projects, 'In no project')}"
        f"<h2>Notes</h2>{notes or _items([], 'No notes')}"
    )
    return _document(f"{name} — Clockwork simulator", body)


def not_found_page(message: str) -> str:
    """The page for an unknown firm or person."""
    return _document(
        "Not found — Clockwork simulator",
        f"<h1>Not found</h1><p>{escape(message)}</p>"
        '<p class="meta">Clockwork simulator · read-only person page</p>',
    )
