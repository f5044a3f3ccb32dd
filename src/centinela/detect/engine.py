"""Run every registered detector over what is stored and upsert their alerts."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from centinela.alerts.models import Alert
from centinela.alerts.service import AlertDraft, in_upsert_order, upsert_alerts
from centinela.db import session_scope
from centinela.detect.base import Detector
from centinela.detect.context import DetectionContext
from centinela.detect.grouping import group_under, ordered
from centinela.detect.registry import all_detectors, load
from centinela.ledger.records import Movement

if TYPE_CHECKING:
    from centinela.detect.incremental import Plan

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
    stale: int = 0  # open alerts a full run of a ``rechecks`` detector did not find again
    error: str | None = None
    scope: str = "full"  # "full" | "partition" (incremental: only the subjects touched) |
    # "deferred" (incremental: a peer detector left for the next full run, detect_peer_rerun_share)
    subjects: int | None = None


@dataclass
class DetectionReport:
    now: dt.datetime
    movements: int = 0
    seconds: float = 0.0
    load_seconds: float = 0.0
    mode: str = "full"  # "full" | "partial" | "skip" (incremental runs)
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
            "mode": self.mode, "new": self.new, "updated": self.updated,
            "detectors": [r.__dict__ | {"seconds": round(r.seconds, 3)} for r in self.results],
        }


# Movements dated past the clock (a typo: 2062 for 2026) that may not set the default 'now':
# up to this share of what is stored, they are strays; beyond it, the data set itself lies
# ahead of the clock (a synthetic or replayed world) and its own end is 'now'.
STRAY_FUTURE_SHARE = 0.01
FUTURE_TOLERANCE = dt.timedelta(days=1)


def latest_movement_time(session: Session,
                         wall: dt.datetime | None = None) -> dt.datetime | None:
    """Return the latest ``occurred_at`` stored (the default 'now' of historical data), less
    a few movements dated past the clock: one stray row dated 2062 must not move every
    detector's window forty years ahead."""
    wall = wall or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    latest: dt.datetime | None = session.scalar(select(func.max(Movement.occurred_at)))
    if latest is None or latest <= wall + FUTURE_TOLERANCE:
        return latest
    ahead = session.scalar(select(func.count()).select_from(Movement)
                           .where(Movement.occurred_at > wall + FUTURE_TOLERANCE)) or 0
    total = session.scalar(select(func.count()).select_from(Movement)) or 0
    if ahead > STRAY_FUTURE_SHARE * total:
        return latest
    before: dt.datetime | None = session.scalar(
        select(func.max(Movement.occurred_at)).where(Movement.occurred_at <= wall + FUTURE_TOLERANCE))
    return before or latest


def run_all(session_or_engine: Session | Engine, now: dt.datetime | None = None,
            only: list[str] | None = None, lookback_days: int = 366,
            incremental: bool = False, progress: Progress | None = None) -> DetectionReport:
    """Run the detectors (all, or ``only`` these names) and upsert their alerts.

    ``now`` defaults to the latest movement stored, so historical data sets are judged as of
    their own end. A detector that fails is reported and the others still run. Movements are
    loaded for the lookback window plus the short history each detector declares; longer
    baselines read older history as database aggregates (``centinela.detect.window``,
    ``centinela.detect.aggregates``). ``incremental`` revisits only what changed since the last
    recorded run (``centinela.detect.incremental``); ``progress`` is told about each step.
    """
    if isinstance(session_or_engine, Session):
        return _run(session_or_engine, now, only, lookback_days, incremental, progress)
    with session_scope(session_or_engine) as session:
        return _run(session, now, only, lookback_days, incremental, progress)


class Progress:
    """Receives progress of a run; the default does nothing (the CLI draws a bar)."""

    def rows(self, n: int) -> None:
        """``n`` more movements were loaded."""

    def detector(self, name: str) -> None:
        """Detector ``name`` finished."""


