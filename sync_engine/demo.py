"""The demo environment: an embedded Clockwork simulator that survives restarts, and demo data.

:class:`DemoSimulator` serves the simulator on loopback for the dashboard (state loaded from and
saved to ``settings.simulator_state_file``, so Clockwork person ids outlive the process and match
the store). :func:`seed_demo` fills an empty store with demo accounts, sequences, contacts and
activity, seeding the simulator first with people a recruiter "already entered", so the
*Exists in Clockwork* flag shows up. :class:`SimulatorAdmin` talks to the simulator's ``/_admin``
surface (firms, seeded people, faults, revoked keys) and works against a separately started
``cwsync simulator`` too.

Demo mode has no login and seeds and resets data, so it keeps to demo stores:
:func:`claim_demo_store` opens only a store demo mode created (recorded in ``store_meta`` when it
was made) or an empty one, which it then marks; :func:`wipe_store` checks the mark again in the
transaction that deletes. A demo store holding credentials for anything but a simulator on this
machine is refused too (:func:`demo_refusal`).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from sqlmodel import SQLModel, col, select

from clockwork_simulator import (
    DEMO_API_KEY,
    DEMO_API_SECRET,
    DEMO_FIRM,
    DEMO_FIRM_SERVICE_KEY,
    FaultConfig,
    SimulatorServer,
    SimulatorState,
)
from sync_engine import store_meta
from sync_engine.config import Settings
from sync_engine.models import (
    Account,
    ActivityKind,
    ClockworkConnection,
    ConnectionState,
    Contact,
    EnrollmentStatus,
    LinkKind,
    StoreMeta,
    table_of,
)
from sync_engine.runtime import Runtime
from sync_engine.services import accounts, enrollments
from sync_engine.services.errors import ServiceError

logger = logging.getLogger(__name__)

DEMO_ACTOR = "demo"
SAVE_EVERY_SECONDS = 15.0


# --- the simulator's admin surface ----------------------------------------------------------


class SimulatorAdmin:
    """A small client for the simulator's ``/_admin`` routes (not the Clockwork contract)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=f"{base_url.rstrip('/')}/_admin", timeout=timeout)

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def __enter__(self) -> SimulatorAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"simulator admin {method} {path}: {response.text[:200]}")
        return response.json() if response.content else None

    def firms(self) -> list[str]:
        """Registered firm names."""
        return list(self._call("GET", "/firms")["firms"])

    def add_firm(self, name: str, *, api_key: str, api_secret: str, firm_service_key: str) -> None:
        """Register a firm (with the simulator's seeded projects)."""
        body = {
            "name": name,
            "api_key": api_key,
            "api_secret": api_secret,
            "firm_service_key": firm_service_key,
        }
        self._call("POST", "/firms", body)

    def ensure_user(self, firm: str, *, api_key: str, api_secret: str) -> None:
        """Give the firm this user's key pair unless it already has it."""
        users = self._call("GET", f"/firms/{firm}/state")["users"]
        if not any(user["apiKey"] == api_key for user in users):
            body = {"api_key": api_key, "api_secret": api_secret}
            self._call("POST", f"/firms/{firm}/users", body)

    def projects(self, firm: str) -> list[dict[str, Any]]:
        """The firm's projects as the API shows them."""
        return list(self._call("GET", f"/firms/{firm}/state")["projects"])

    def seed_person(self, firm: str, **person: Any) -> dict[str, Any]:
        """Create a person as a recruiter would have; returns its payload."""
        return dict(self._call("POST", f"/firms/{firm}/people", person)["person"])

    def reset(self) -> None:
        """Forget every firm and record."""
        self._call("POST", "/reset", {"keep_firms": False})

    def faults(self) -> FaultConfig:
        """The faults in force."""
        return FaultConfig.model_validate(self._call("GET", "/faults"))

    def set_faults(self, config: FaultConfig) -> None:
        """Inject ``config`` from now on."""
        self._call("PUT", "/faults", config.model_dump(mode="json"))

    def revoke_key(self, key: str) -> None:
        """Reject an API key or firm service key (401) from now on."""
        self._call("POST", "/keys/revoke", {"key": key})

    def restore_key(self, key: str) -> None:
        """Accept a revoked key again."""
        self._call("POST", "/keys/restore", {"key": key})

    def delete_person(self, firm: str, person_id: str) -> None:
        """Delete a person in Clockwork, with their candidacies and notes (drift)."""
        self._call("DELETE", f"/firms/{firm}/people/{person_id}")

    def merge_person(self, firm: str, person_id: str, *, into: str) -> dict[str, Any]:
        """Merge a person into another (drift); the old id then answers with the survivor."""
        return dict(self._call("POST", f"/firms/{firm}/people/{person_id}/merge", {"into": into}))

    def remove_candidacy(self, firm: str, project_id: str, person_id: str) -> None:
        """Take a person out of a project (drift)."""
        self._call("DELETE", f"/firms/{firm}/projects/{project_id}/candidacies/{person_id}")

    def delete_note(self, firm: str, note_id: str) -> None:
        """Delete one note (drift)."""
        self._call("DELETE", f"/firms/{firm}/notes/{note_id}")

    def state(self, firm: str) -> dict[str, Any]:
        """Everything the firm holds (people, candidacies, notes)."""
        return dict(self._call("GET", f"/firms/{firm}/state"))

    def revoked(self, firm: str) -> bool:
        """Whether any key of the firm is revoked."""
        state = self._call("GET", f"/firms/{firm}/state")
        return bool(state["firmServiceKeyRevoked"] or any(u["revoked"] for u in state["users"]))


