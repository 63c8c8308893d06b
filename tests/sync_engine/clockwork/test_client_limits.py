"""The client's limits on what Clockwork may do to it (SPEC R9, issue 12 item 7).

A whole request has a deadline (a server that drips or hangs ends as a timeout, on a real
socket), a listing ends after a bounded number of pages, an implausible ``meta.total`` or an
answer over the size cap is refused, and an id is checked before it is stored or put into a path.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sync_engine.clockwork.client import (
    MAX_RESPONSE_BYTES,
    ClockworkClient,
    Credentials,
    _url_under,
)
from sync_engine.clockwork.contract import MAX_PAGES
from sync_engine.clockwork.errors import (
    ClockworkCancelled,
    ClockworkTimeout,
    ClockworkUnexpectedResponse,
)

PERSON_ID = "6a1f4a52-0c7e-4a43-9d55-2f1b7c2d0e01"


def credentials(base_url: str = "https://clockwork.test") -> Credentials:
    return Credentials(
        firm="acme", api_key="k", api_secret="s", firm_service_key="f", base_url=base_url
    )


def person(person_id: Any, email: str = "ada@example.com") -> dict[str, Any]:
    return {
        "id": person_id,
        "name": "Ada",
        "createdAt": "2024-01-01 00:00:00",
        "emails": [{"id": "e1", "address": email}],
    }


class Counting:
    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handler = handler
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return self.handler(request)


def client_over(handler: Callable[[httpx.Request], httpx.Response]) -> ClockworkClient:
    return ClockworkClient(credentials(), transport=httpx.MockTransport(handler))


# --- a real server that drips or hangs ----------------------------------------------------------


class DripServer:
    """A raw HTTP server on loopback that sends its answer one byte every ``interval`` seconds
    (headers included), or nothing at all with ``hang``."""

    def __init__(self, *, interval: float = 0.5, hang: bool = False) -> None:
        self.interval = interval
        self.hang = hang
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        body = b'{"people": []}'
        answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        answer += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        with conn:
            conn.recv(65536)
            for byte in answer:
                if self.hang or self.stop.wait(self.interval):
                    self.stop.wait()
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def drip() -> Iterator[DripServer]:
    server = DripServer(interval=0.3)
    yield server
    server.close()


def test_a_dripping_answer_ends_at_the_requests_overall_deadline(drip: DripServer) -> None:
    # Each byte comes well within the per-read timeout; only an overall deadline can end it.
    client = ClockworkClient(
        credentials(f"http://127.0.0.1:{drip.port}"),
        timeout=httpx.Timeout(5.0),
        deadline_seconds=1.5,
    )
    started = time.monotonic()
    with pytest.raises(ClockworkTimeout) as raised:
        client.check_credentials()
    elapsed = time.monotonic() - started
    assert not isinstance(raised.value, ClockworkCancelled)
    assert 1.4 <= elapsed < 2.5
    client.close()


def test_a_hanging_server_is_cut_at_the_callers_stop_time_as_cancelled() -> None:
    server = DripServer(hang=True)
    stop = time.monotonic() + 1.0
    client = ClockworkClient(
        credentials(f"http://127.0.0.1:{server.port}"),
        timeout=httpx.Timeout(30.0),
        stop_at=lambda: stop,
    )
    started = time.monotonic()
    with pytest.raises(ClockworkCancelled):
        client.check_credentials()
    assert time.monotonic() - started < 2.0
    with pytest.raises(ClockworkCancelled, match="not sent"):  # past the stop: nothing is sent
        client.check_credentials()
    client.close()
    server.close()


# --- paging, totals, sizes, ids -----------------------------------------------------------------


def test_a_search_claiming_a_billion_results_is_refused_at_the_first_page() -> None:
    answer = {"peopleSearch": [person(PERSON_ID, "x@example.com")], "meta": {"total": 10**9}}
    server = Counting(lambda request: httpx.Response(200, json=answer))
    with pytest.raises(ClockworkUnexpectedResponse, match=r"meta\.total"):
        client_over(server).find_people_by_email("ada@example.com")
    assert server.calls == 1


def test_a_listing_that_never_ends_stops_after_the_page_cap() -> None:
    def full_page(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        notes = [{"id": f"n{offset + i}", "content": ""} for i in range(100)]
        return httpx.Response(200, json={"notes": notes})

    server = Counting(full_page)
    with pytest.raises(ClockworkUnexpectedResponse, match=f"{MAX_PAGES} pages"):
        list(client_over(server).iter_notes(PERSON_ID))
    assert server.calls == MAX_PAGES


def test_an_answer_over_the_size_cap_is_refused() -> None:
    huge = b'{"people": [], "pad": "' + b"x" * MAX_RESPONSE_BYTES + b'"}'
    client = client_over(lambda request: httpx.Response(200, content=huge))
    with pytest.raises(ClockworkUnexpectedResponse, match="larger than"):
        client.check_credentials()


@pytest.mark.parametrize("bad_id", [None, "", "a b/c?d", "../../_admin/reset", 42])
def test_a_created_person_without_a_clockwork_id_is_refused(bad_id: Any) -> None:
    client = client_over(lambda request: httpx.Response(201, json={"person": {"id": bad_id}}))
    with pytest.raises(ClockworkUnexpectedResponse, match="no valid id"):
        client.create_person(first_name="Ada", last_name="Lovelace")


def test_search_hits_without_a_clockwork_id_are_refused() -> None:
    answer = {"peopleSearch": [person(None)], "meta": {"total": 1}}
    client = client_over(lambda request: httpx.Response(200, json=answer))
    with pytest.raises(ClockworkUnexpectedResponse, match="no valid id"):
        client.find_people_by_email("ada@example.com")


def test_server_time_is_the_date_of_the_last_answer() -> None:
    date = "Tue, 01 Dec 2026 02:00:00 GMT"
    answer = {"people": []}
    client = client_over(lambda request: httpx.Response(200, json=answer, headers={"Date": date}))
    assert client.server_time() is None
    client.check_credentials()
    server_time = client.server_time()
    assert server_time is not None and server_time.isoformat() == "2026-12-01T02:00:00+00:00"


def test_an_internationalised_domain_is_found_in_either_spelling() -> None:
    # Clockwork holds the address in its ASCII (xn--) form; the contact has it in Unicode.
    searched: list[str] = []

    def search(request: httpx.Request) -> httpx.Response:
        q = request.url.params["q"]
        searched.append(q)
        hits = [person(PERSON_ID, "User@xn--bcher-kva.de")] if "xn--" in q else []
        return httpx.Response(200, json={"peopleSearch": hits, "meta": {"total": len(hits)}})

    found = client_over(search).find_people_by_email("user@BÜCHER.de")
    assert [p["id"] for p in found] == [PERSON_ID]
    assert searched == ["user@bücher.de", "user@xn--bcher-kva.de"]


@pytest.mark.parametrize(
    ("path", "query"),
    [("/people", None), ("/people/abc-123/notes", "limit=100&offset=0"),
     ("/people_search", "q=J%C3%BCrgen+M%40x.example&limit=100&page=1")],
)  # fmt: skip
def test_a_request_url_built_without_parsing_equals_the_parsed_one(
    path: str, query: str | None
) -> None:
    base = httpx.URL("https://api.example.com:8443/v3.0/acme")
    built = _url_under(base, path, query)
    parsed = httpx.URL(f"{base}{path}" + (f"?{query}" if query else ""))
    assert (built, built.raw_path, built.host, built.port) == (
        parsed,
        parsed.raw_path,
        parsed.host,
        parsed.port,
    )