def _run(session: Session, now: dt.datetime | None, only: list[str] | None,
         lookback_days: int, incremental: bool = False,
         progress: Progress | None = None) -> DetectionReport:
    from centinela.config import get_settings
    from centinela.detect import incremental as inc
    from centinela.detect.window import (
        OBJECT_FRAMES,
        aggregate_days,
        history_days,
        object_filter,
    )

    started = time.perf_counter()
    progress = progress or Progress()
    settings = get_settings()
    if now is None:
        now = latest_movement_time(session) or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    elif now.tzinfo is not None:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    detectors = [load(n) for n in only] if only else all_detectors()
    report = DetectionReport(now=now)
    wall = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    plan = inc.plan(session, now, lookback_days, settings.detect_full_every_hours, wall)
    report.mode = plan.mode if incremental else "full"
    if incremental and plan.mode == "skip":
        report.seconds = time.perf_counter() - started
        return report
    partial = incremental and plan.mode == "partial"
    start = now - dt.timedelta(days=lookback_days)
    cap = settings.detect_history_days
    main = ordered([d for d in detectors if d.name not in OBJECT_FRAMES
                    and not (partial and d.name in inc.PARTITIONS)])
    deferred: list[Detector] = []
    narrow: set[str] = set()  # object-frame detectors run on the touched objects only
    if partial and main and _few_new(session, plan, start, now,
                                     settings.detect_peer_rerun_share):
        # A handful of new movements barely moves a peer comparison: the peer detectors keep
        # their stored alerts until the next full run (at most detect_full_every_hours away).
        deferred, main = main, []
    needs = [history_days(d.name, cap, d.history_days) for d in main]
    known = [h for h in needs if h is not None]
    hist = None if len(known) < len(needs) else max(known, default=0)
    # Longer baselines read the history before the raw frame as database aggregates.
    agg = max((aggregate_days(d.name, cap) for d in main), default=0) if hist is not None else 0
    # One context per frame: the main window, each object frame, each partition.
    plans: list[tuple[list[Detector], dict[str, Any], set[str] | None]] = []
    if main:
        # Serial numbers are followed only on the object frames below.
        plans.append((main, {"history_days": hist, "serials": False, "aggregate_days": agg},
                      None))
    for kind in dict.fromkeys(OBJECT_FRAMES[d.name] for d in detectors if d.name in OBJECT_FRAMES):
        dets = [d for d in detectors if OBJECT_FRAMES.get(d.name) == kind]
        if partial and kind == "serials":
            # A serial's reuse depends on that serial's movements alone: follow only the
            # serials the new movements name (at 10 M movements the whole serial frame took
            # most of an incremental run).
            where = inc.serials_filter(inc.touched_serials(session, plan),
                                       now)
            narrow.update(d.name for d in dets)
        else:
            where = object_filter(kind, now, start, session)
        plans.append((dets, {"where": where}, None))
    if partial:
        for kind in dict.fromkeys(inc.PARTITIONS[d.name] for d in detectors
                                  if d.name in inc.PARTITIONS):
            dets = [d for d in detectors if inc.PARTITIONS.get(d.name) == kind]
            since = now - dt.timedelta(days=lookback_days + max(
                history_days(d.name, max(cap, 0), d.history_days) or 0 for d in dets))
            touched = inc.touched_ids(session, kind, plan)
            where = inc.touched_filter(kind, touched) & (
                Movement.occurred_at >= since) & (Movement.occurred_at <= now)
            plans.append((dets, {"where": where}, touched))
    stamp = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    results: dict[str, DetectorResult] = {}
    for dets, kw, subjects in plans:
        t0 = time.perf_counter()
        ctx = DetectionContext(session, now, lookback_days=lookback_days, progress=progress.rows,
                               **kw)
        n = ctx.frame.n
        _ = ctx.registry
        report.load_seconds += time.perf_counter() - t0
        if subjects is None and dets is main:
            report.movements = n
        for det in dets:
            full = subjects is None and det.name not in narrow
            res = _run_one(session, det, now, ctx, stamp, subjects,
                           recheck=(start, now) if full and det.rechecks else None)
            res.scope = "partition" if subjects is not None or det.name in narrow else "full"
            res.subjects = None if subjects is None else len(subjects)
            results[det.name] = res
            progress.detector(det.name)
        del ctx  # free this frame before loading the next
    for det in deferred:
        results[det.name] = DetectorResult(det.name, scope="deferred")
    report.results = [results[d.name] for d in detectors]
    if not only:
        inc.save_state(session, now, lookback_days, plan, wall,
                       full=not partial)
    report.seconds = time.perf_counter() - started
    return report


