"""Centinela: Peru's national fentanyl surveillance and early-warning system."""

__version__ = "0.1.0"
