"""Detection engine: registered detectors that write alerts."""
