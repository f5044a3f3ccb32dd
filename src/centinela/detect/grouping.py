"""Group patient findings under the prescriber finding that explains them.

A prescriber flagged for an abnormal volume (``prescriber_volume``) usually has many patients at
high daily doses: each would otherwise be its own medium alert to the authorities, one root
cause read as many. A patient draft of a detector that declares ``group_under`` is taken in by
an open alert (medium or above) of one of those detectors on every prescriber the draft names:
it stays listed, at ``low`` (score capped), naming the prescriber alerts it belongs to, and
the authorities act on the prescriber's alert. A patient with any prescriber not flagged keeps
its own grade.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.models import Alert
from centinela.alerts.service import AlertDraft, severity_for
from centinela.detect.base import Detector

GRADED = ("medium", "high", "critical")
GROUPED_MAX_SCORE = 35.0  # below the medium band (40)


def grouped(d: AlertDraft, tail: str, evidence: dict) -> AlertDraft:
    """``d`` kept under another alert: score capped below medium, ``tail`` closing its summary
    (``"; se agrupa en …"``), ``evidence`` added with the grade it had before."""
    score = min(float(d.score), GROUPED_MAX_SCORE)
    return dataclasses.replace(
        d, score=score, severity=severity_for(score), summary=d.summary.rstrip(".") + tail,
        evidence={**d.evidence, **evidence, "score_before_grouping": d.score,
                  "severity_before_grouping": d.severity})


def flagged_prescribers(session: Session, detectors: tuple[str, ...]) -> dict[str, str]:
    """Professional id → alert_id of its open medium-or-above alert of ``detectors``."""
    rows = session.execute(
        select(Alert.subject_id, Alert.alert_id).where(
            Alert.detector.in_(detectors), Alert.subject_kind == "professional",
            Alert.status != "closed", Alert.severity.in_(GRADED))
        .order_by(Alert.score.desc()))
    out: dict[str, str] = {}
    for pid, aid in rows:
        out.setdefault(pid, aid)
    return out


def group_under(session: Session, det: Detector, drafts: list[AlertDraft]) -> list[AlertDraft]:
    """Return ``drafts`` with those explained by flagged prescribers graded ``low``."""
    if not det.group_under or not any(d.severity in GRADED for d in drafts):
        return drafts
    flagged = flagged_prescribers(session, det.group_under)
    if not flagged:
        return drafts
    out = []
    for d in drafts:
        pros = list((d.evidence or {}).get("prescribers") or [])
        if d.severity in GRADED and pros and all(p in flagged for p in pros):
            ids = sorted({flagged[p] for p in pros})
            d = grouped(d, (". Agrupada en la alerta del prescriptor "
                            f"({', '.join(ids)}): se actúa sobre esa alerta."),
                        {"grouped_under": ids})
        out.append(d)
    return out


def ordered(detectors: list[Detector]) -> list[Detector]:
    """Run each detector after those it groups under (stable otherwise)."""
    names = {d.name for d in detectors}
    first = [d for d in detectors if not (set(d.group_under) & names)]
    return first + [d for d in detectors if set(d.group_under) & names]