def _few_new(session: Session, plan: Plan, start: dt.datetime,
             now: dt.datetime, share: float) -> bool:
    """True when the plan's new movements are fewer than ``share`` of the window's."""
    if share <= 0:
        return False
    new = session.scalar(select(func.count()).select_from(Movement).where(
        plan.new_rows())) or 0
    window = session.scalar(select(func.count()).select_from(Movement).where(
        Movement.occurred_at >= start, Movement.occurred_at <= now)) or 0
    return new < share * max(window, 1)


def run_detectors(session: Session, now: dt.datetime, detectors: list[Detector],
                  ctx: DetectionContext | None = None,
                  stamp: dt.datetime | None = None) -> list[DetectorResult]:
    """Run ``detectors`` at ``now`` and upsert their alerts, each in its own savepoint: a
    detector that fails is reported and rolled back, the others still run; a detector that
    emits more than ``MAX_ALERTS_PER_DETECTOR`` keeps its strongest findings. ``stamp`` is the
    time written on the alerts (default: the wall clock)."""
    ctx = ctx or DetectionContext(session, now)
    stamp = stamp or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return [_run_one(session, det, now, ctx, stamp, None) for det in detectors]


def _run_one(session: Session, det: Detector, now: dt.datetime, ctx: DetectionContext,
             stamp: dt.datetime, subjects: set[str] | None,
             recheck: tuple[dt.datetime, dt.datetime] | None = None) -> DetectorResult:
    res = DetectorResult(det.name)
    t1 = time.perf_counter()
    try:
        with session.begin_nested():
            drafts = det.run(session, now, ctx)
            if subjects is not None:
                drafts = [d for d in drafts if d.subject_id in subjects]
            res.found = len(drafts)
            drafts = group_under(session, det, drafts)
            if recheck is not None:
                res.stale = mark_stale(session, det.name, drafts, *recheck, stamp)
            drafts = _cap(in_upsert_order(drafts), res)
            # One detector's drafts in a few statements (new subjects inserted and routed
            # together; repeats and stored subjects one by one), strongest first.
            for _alert, created in upsert_alerts(session, drafts, now=stamp):
                res.new += int(created)
                res.updated += int(not created)
    except Exception as exc:  # noqa: BLE001 - one broken detector must not stop the others
        log.exception("detector %s failed", det.name)
        res.error = f"{type(exc).__name__}: {exc}"
        res.new = res.updated = 0
    res.seconds = time.perf_counter() - t1
    return res


NOT_FOUND = "not_found_since"


def mark_stale(session: Session, detector: str, drafts: list[AlertDraft], since: dt.datetime,
               now: dt.datetime, stamp: dt.datetime) -> int:
    """After a full run of a ``rechecks`` detector: mark its open alerts whose window lies in
    [since, now] and that ``drafts`` do not find again (``evidence.not_found_since``: the day
    of the first run that did not); clear the mark of those found again. Nothing is closed:
    the analyst decides. Return how many alerts are marked now."""
    found = {(d.subject_kind, d.subject_id, d.variant or "") for d in drafts}
    marked = 0
    for alert in session.scalars(select(Alert).where(
            Alert.detector == detector, Alert.status != "closed",
            Alert.window_end >= since, Alert.window_start <= now)):
        ev = alert.evidence or {}
        again = (alert.subject_kind, alert.subject_id, ev.get("variant", "")) in found
        if again and NOT_FOUND in ev:
            alert.evidence = {k: v for k, v in ev.items() if k != NOT_FOUND}
        elif not again:
            marked += 1
            if NOT_FOUND not in ev:
                alert.evidence = {**ev, NOT_FOUND: stamp.date().isoformat()}
    return marked


def _cap(drafts: list[AlertDraft], res: DetectorResult) -> list[AlertDraft]:
    if len(drafts) <= MAX_ALERTS_PER_DETECTOR:
        return drafts
    res.truncated = len(drafts) - MAX_ALERTS_PER_DETECTOR
    return drafts[:MAX_ALERTS_PER_DETECTOR]  # already strongest first (``in_upsert_order``)
