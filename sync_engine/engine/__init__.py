"""The sync engine: a lease-based work queue in the store, the per-enrollment pipeline, pacing
per Clockwork connection, engine passes with their run history, and the APScheduler wiring.
"""
