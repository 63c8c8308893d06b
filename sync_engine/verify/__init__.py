"""Verify: check what the store says was synced against Clockwork itself, and repair drift.

``models`` holds the runs and the findings stored with each contact.
"""
