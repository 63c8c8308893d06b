"""The demo: an application of the engine, as the dashboard and the CLI run it in demo mode.

- :mod:`~sync_engine.demo.embedded`: the simulator the dashboard embeds (a thread on loopback,
  its state and port kept across restarts) and re-pointing connections when its port moved.
- :mod:`~sync_engine.demo.guard`: demo mode keeps to demo stores and simulator connections.
- :mod:`~sync_engine.demo.data` and :mod:`~sync_engine.demo.seed`: the demo's firms, people and
  contacts, seeded through the service layer.
- :mod:`~sync_engine.demo.controls`: what the Demo controls page does, called like a service.
- :mod:`~sync_engine.demo.ingest`: the demo's client of the ingest API (the real path).
- :mod:`~sync_engine.demo.admin`: the client of the simulator's ``/_admin`` routes.

The demo reaches the store through the services (no SQL here; the one exception is
:func:`~sync_engine.demo.seed.seed_drift`, which sets three enrollments' rows to "synced
earlier") and never sees a stored secret in clear. Nothing below the application layer imports
it (``pyproject.toml`` contracts).
"""

from clockwork_simulator import FaultConfig
from sync_engine.demo.admin import SimulatorAdmin, SimulatorAdminError
from sync_engine.demo.controls import Added, DemoControls
from sync_engine.demo.data import DEMO_ACTOR, DEMO_FIRMS, DemoFirm, demo_firm_hint, made_up_contact
from sync_engine.demo.embedded import DemoSimulator, repoint_demo_connections
from sync_engine.demo.guard import (
    DemoStoreError,
    StoredConnection,
    claim_demo_store,
    demo_connection_problem,
    demo_refusal,
    is_simulator_url,
    stored_connections,
    wipe_store,
)
from sync_engine.demo.ingest import DEMO_TOKEN_NAME, DemoIngest
from sync_engine.demo.seed import DemoReport, seed_demo, seed_drift, store_is_empty

__all__ = [
    "DEMO_ACTOR",
    "DEMO_FIRMS",
    "DEMO_TOKEN_NAME",
    "Added",
    "DemoControls",
    "DemoFirm",
    "DemoIngest",
    "DemoReport",
    "DemoSimulator",
    "DemoStoreError",
    "FaultConfig",
    "SimulatorAdmin",
    "SimulatorAdminError",
    "StoredConnection",
    "claim_demo_store",
    "demo_connection_problem",
    "demo_firm_hint",
    "demo_refusal",
    "is_simulator_url",
    "made_up_contact",
    "repoint_demo_connections",
    "seed_demo",
    "seed_drift",
    "store_is_empty",
    "stored_connections",
    "wipe_store",
]
