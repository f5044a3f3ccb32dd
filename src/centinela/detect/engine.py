"""Run every registered detector over what is stored and upsert their alerts."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft, upsert_alert
from centinela.db import session_scope
from centinela.detect.base import Detector
from centinela.detect.context import DetectionContext
from centinela.detect.registry import all_detectors, load
from centinela.ledger.records import Movement

log = logging.getLogger(__name__)

# A detector that emits more than this in one run is misbehaving on this data; keep its
# strongest findings so the analyst queue stays usable, and say so in the report.
MAX_ALERTS_PER_DETECTOR = 2000


@dataclass
class DetectorResult:
    name: str
    found: int = 0
    new: int = 0
    updated: int = 0
    seconds: float = 0.0
    truncated: int = 0
    error: str | None = None


@dataclass
class DetectionReport:
    now: dt.datetime
    movements: int = 0
    seconds: float = 0.0
    load_seconds: float = 0.0
    results: list[DetectorResult] = field(default_factory=list)

    @property
    def new(self) -> int:
        return sum(r.new for r in self.results)

    @property
    def updated(self) -> int:
        return sum(r.updated for r in self.results)

    @property
    def errors(self) -> list[DetectorResult]:
        return [r for r in self.results if r.error]

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return {
            "now": self.now.isoformat(), "movements": self.movements,
            "seconds": round(self.seconds, 3), "load_seconds": round(self.load_seconds, 3),
            "new": self.new, "updated": self.updated,
            "detectors": [r.__dict__ | {"seconds": round(r.seconds, 3)} for r in self.results],
        }


def latest_movement_time(session: Session) -> dt.datetime | None:
    """Return the latest ``occurred_at`` stored (the default 'now' of historical data)."""
    return session.scalar(select(func.max(Movement.occurred_at)))


def run_all(session_or_engine: Session | Engine, now: dt.datetime | None = None,
            only: list[str] | None = None, lookback_days: int = 366) -> DetectionReport:
    """Run the detectors (all, or ``only`` these names) and upsert their alerts.

    ``now`` defaults to the latest movement stored, so historical data sets are judged as of
    their own end. A detector that fails is reported and the others still run.
    """
    if isinstance(session_or_engine, Session):
        return _run(session_or_engine, now, only, lookback_days)
    with session_scope(session_or_engine) as session:
        return _run(session, now, only, lookback_days)


def _run(session: Session, now: dt.datetime | None, only: list[str] | None,
         lookback_days: int) -> DetectionReport:
    started = time.perf_counter()
    if now is None:
        now = latest_movement_time(session) or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    elif now.tzinfo is not None:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    detectors = [load(n) for n in only] if only else all_detectors()
    ctx = DetectionContext(session, now, lookback_days=lookback_days)
    report = DetectionReport(now=now)
    t0 = time.perf_counter()
    report.movements = ctx.frame.n
    _ = ctx.registry
    report.load_seconds = time.perf_counter() - t0
    report.results = run_detectors(session, now, detectors, ctx)
    report.seconds = time.perf_counter() - started
    return report


def run_detectors(session: Session, now: dt.datetime, detectors: list[Detector],
                  ctx: DetectionContext | None = None,
                  stamp: dt.datetime | None = None) -> list[DetectorResult]:
    """Run ``detectors`` at ``now`` and upsert their alerts, each in its own savepoint: a
    detector that fails is reported and rolled back, the others still run; a detector that
    emits more than ``MAX_ALERTS_PER_DETECTOR`` keeps its strongest findings. ``stamp`` is the
    time written on the alerts (default: the wall clock)."""
    ctx = ctx or DetectionContext(session, now)
    stamp = stamp or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    results = []
    for det in detectors:
        res = DetectorResult(det.name)
        t1 = time.perf_counter()
        try:
            with session.begin_nested():
                drafts = det.run(session, now, ctx)
                res.found = len(drafts)
                drafts = _cap(drafts, res)
                for draft in drafts:
                    _, created = upsert_alert(session, draft, now=stamp)
                    res.new += int(created)
                    res.updated += int(not created)
        except Exception as exc:  # noqa: BLE001 - one broken detector must not stop the others
            log.exception("detector %s failed", det.name)
            res.error = f"{type(exc).__name__}: {exc}"
            res.new = res.updated = 0
        res.seconds = time.perf_counter() - t1
        results.append(res)
    return results


def _cap(drafts: list[AlertDraft], res: DetectorResult) -> list[AlertDraft]:
    if len(drafts) <= MAX_ALERTS_PER_DETECTOR:
        return drafts
    res.truncated = len(drafts) - MAX_ALERTS_PER_DETECTOR
    return sorted(drafts, key=lambda d: -d.score)[:MAX_ALERTS_PER_DETECTOR]
