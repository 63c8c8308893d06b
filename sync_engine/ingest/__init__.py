"""The ingest API: events from the outreach platform over signed, idempotent HTTP.

``models`` holds its tables (registered with the store's metadata by :mod:`sync_engine.models`),
``credentials`` the per-account API tokens and webhook signing secret, ``service`` what a
delivery does to the store (through the existing services), ``adapters`` the mapping of other
platforms' webhook payloads, ``delivery`` how any request is handled (cap, authentication, rate
limit, idempotency, one transaction), ``app`` the FastAPI routes, ``server`` uvicorn in a thread
or in the foreground, and ``commands`` the ``cwsync serve`` and ``cwsync token`` commands (the
demo's own use of the API is :mod:`sync_engine.demo.ingest`). Importing this package imports
none of them.
"""
