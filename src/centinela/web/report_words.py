"""Hand the web app's words to the quarterly report (it sits below the web layer)."""

from __future__ import annotations


def register() -> None:
    """Register ``fmt``, ``codes.label``, ``i18n.detector_label``, ``evidence.headline`` and
    ``wording.same_period`` with :mod:`centinela.quarterly.words` (idempotent)."""
    from centinela.quarterly import words
    from centinela.web import codes, evidence, fmt, i18n, wording

    words.use(fmt, codes.label, i18n.detector_label, evidence.headline, wording.same_period)
