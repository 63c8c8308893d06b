"""``/docs``: the ingest API's reference as one self-contained HTML page, drawn from its OpenAPI
document on the server.

FastAPI's Swagger UI page loads its script and styles from a CDN, so it is blank on a machine
without internet access. Swagger UI and ReDoc could be vendored (both are permissively licensed)
but each is a bundle of about a megabyte of third-party script to keep patched, for a page that
only has to list a dozen routes; this page needs no script and no network, and every text from
the document is escaped. ``/openapi.json`` stays for tools (Postman, Insomnia, code generators).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

# No script, nothing fetched: the page's own inline styles only.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"

_METHODS = ("get", "put", "post", "patch", "delete")
_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
.route { border: 1px solid #ddd; border-radius: 6px; margin: 1em 0; padding: 0.6em 1em; }
.method { font-weight: bold; text-transform: uppercase; margin-right: 0.6em; }
code, pre { background: #f5f5f5; border-radius: 4px; padding: 0.1em 0.3em; }
pre { padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
table { border-collapse: collapse; } td { padding: 0.15em 0.8em 0.15em 0; vertical-align: top; }
"""


def render(document: dict[str, Any]) -> str:
    """The reference page of an OpenAPI document."""
    info = document.get("info", {})
    title = escape(str(info.get("title", "API")))
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title} <small>{escape(str(info.get('version', '')))}</small></h1>",
        f"<p>{escape(str(info.get('description', '')))}</p>",
        '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI '
        f"{escape(str(document.get('openapi', '')))}).</p>",
        "<h2>Routes</h2>",
    ]
    for path, operations in document.get("paths", {}).items():
        for method in _METHODS:
            if method in operations:
                parts.append(_operation(method, path, operations[method]))
    schemas = document.get("components", {}).get("schemas", {})
    if schemas:
        parts.append("<h2>Schemas</h2>")
        for name, schema in schemas.items():
            parts.append(
                f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>'
                f"<pre>{escape(json.dumps(schema, indent=2))}</pre>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def _operation(method: str, path: str, operation: dict[str, Any]) -> str:
    rows = [
        f'<div class="route"><p><span class="method">{escape(method)}</span>'
        f"<code>{escape(path)}</code></p>",
        f"<p>{escape(str(operation.get('summary', '')))}</p>",
    ]
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    reference = body.get("schema", {}).get("$ref", "")
    if reference:
        name = reference.rsplit("/", 1)[-1]
        rows.append(f'<p>Body: <a href="#schema-{escape(name)}">{escape(name)}</a></p>')
    elif body:
        rows.append("<p>Body: a JSON object</p>")
    answers = operation.get("responses", {})
    if answers:
        rows.append("<table>")
        for status, answer in sorted(answers.items()):
            rows.append(
                f"<tr><td><code>{escape(str(status))}</code></td>"
                f"<td>{escape(str(answer.get('description', '')))}</td></tr>"
            )
        rows.append("</table>")
    rows.append("</div>")
    return "\n".join(rows)
