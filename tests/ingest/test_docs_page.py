"""``/docs`` works offline: one page, no script, nothing fetched from another host, every route
of the OpenAPI document listed, the document's text escaped."""

from __future__ import annotations

import re

import httpx

from sync_engine.ingest import docs_page
from tests.ingest.conftest import Api


def test_the_docs_page_needs_no_network_and_lists_every_route(sqlite_api: Api) -> None:
    answer = httpx.get(f"{sqlite_api.base_url}/docs")
    document = httpx.get(f"{sqlite_api.base_url}/openapi.json").json()

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.IGNORECASE)
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert 'href="/openapi.json"' in page
    for path, operations in document["paths"].items():
        assert f"<code>{path}</code>" in page
        for operation in operations.values():
            assert operation["summary"].replace("'", "&#x27;") in page
    assert '<a href="#schema-EventIn">EventIn</a>' in page


def test_the_docs_page_escapes_the_documents_text() -> None:
    page = docs_page.render(
        {
            "info": {"title": "<script>alert(1)</script>", "description": "a & b"},
            "paths": {"/x/<b>": {"get": {"summary": "<img src=x>", "responses": {}}}},
        }
    )
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page and "a &amp; b" in page
