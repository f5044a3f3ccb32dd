"""Alerts: storage, routing to authorities, delivery outbox and case workflow."""
