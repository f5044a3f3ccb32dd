"""Early-warning system: signals, substances, classification, detection, bulletins."""
