"""Clockwork Sync engine: store, rules, Clockwork client and simulator, sync passes, CLI."""
