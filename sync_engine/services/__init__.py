"""The service layer: every operation the CLI and the dashboard offer, over the store.

One calling convention, by what a function needs:

- a function that reads or writes the store takes ``*, session`` (from ``runtime.db.read()`` or
  ``runtime.db.write()``) and never opens one, so a caller may join several in one transaction
  (the CSV import, which commits in batches, takes a session factory instead);
- a function that must call Clockwork takes the :class:`~sync_engine.runtime.Runtime` first and
  opens its own short sessions around the HTTP, never holding a transaction across it.

No caller passes a clock: a function stamps times from its session's store
(:func:`sync_engine.db.clock_of`) or from the runtime, which share one clock.
"""
