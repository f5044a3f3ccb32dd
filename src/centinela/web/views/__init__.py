"""Typed page contexts: each page renders one of these and its JSON twin returns it as is.

Nothing here imports FastAPI; every builder takes a session, the viewer and ``now``.
"""