# --- the embedded simulator -----------------------------------------------------------------


class DemoSimulator:
    """The simulator the dashboard embeds: loopback, settings' latency, state kept on disk.

    The port of the previous run is reused when free (stored next to the state file), so stored
    connections keep pointing at it; :func:`repoint_demo_connections` fixes them when it is not.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._state_file = Path(settings.simulator_state_file)
        self._port_file = self._state_file.with_suffix(".port")
        self.state = SimulatorState()
        self._server: SimulatorServer | None = None
        self._stop = threading.Event()
        self._saver: threading.Thread | None = None
        self._save_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """Root URL of the running simulator (what a connection's base URL is set to)."""
        assert self._server is not None, "the demo simulator is not started"
        return self._server.base_url

    @property
    def server(self) -> SimulatorServer:
        """The running server (faults can be changed on it directly)."""
        assert self._server is not None, "the demo simulator is not started"
        return self._server

    def start(self) -> DemoSimulator:
        """Load the saved state, serve it, and start saving it periodically."""
        if self._state_file.exists():
            try:
                self.state.load(self._state_file)
            except (ValueError, KeyError, OSError) as exc:
                logger.warning("ignoring unreadable simulator state %s: %s", self._state_file, exc)
        faults = FaultConfig(latency_ms=self._settings.simulator_latency_ms)
        host = self._settings.simulator_host
        for port in dict.fromkeys((self._preferred_port(), 0)):
            server = SimulatorServer(self.state, host=host, port=port, faults=faults)
            try:
                server.start()
            except OSError:
                continue
            self._server = server
            break
        else:  # pragma: no cover - port 0 always binds
            raise RuntimeError("the demo simulator could not bind a port")
        self._port_file.parent.mkdir(parents=True, exist_ok=True)
        self._port_file.write_text(str(self.server.port))
        self._saver = threading.Thread(target=self._save_loop, name="simulator-saver", daemon=True)
        self._saver.start()
        return self

    def _preferred_port(self) -> int:
        if self._settings.simulator_port:
            return self._settings.simulator_port
        try:
            return int(self._port_file.read_text().strip())
        except (OSError, ValueError):
            return 0

    def _save_loop(self) -> None:
        while not self._stop.wait(SAVE_EVERY_SECONDS):
            self.save()

    def save(self) -> None:
        """Write the simulator's state to the state file now."""
        with self._save_lock:
            try:
                self.state.save(self._state_file)
            except OSError as exc:
                logger.warning("could not save simulator state: %s", exc)

    def stop(self) -> None:
        """Save the state and stop serving (idempotent)."""
        self._stop.set()
        if self._server is not None:
            self.save()
            self._server.stop()
            self._server = None


def repoint_demo_connections(runtime: Runtime, base_url: str) -> int:
    """Point connections to an earlier embedded simulator (a loopback URL) at ``base_url``.

    Reconnects through :func:`accounts.connect` (verified, audited) with the stored credentials;
    returns how many connections moved. Connections to anything else are left alone.
    """
    with runtime.db.read() as session:
        rows = session.exec(
            select(ClockworkConnection).where(
                ClockworkConnection.state != ConnectionState.DISCONNECTED
            )
        ).all()
        stale = [
            row.account_id
            for row in rows
            if row.base_url != base_url and row.base_url.startswith(("http://127.", "http://[::1]"))
        ]
    moved = 0
    for account_id in stale:
        try:
            reconnect(runtime, account_id=account_id, base_url=base_url)
        except ServiceError as exc:
            logger.warning("demo account %s not re-pointed: %s", account_id, exc)
            continue
        moved += 1
    return moved


# --- the guard: demo mode keeps to demo stores -----------------------------------------------


class DemoStoreError(ServiceError):
    """Demo mode met a store it must not open, seed or reset; the message says what to do."""


def _not_a_demo_store(refusal: str) -> str:
    return (
        f"Demo mode {refusal} this store: it was not created as a demo store, and demo mode has "
        "no login and seeds and resets data. Set CWSYNC_DEMO=false and configure a login to use "
        "this store, or point CWSYNC_DATA_DIR (or CWSYNC_DATABASE_URL) at a separate store for "
        "demos."
    )


def claim_demo_store(runtime: Runtime) -> None:
    """Let demo mode use this store: a demo store passes, an empty one is marked a demo store
    (in the same transaction that finds it empty), anything else is a :class:`DemoStoreError`.
    A demo store holding credentials for a real Clockwork is refused too."""
    with runtime.db.write() as session:
        if not runtime.db.is_sqlite:  # no account may appear between the check and the mark
            session.execute(sa.text("LOCK TABLE account IN SHARE MODE"))
        if not store_meta.is_demo_store(session=session):
            if session.exec(select(Account.id).limit(1)).first() is not None:
                raise DemoStoreError(_not_a_demo_store("refuses to open"))
            store_meta.set_meta(
                session=session, key=store_meta.KIND, value=store_meta.DEMO, at=runtime.clock()
            )
    problem = demo_refusal(stored_connections(runtime))
    if problem:
        raise DemoStoreError(problem)


def is_simulator_url(base_url: str, *, simulator_host: str = "127.0.0.1") -> bool:
    """Whether a connection's base URL is a simulator on this machine: a loopback address, or the
    configured simulator host when that is a local address too (``0.0.0.0``); never a name or
    an address elsewhere, whatever ``CWSYNC_SIMULATOR_HOST`` says."""
    try:
        parts = urlsplit(base_url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:  # e.g. an unclosed [IPv6 bracket
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost" or _is_loopback(host):
        return True
    local = simulator_host.strip().lower()
    return host == local and (_is_loopback(local) or _is_unspecified(local))


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


@dataclass(frozen=True)
class StoredConnection:
    """A connection that holds credentials: its account's name and where it points."""

    account: str
    base_url: str


def demo_refusal(connections: Iterable[StoredConnection]) -> str | None:
    """Why demo mode must not start on a store holding these connections, or None when all of
    them point at a loopback simulator. Demo mode has no login and seeds and resets data."""
    real = [c for c in connections if not is_simulator_url(c.base_url)]
    if not real:
        return None
    named = ", ".join(f"{c.account} ({c.base_url})" for c in real[:3])
    if len(real) > 3:
        named += f" and {len(real) - 3} more"
    return (
        "Demo mode refuses to start: this store holds credentials for a real Clockwork firm "
        f"({named}). The demo needs no login and seeds and resets data. Set CWSYNC_DEMO=false and "
        "configure a login to use this store, or point CWSYNC_DATABASE_URL at a separate store "
        "for demos."
    )


def demo_connection_problem(base_url: str, *, simulator_host: str = "127.0.0.1") -> str | None:
    """Why demo mode will not connect to ``base_url`` (a real Clockwork), or None when it is a
    simulator on this machine."""
    if is_simulator_url(base_url, simulator_host=simulator_host):
        return None
    return (
        f"Demo mode connects only to a Clockwork simulator on this machine, not to {base_url}: "
        "a demo needs no login and seeds and resets data. Run the dashboard with "
        "CWSYNC_DEMO=false and a login to connect a real firm."
    )


def stored_connections(runtime: Runtime) -> list[StoredConnection]:
    """The store's connections that hold credentials (every state but disconnected)."""
    with runtime.db.read() as session:
        rows = session.exec(
            select(Account.name, ClockworkConnection.base_url)
            .join(Account, col(Account.id) == ClockworkConnection.account_id)
            .where(ClockworkConnection.state != ConnectionState.DISCONNECTED)
        ).all()
    return [StoredConnection(account=name, base_url=url) for name, url in rows]


# --- demo data ------------------------------------------------------------------------------


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
_EXISTING_PEOPLE: dict[str, list[dict[str, Any]]] = {
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


_ACME_VPE = [
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
_ACME_CFO = [
    _contact("Linus", "Pauling", "l.pauling@contoso-health.com", "VP Finance", "Contoso Health"),
    _contact("Ada", "Lovelace", "ada@lovelace-analytics.com", "CFO", "Lovelace Analytics"),
    _contact("Charles", "Babbage", "cbabbage@proseware.com", "Controller", "Proseware"),
    _contact("Mary", "Somerville", "mary.s@fourth-coffee.com", "Finance Director", "Fourth Coffee"),
]
_ACME_INTROS = [
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
_ACME_NEWSLETTER = [
    _contact("John", "Backus", "jbackus@margies-travel.com", "CIO", "Margie's Travel"),
    _contact("Radia", "Perlman", "radia@coho-winery.com", "Network Architect", "Coho Winery"),
]
_INITECH_GC = [
    _contact("Ruth", "Bader", "ruth.bader@tailspin-airlines.com", "Deputy GC", "Tailspin Airlines"),
    _contact(
        "Thurgood", "Marshall", "t.marshall@blue-yonder.com", "General Counsel", "Blue Yonder"
    ),
    _contact("Sandra", "Day", "sandra.day@woodgrove-bank.com", "Chief Legal Officer", "Woodgrove"),
    _contact("Oliver", "Holmes", "oholmes@alpine-ski-house.com", "Legal Director", "Alpine Ski"),
    _contact("Louis", "Brandeis", "lbrandeis@relecloud.com", "Head of Legal", "Relecloud"),
    _contact("Sonia", "Sotomayor", "sonia@trey-research.com", "Associate GC", "Trey Research"),
]
_GLOBEX_HOP = [
    _contact("Hank", "Scorpio", "hank@globex-corp.com", "CEO", "Globex Corporation"),
    _contact("Frank", "Grimes", "frank.grimes@springfield-power.com", "Safety Inspector", "SNPP"),
    _contact("Lenny", "Leonard", "lenny@springfield-power.com", "Technician", "SNPP"),
]
_UMBRELLA = [
    _contact("Albert", "Wesker", "awesker@umbrella-pharma.com", "Research Lead", "Umbrella"),
    _contact("Jill", "Valentine", "jill@raccoon-security.com", "Security Director", "Raccoon Sec"),
]


@dataclass
class DemoReport:
    """What :func:`seed_demo` did: whether it seeded, and the demo accounts by name."""

    seeded: bool
    accounts: dict[str, int] = field(default_factory=dict)
    enrollments: int = 0


def store_is_empty(runtime: Runtime) -> bool:
    """Whether the store holds no account yet (a fresh machine)."""
    with runtime.db.read() as session:
        return session.exec(select(Account.id).limit(1)).first() is None


def seed_demo(runtime: Runtime, simulator_base_url: str, *, reset: bool = False) -> DemoReport:
    """Seed demo accounts into an empty store, and their firms and existing people into the
    simulator at ``simulator_base_url``; does nothing when the store already has accounts.

    Only a demo store or an empty one (marked a demo store here) is seeded: anything else is a
    :class:`DemoStoreError`. With ``reset`` the store (checked again as it is wiped) and the
    simulator are wiped first. Credentials go through :func:`accounts.connect` (verified against
    the simulator, encrypted at rest).
    """
    claim_demo_store(runtime)
    if reset:
        wipe_store(runtime)
        with SimulatorAdmin(simulator_base_url) as admin:
            admin.reset()
    if not store_is_empty(runtime):
        return DemoReport(seeded=False)
    with SimulatorAdmin(simulator_base_url) as admin:
        projects = _seed_simulator(admin)
    report = DemoReport(seeded=True)
    builder = _DemoBuilder(runtime, simulator_base_url, report)
    vpe, cfo = projects["demo"]["VP Engineering"], projects["demo"]["Chief Financial Officer"]

    acme = builder.account("Acme Talent", firm="demo")
    seq_vpe = builder.sequence(acme, "VP Engineering — Northwind", project_id=vpe)
    seq_cfo = builder.sequence(acme, "CFO — Contoso Health", project_id=cfo)
    seq_intros = builder.sequence(acme, "Warm intros")
    seq_news = builder.sequence(acme, "Quarterly newsletter", disable_sync=True)
    acme_ids = builder.enroll(seq_vpe, _ACME_VPE) + builder.enroll(seq_cfo, _ACME_CFO)
    acme_ids += builder.enroll(seq_intros, _ACME_INTROS)
    builder.enroll(seq_news, _ACME_NEWSLETTER)
    for enrollment_id in acme_ids[:6]:
        builder.event(enrollment_id, ActivityKind.SENT, "Quick intro")
    builder.event(acme_ids[1], ActivityKind.OPENED, "Quick intro")
    builder.event(acme_ids[2], ActivityKind.CLICKED, "Quick intro")
    builder.event(acme_ids[5], ActivityKind.REPLIED, "Re: Quick intro")

    initech = builder.account(
        "Initech Partners", firm="initech", sync_mode="on_reply", activity_tracking=True
    )
    gc = projects["initech"]["General Counsel"]
    seq_gc = builder.sequence(initech, "General Counsel — Tailspin", project_id=gc)
    initech_ids = builder.enroll(seq_gc, _INITECH_GC)
    for enrollment_id in initech_ids:
        builder.event(enrollment_id, ActivityKind.SENT, "A confidential GC search")
    for enrollment_id in initech_ids[:3]:
        builder.event(enrollment_id, ActivityKind.REPLIED, "Re: GC search")

    globex = builder.account("Globex Search", firm="globex", rotated=True)
    builder.enroll(builder.sequence(globex, "Head of Operations"), _GLOBEX_HOP)
    rotated = DEMO_FIRMS["globex"].rotated_from
    assert rotated is not None
    with SimulatorAdmin(simulator_base_url) as admin:
        # The customer rotated their key in Clockwork: the next sync gets 401 (needs attention);
        # reconnecting with the new key (the connect form's hint) heals it.
        admin.revoke_key(rotated[0])

    umbrella = builder.account("Umbrella Recruiting", firm=None)
    builder.enroll(builder.sequence(umbrella, "Research Lead"), _UMBRELLA)

    placed = builder.sequence(acme, "Placed last quarter", project_id=vpe)
    with SimulatorAdmin(simulator_base_url) as admin:
        seed_drift(runtime, admin, firm=DEMO_FIRMS["demo"].name, sequence_id=placed)
    report.enrollments += len(_DRIFTED)
    return report


# Synced before today and changed in Clockwork since: what a verification finds (issue 16).
_DRIFTED = [
    _contact("Wendy", "Shaw", "wendy.shaw@fabrikam.example", "CTO", "Fabrikam"),
    _contact("Victor", "Lane", "victor.lane@proseware.example", "VP Engineering", "Proseware"),
    _contact("Uma", "Patel", "uma.patel@lucerne.example", "Head of Platform", "Lucerne"),
]


def seed_drift(runtime: Runtime, admin: SimulatorAdmin, *, firm: str, sequence_id: int) -> None:
    """Three contacts the store says were synced into the sequence's project, each since changed
    in Clockwork behind the sync's back: the first person deleted, the second never (or no
    longer) in the project, the third merged into a duplicate."""
    people = [
        admin.seed_person(
            firm, first_name=c["first_name"], last_name=c["last_name"], emails=[c["email"]]
        )
        for c in _DRIFTED
    ]
    now = runtime.clock()
    with runtime.db.write() as session:
        for fields, person in zip(_DRIFTED, people, strict=True):
            enrollment = enrollments.add_contact(
                session=session, sequence_id=sequence_id,
                contact=enrollments.parse_contact(fields), clock=runtime.clock,
            )  # fmt: skip
            contact = session.get(Contact, enrollment.contact_id)
            assert contact is not None
            # Created by us when they synced (so not "already in Clockwork"), every step done.
            contact.clockwork_person_id, contact.person_created_by_us = person["id"], True
            contact.person_created_by_enrollment_id = enrollment.id
            contact.email_attached = contact.position_attached = contact.linkedin_attached = True
            enrollment.status, enrollment.reason = EnrollmentStatus.SYNCED, None
            enrollment.next_attempt_at, enrollment.synced_at = None, now
            enrollment.clockwork_person_id, enrollment.candidacy_done = person["id"], True
            enrollment.exists_in_clockwork, enrollment.link = False, LinkKind.CREATED
            session.add_all([contact, enrollment])
    admin.delete_person(firm, people[0]["id"])
    duplicate = admin.seed_person(firm, first_name="Uma", last_name="Patel-Reyes")
    admin.merge_person(firm, people[2]["id"], into=duplicate["id"])


def _seed_simulator(admin: SimulatorAdmin) -> dict[str, dict[str, str]]:
    """Register the demo firms and their existing people; project ids by firm and name prefix."""
    known = set(admin.firms())
    projects: dict[str, dict[str, str]] = {}
    for key, firm in DEMO_FIRMS.items():
        if firm.name not in known:
            admin.add_firm(
                firm.name,
                api_key=firm.api_key,
                api_secret=firm.api_secret,
                firm_service_key=firm.firm_service_key,
            )
            for person in _EXISTING_PEOPLE.get(key, []):
                admin.seed_person(firm.name, **person)
        if firm.rotated_from is not None:  # a state saved before the rotation lacks a pair
            for api_key, api_secret in (firm.keys, firm.rotated_from):
                admin.ensure_user(firm.name, api_key=api_key, api_secret=api_secret)
        projects[key] = {
            project["name"].split(" — ")[0]: project["id"] for project in admin.projects(firm.name)
        }
    return projects


class _DemoBuilder:
    """Creates demo records through the service layer, one short transaction each."""

    def __init__(self, runtime: Runtime, base_url: str, report: DemoReport) -> None:
        self.runtime, self.base_url, self.report = runtime, base_url, report

    def account(
        self, name: str, *, firm: str | None, rotated: bool = False, **settings: Any
    ) -> int:
        """Create an account (connected to a demo firm unless ``firm`` is None, with the key
        the firm rotated away from when ``rotated``); its id."""
        rt = self.runtime
        with rt.db.write() as session:
            account = accounts.create_account(
                session=session, name=name, clock=rt.clock, actor=DEMO_ACTOR
            )
            assert account.id is not None
            account_id = account.id
            if settings:
                accounts.update_settings(
                    session=session,
                    account_id=account_id,
                    changes=settings,
                    clock=rt.clock,
                    actor=DEMO_ACTOR,
                )
        if firm is not None:
            fields = DEMO_FIRMS[firm].fields(self.base_url, rotated=rotated)
            accounts.connect(rt, account_id=account_id, fields=fields, actor=DEMO_ACTOR)
        self.report.accounts[name] = account_id
        return account_id

    def sequence(self, account_id: int, name: str, **fields: Any) -> int:
        """Create a sequence; its id."""
        rt = self.runtime
        with rt.db.write() as session:
            sequence = accounts.add_sequence(
                session=session,
                account_id=account_id,
                name=name,
                clock=rt.clock,
                actor=DEMO_ACTOR,
                **fields,
            )
        assert sequence.id is not None
        return sequence.id

    def enroll(self, sequence_id: int, contacts: list[dict[str, str]]) -> list[int]:
        """Add contacts to a sequence (the add trigger); their enrollment ids."""
        ids = []
        with self.runtime.db.write() as session:
            for fields in contacts:
                enrollment = enrollments.add_contact(
                    session=session,
                    sequence_id=sequence_id,
                    contact=enrollments.parse_contact(fields),
                    clock=self.runtime.clock,
                )
                assert enrollment.id is not None
                ids.append(enrollment.id)
        self.report.enrollments += len(ids)
        return ids

    def event(self, enrollment_id: int, kind: ActivityKind, subject: str) -> None:
        """Record an email event now."""
        rt = self.runtime
        # Events happen now: R5 sends nothing from before the connection existed.
        with rt.db.write() as session:
            enrollments.record_event(
                session=session,
                enrollment_id=enrollment_id,
                kind=kind,
                at=None,
                subject=subject,
                clock=rt.clock,
            )


def wipe_store(runtime: Runtime) -> None:
    """Delete every row of every table (children first) of a demo store, in the transaction that
    checks it is one (:class:`DemoStoreError` otherwise); the schema and the store's own facts
    (``store_meta``) stay."""
    keep = table_of(StoreMeta)
    with runtime.db.write() as session:
        if not runtime.db.is_sqlite:
            session.execute(sa.text("LOCK TABLE store_meta IN SHARE MODE"))
        if not store_meta.is_demo_store(session=session):
            raise DemoStoreError(_not_a_demo_store("will not reset"))
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table is not keep:
                session.execute(sa.delete(table))


# --- live demo helpers (the dashboard's Demo controls) --------------------------------------

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


def put_person_in_clockwork(
    runtime: Runtime, simulator_base_url: str, *, account_id: int, contact: dict[str, str]
) -> str:
    """Create the contact as a person in the account's simulator firm, as a recruiter would have
    before the integration, so syncing it flags *Exists in Clockwork*; returns the person id."""
    with runtime.db.read() as session:
        connection = accounts.get_connection(session=session, account_id=account_id)
    if connection is None:
        raise ServiceError("connect the account to the demo Clockwork first")
    with SimulatorAdmin(simulator_base_url) as admin:
        person = admin.seed_person(
            connection.firm,
            first_name=contact.get("first_name", ""),
            last_name=contact.get("last_name", ""),
            emails=[contact["email"]],
            title=contact.get("title") or None,
            company=contact.get("company") or None,
        )
    return str(person["id"])


def reconnect(runtime: Runtime, *, account_id: int, base_url: str | None = None) -> None:
    """Connect again with the stored credentials (demo only: after restoring a revoked key, or
    when the embedded simulator moved); verified and audited like any connect."""
    with runtime.db.read() as session:
        credentials = accounts.connection_credentials(
            session=session, box=runtime.box, account_id=account_id
        )
    if credentials is None:
        raise ServiceError("the account has no stored credentials to reconnect with")
    fields = {
        "firm": credentials.firm,
        "api_key": credentials.api_key,
        "api_secret": credentials.api_secret,
        "firm_service_key": credentials.firm_service_key,
        "base_url": base_url or credentials.base_url,
    }
    accounts.connect(runtime, account_id=account_id, fields=fields, actor=DEMO_ACTOR)


def set_account_key_revoked(
    runtime: Runtime, simulator_base_url: str, *, account_id: int, revoked: bool
) -> None:
    """Revoke (or restore) the account's API key in the simulator, as if the customer rotated it
    in Clockwork: the next sync gets 401 and the connection needs attention."""
    with runtime.db.read() as session:
        credentials = accounts.connection_credentials(
            session=session, box=runtime.box, account_id=account_id
        )
    if credentials is None:
        raise ServiceError("the account is not connected")
    with SimulatorAdmin(simulator_base_url) as admin:
        if revoked:
            admin.revoke_key(credentials.api_key)
        else:
            admin.restore_key(credentials.api_key)
