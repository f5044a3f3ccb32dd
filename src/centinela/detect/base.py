"""The detector base class and the helpers every detector uses to build an alert draft."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft, severity_for
from centinela.detect.context import DetectionContext
from centinela.detect.frame import from_epoch
from centinela.detect.scoring import calibrate
from centinela.lib import clock


class Detector:
    """One detector: a name, what it looks for, and ``run`` returning alert drafts.

    Subclasses set the class attributes (they feed ``docs/detectors.md``) and implement ``run``.
    ``realtime`` detectors also run on each accepted import, restricted to its movements.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""  # Spanish first / English
    subject_kind: ClassVar[str] = ""
    realtime: ClassVar[bool] = False
    topics: ClassVar[tuple[str, ...]] = ()
    settings_used: ClassVar[tuple[str, ...]] = ()
    thresholds: ClassVar[dict[str, str]] = {}
    evidence_fields: ClassVar[tuple[str, ...]] = ()
    tolerates: ClassVar[str] = ""  # what legitimate reporting it does not flag, and why
    # Detectors whose open medium+ alert on every prescriber a draft names takes the draft in
    # (graded low, listed under it): ``centinela.detect.grouping``.
    group_under: ClassVar[tuple[str, ...]] = ()
    # Days of raw movements read before the lookback window; None: ``window.HISTORY_DAYS``
    # (or its conservative default). A detector that reads only its own tables sets 0.
    history_days: ClassVar[int | None] = None
    # True when a full run judges every finding whose window lies in the run's lookback again
    # (nothing in the detector depends on the run's date beyond that window): an open alert
    # that such a run does not find again is marked ``not_found_since`` (the evidence that
    # raised it changed: a late receipt booked, a certificate registered), never closed.
    rechecks: ClassVar[bool] = False

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        """Return the alert drafts of this detector at ``now``."""
        raise NotImplementedError

    def draft(self, subject_id: str, t0: int, t1: int, strength: float, mme: float,
              summary: str, evidence: dict, department: str | None = None,
              ubigeo: str | None = None, topics: tuple[str, ...] | list[str] | None = None,
              subject_kind: str | None = None, score: float | None = None,
              variant: str = "") -> AlertDraft:
        """Build a calibrated draft (score and severity from strength and MME, or from an
        explicit ``score`` when the detector grades by magnitude, e.g. losses)."""
        if score is None:
            score, severity = calibrate(strength, mme)
        else:
            score = round(min(max(float(score), 0.0), 100.0), 1)
            severity = severity_for(score)
        evidence = {"mme": round(float(mme), 1), **evidence}
        return AlertDraft(
            detector=self.name, subject_kind=subject_kind or self.subject_kind,
            subject_id=str(subject_id), severity=severity, score=score,
            window_start=from_epoch(t0), window_end=from_epoch(t1), summary=summary,
            evidence=_clean(evidence), department=department,
            topics=list(topics if topics is not None else self.topics), ubigeo=ubigeo,
            grouped=True, variant=variant,
        )


def _clean(value):
    """Make evidence JSON-safe (NumPy scalars, NaN, tuples)."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return round(value, 4)
    return value


def fmt(x: float, digits: int = 1) -> str:
    """Format a number the Peruvian way for summaries (thousands with spaces)."""
    if abs(x - round(x)) < 1e-9:
        return f"{int(round(x)):,}".replace(",", " ")
    return f"{x:,.{digits}f}".replace(",", " ")


def day_str(t: int) -> str:
    """Return the Lima date of epoch seconds as YYYY-MM-DD."""
    return clock.lima_day(from_epoch(t)).isoformat()
