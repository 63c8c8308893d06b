"""Read-only queries behind the dashboard's pages, one module per question a page asks.

``reason_texts`` (codes and statuses in words), ``overview`` (accounts, the engine and
sequences at a glance, the charts), ``contact_table`` (the Contacts audit table), ``csv_export``
(that table as CSV), ``history`` (one enrollment's timeline), ``logs`` (activity, engine passes,
Clockwork requests, the audit log), ``previews`` (what saving a change will do), and ``sql``
(what they share about the store). None of them writes or calls Clockwork; every function takes
``*, session`` and returns plain dataclasses or dicts, so a page only renders.
"""
