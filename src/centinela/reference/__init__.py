"""Shipped reference data of Peru (INEI districts, boundaries, IPRESS hospitals)."""
