"""Intake of registry records, movements and seizures (files, API batches, uploads)."""
