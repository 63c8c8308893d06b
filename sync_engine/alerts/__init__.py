"""Alerts: rules per account evaluated by the engine's scheduler, each incident told once when it
starts and once when it resolves, delivered to a webhook, Slack or e-mail with retries.

``models`` holds the tables and vocabulary, ``rules`` the conditions, ``evaluate`` the incident
state machine, ``delivery`` the outbox and its senders, ``destinations`` their configuration,
``job`` the scheduler's hook and ``cli`` the ``cwsync alerts`` commands.
"""
