"""Public channels: anonymous citizen reporting and the public assistant."""
