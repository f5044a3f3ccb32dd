"""The five EWS rules as registered detectors (``centinela.wiring`` registers them).

They run through the one detection engine: each in its own savepoint (a failure is reported,
the others still run), capped like every detector, documented in ``docs/detectors.md`` and run
by ``centinela detect`` and the scheduled job as well as by ``centinela ews detect``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector
from centinela.detect.context import DetectionContext
from centinela.detect.engine import run_detectors
from centinela.ews import detect as rules
from centinela.ews.detect import DetectConfig


class EwsDetector(Detector):
    """Base of the EWS detectors: one rule of ``centinela.ews.detect`` over stored signals."""

    subject_kind = "region"
    history_days = 0  # the rules read the EWS tables, not the movement frame
    rule: ClassVar[staticmethod[[Session, dt.datetime, DetectConfig], list[AlertDraft]]]
    # The ``detector`` codes of the alerts the rule writes (several for one rule: the first
    # national, departmental and unconfirmed appearances); each needs a name in both languages.
    alert_codes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: DetectConfig | None = None) -> None:
        self.config = config or DetectConfig()

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        """Return the rule's alert drafts at ``now``."""
        return type(self).rule(session, now, self.config)


class FirstAppearance(EwsDetector):
    """A substance identified for the first time nationally (``ews_first_national``) or in a
    department (``ews_first_department``) within the last ``lookback_days`` (30), or whose
    record reached the system in them (a late result, said in the alert with both dates).
    Only a confirmed identification (structure or InChIKey) counts; a substance known only
    from reported names or tips raises the lower-confidence ``ews_first_reported``."""

    name = "ews_first"
    title = "Primera aparición de una sustancia / first appearance of a substance"
    topics = ("ews",)
    rule = staticmethod(rules.first_appearances)
    alert_codes = ("ews_first_national", "ews_first_department", "ews_first_reported")
    evidence_fields = ("substance", "category", "signal_id")


class Aberration(EwsDetector):
    """Daily series per department × substance over ``history_days`` (120) whose recent days
    (last 7) are aberrant for at least two of EARS C1–C3, EWMA and CUSUM (one of them
    smoothed)."""

    name = "ews_aberration"
    title = "Aumento inusual de señales / aberrant signal series"
    topics = ("ews",)
    rule = staticmethod(rules.aberrations)
    alert_codes = ("ews_aberration",)
    thresholds = {"methods agreeing": "≥ 2 (one EWMA or CUSUM)", "recent days": "7"}


class Cluster(EwsDetector):
    """Space-time permutation-scan clusters of overdoses and of seizures over the last 90
    days (``ews_cluster_overdose``, ``ews_cluster_seizure``)."""

    name = "ews_cluster"
    title = "Conglomerado espacio-temporal / space-time cluster"
    topics = ("ews",)
    rule = staticmethod(rules.clusters)
    alert_codes = ("ews_cluster_overdose", "ews_cluster_seizure")


class SeizedRegistryProduct(EwsDetector):
    """Seized units that are registry medicines (by lot or serial): diversion from the legal
    chain, seized or reported (a late result) within the last ``lookback_days`` (30)."""

    name = "ews_seized_registry_product"
    title = "Incautación de un medicamento registrado / seized registry medicine"
    subject_kind = "lot"
    topics = ("ews", "diversion")
    rule = staticmethod(rules.registry_product_seizures)
    alert_codes = ("ews_seized_registry_product",)


class NameMismatch(EwsDetector):
    """The reported name disagrees with the structure the laboratory identified (seized or
    reported within the last ``lookback_days``, 30)."""

    name = "ews_name_mismatch"
    title = "Nombre informado distinto de la estructura / reported name disagrees with structure"
    topics = ("ews", "identification")
    rule = staticmethod(rules.name_mismatches)
    alert_codes = ("ews_name_mismatch",)


DETECTORS: dict[str, type[EwsDetector]] = {
    d.name: d for d in (FirstAppearance, Aberration, Cluster, SeizedRegistryProduct, NameMismatch)
}
ALERT_CODES: tuple[str, ...] = tuple(c for d in DETECTORS.values() for c in d.alert_codes)


def run(session: Session, now: dt.datetime, cfg: DetectConfig | None = None,
        only: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run the EWS detectors at ``now`` through the detection engine; return counts per
    detector (``created``, ``updated`` and ``error`` when it failed)."""
    dets = [cls(cfg) for name, cls in DETECTORS.items() if not only or name in only]
    results = run_detectors(session, now, list(dets), stamp=now)
    session.flush()
    return {r.name: {"created": r.new, "updated": r.updated}
            | ({"error": r.error} if r.error else {}) for r in results}
