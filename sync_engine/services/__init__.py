"""The service layer: every operation the CLI and the dashboard offer, over the store.

Functions take ``*, session`` (and a clock where time matters) and never open a session
themselves; the few that must call Clockwork take the :class:`~sync_engine.runtime.Runtime` and
keep HTTP outside any transaction.
"""
