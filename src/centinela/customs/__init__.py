"""Customs and postal parcel triage: advance-data risk scoring, X-ray image triage, review queue.

The evaluation shipped with this package is SYNTHETIC (``centinela customs generate``): no
licensed real X-ray or manifest data set exists here. See ``docs/customs.md``.
"""
