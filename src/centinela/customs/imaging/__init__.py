"""X-ray image triage: a synthetic generator, a detector interface, the baseline model, rendering."""
