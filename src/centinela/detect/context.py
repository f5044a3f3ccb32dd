"""The shared context of one detection run: time, settings, registry lookups, movements."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.config import Settings, get_settings
from centinela.detect.aggregates import History
from centinela.detect.frame import Frame, from_epoch, load_frame, to_epoch
from centinela.ledger.mme import FENTANYL_FAMILY, unit_mme
from centinela.lib.clock import LIMA_OFFSET_S
from centinela.registry.models import Establishment, Product, Professional

DAY = 86400


@dataclass
class Registry:
    """Registry attributes aligned to a frame's vocabulary codes."""

    est_known: np.ndarray
    est_kind: list[str | None]
    est_dept: list[str | None]
    est_ubigeo: list[str | None]
    est_authorized: np.ndarray
    est_expires_day: np.ndarray  # Lima day number of the licence end (nan = none)
    prof_known: np.ndarray
    prof_role: list[str | None]
    prof_specialty: list[str | None]
    prof_dept: list[str | None]
    prof_est: list[str | None]
    prof_cert_day: np.ndarray  # Lima day number of certification (nan = never)
    prod_mme: np.ndarray
    prod_mg: np.ndarray
    prod_substance: list[str | None]
    prod_fentanyl: np.ndarray
    prod_family: np.ndarray
    prod_route: list[str]
    prod_patch: np.ndarray
    prod_pack: np.ndarray  # units per pack (1 when unknown)


def lima_day(t: np.ndarray | int) -> np.ndarray | int:
    """Return the Lima calendar day number (days since 1970-01-01) of epoch seconds."""
    return (np.asarray(t) + LIMA_OFFSET_S) // DAY if isinstance(t, np.ndarray) else (t + LIMA_OFFSET_S) // DAY


def day_number(d: dt.date) -> int:
    """Return the day number of a date."""
    return (d - dt.date(1970, 1, 1)).days


def _rows(session: Session, model, key, ids: list[str] | None) -> dict:
    """Return registry rows keyed by id (all, or only ``ids``) as lightweight Core rows."""
    cols = [c for c in model.__table__.c]
    if ids is None:
        return {r[0]: r for r in session.execute(select(key, *cols))}
    out: dict = {}
    ids = [i for i in ids if i]
    for k in range(0, len(ids), 5000):
        chunk = ids[k:k + 5000]
        out.update({r[0]: r for r in session.execute(select(key, *cols).where(key.in_(chunk)))})
    return out


class DetectionContext:
    """Everything a detector needs, loaded once per run.

    ``scope`` restricts the run to one import's movements (real-time rules); ``None`` is the
    whole database. ``lookback_days`` bounds the period in which findings are reported.
    """

    def __init__(self, session: Session, now: dt.datetime, settings: Settings | None = None,
                 lookback_days: int = 366, frame: Frame | None = None,
                 scope_import_id: int | None = None, history_days: int | None = None,
                 where=None, progress=None, serials: bool = True,
                 aggregate_days: int = 0) -> None:
        self.session = session
        self.now = now.replace(tzinfo=None) if now.tzinfo is None else (
            now.astimezone(dt.UTC).replace(tzinfo=None))
        self.settings = settings or get_settings()
        self.now_t = to_epoch(self.now)
        self.lookback_days = lookback_days
        self.start_t = self.now_t - lookback_days * DAY
        self.scope_import_id = scope_import_id
        self._frame = frame
        # The movements loaded: from ``history_days`` before the lookback window (None: all
        # history) up to ``now``; ``where`` replaces that filter (partition or object frames).
        self.since = (None if history_days is None
                      else self.now - dt.timedelta(days=lookback_days + history_days))
        # History older than the raw frame, up to ``aggregate_days`` before the window, is read
        # as database aggregates (``history``).
        self._history: tuple[dt.datetime, dt.datetime] | None = None
        if (self.since is not None and where is None and frame is None
                and aggregate_days > (history_days or 0)):
            self._history = (self.now - dt.timedelta(days=lookback_days + aggregate_days),
                             self.since)
        self._where = where
        self._progress = progress
        self._serials = serials

    @property
    def realtime(self) -> bool:
        return self.scope_import_id is not None

    @property
    def frame(self) -> Frame:
        """The movements of this run (loaded on first use): up to ``now``, from ``since``."""
        if self._frame is None:
            from centinela.detect.window import window_filter

            where = self._where if self._where is not None else window_filter(self.now, self.since)
            self._frame = load_frame(self.session.connection(), where, progress=self._progress,
                                     serials=self._serials)
        return self._frame

    @cached_property
    def history(self) -> History | None:
        """The history before the frame as aggregates (``centinela.detect.aggregates``), or
        None when the frame holds all the history this run reads."""
        if self._history is None:
            return None
        return History(self.session.connection(), *self._history)

    @cached_property
    def registry(self) -> Registry:
        """Registry attributes for every code in the frame's vocabularies."""
        f = self.frame
        only = self.realtime  # real time: only the registry rows this import touches
        ests = _rows(self.session, Establishment, Establishment.establishment_id,
                     f.estv.names if only else None)
        profs = _rows(self.session, Professional, Professional.professional_id,
                      f.profv.names if only else None)
        prods = _rows(self.session, Product, Product.product_code, f.prodv.names if only else None)
        if not only:
            # Registry ids never seen in movements still get codes (e.g. workplaces).
            f.estv.encode(list(ests))
            f.profv.encode(list(profs))
            f.prodv.encode(list(prods))
        e_rows = [ests.get(n) for n in f.estv.names]
        p_rows = [profs.get(n) for n in f.profv.names]
        d_rows = [prods.get(n) for n in f.prodv.names]
        units = [unit_mme(d.substance, d.dosage_form, d.strength_mg_per_unit, d.patch_mcg_per_hour)
                 if d else None for d in d_rows]
        nan = float("nan")

        def dept_of_prof(p: Professional | None) -> str | None:
            if p is None:
                return None
            if p.department:
                return p.department
            if p.ubigeo:
                return p.ubigeo[:2]
            e = ests.get(p.establishment_id or "")
            return e.department if e else None

        return Registry(
            est_known=np.array([e is not None for e in e_rows], dtype=bool),
            est_kind=[e.kind if e else None for e in e_rows],
            est_dept=[e.department if e else None for e in e_rows],
            est_ubigeo=[e.ubigeo if e else None for e in e_rows],
            est_authorized=np.array([bool(e.authorized_controlled) if e else False for e in e_rows]),
            est_expires_day=np.array(
                [day_number(e.authorization_expires) if e and e.authorization_expires else nan
                 for e in e_rows], dtype=np.float64),
            prof_known=np.array([p is not None for p in p_rows], dtype=bool),
            prof_role=[p.role if p else None for p in p_rows],
            prof_specialty=[(p.specialty or None) if p else None for p in p_rows],
            prof_dept=[dept_of_prof(p) for p in p_rows],
            prof_est=[p.establishment_id if p else None for p in p_rows],
            prof_cert_day=np.array(
                [day_number(p.opioid_certified_on) if p and p.opioid_certified_on else nan
                 for p in p_rows], dtype=np.float64),
            prod_mme=np.array([u.mme_per_unit if u else 0.0 for u in units], dtype=np.float64),
            prod_mg=np.array([u.mg_per_unit if u else 0.0 for u in units], dtype=np.float64),
            prod_substance=[d.substance.lower() if d else None for d in d_rows],
            prod_fentanyl=np.array([bool(d and d.substance.lower() == "fentanyl") for d in d_rows]),
            prod_family=np.array([bool(d and d.substance.lower() in FENTANYL_FAMILY) for d in d_rows]),
            prod_route=[u.route if u else "unknown" for u in units],
            prod_patch=np.array([u.patch_mcg_h or nan if u else nan for u in units]),
            prod_pack=np.array([float(d.units_per_pack or 1) if d else 1.0 for d in d_rows]),
        )

    @cached_property
    def row_mme(self) -> np.ndarray:
        """MME of each movement's quantity (0 for unknown products)."""
        f = self.frame
        reg = self.registry
        return np.where(f.product >= 0, f.qty * reg.prod_mme[np.maximum(f.product, 0)], 0.0)

    @cached_property
    def row_mg(self) -> np.ndarray:
        """Milligrams of substance in each movement's quantity."""
        f = self.frame
        return np.where(f.product >= 0, f.qty * self.registry.prod_mg[np.maximum(f.product, 0)], 0.0)

    @cached_property
    def waste_expired(self) -> np.ndarray:
        """True for ``waste`` rows that dispose of expired stock: the lot's ``expiry`` falls before
        the end of the month after the waste (fetched for waste rows only, on first use)."""
        from centinela.ledger.records import Movement

        f = self.frame
        out = np.zeros(f.n, dtype=bool)
        if f.n == 0:
            return out
        stmt = select(Movement.id, Movement.expiry).where(
            Movement.event_type == "waste", Movement.expiry.is_not(None),
            Movement.occurred_at <= self.now)
        if len(f.t):
            # Only the frame's time span: older waste rows are not in the frame anyway.
            stmt = stmt.where(Movement.occurred_at >= from_epoch(int(f.t.min())))
        rows = self.session.execute(stmt).all()
        if not rows:
            return out
        order = np.argsort(f.row_id, kind="stable")
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        pos = np.searchsorted(f.row_id[order], ids)
        pos = np.minimum(pos, len(order) - 1)
        found = f.row_id[order][pos] == ids
        exp_day = np.fromiter((day_number(r[1]) for r in rows), dtype=np.int64, count=len(rows))
        hit = order[pos[found]]
        expired = exp_day[found] <= lima_day(f.t[hit]) + 31
        out[hit[expired]] = True
        return out

    @cached_property
    def row_day(self) -> np.ndarray:
        """Lima day number of each movement."""
        return lima_day(self.frame.t)

    @cached_property
    def in_scope(self) -> np.ndarray:
        """Rows that findings may be reported on: this import's recent events (real time, see
        ``realtime_window_days``) or the lookback."""
        f = self.frame
        if self.scope_import_id is not None:
            # Real time judges only recent events: a backfill of last year is history, judged
            # (and grouped) by batch detection, never a flood of "urgent" deliveries.
            recent = self.now_t - self.settings.realtime_window_days * DAY
            return (f.import_id == self.scope_import_id) & (f.t >= recent) & (f.t <= self.now_t + DAY)
        return f.t >= self.start_t

    def est_department(self, code: int) -> str | None:
        """Return the department of an establishment code."""
        return self.registry.est_dept[code] if code >= 0 else None

    def prof_department(self, code: int) -> str | None:
        """Return the department of a professional code (registry, else workplace)."""
        return self.registry.prof_dept[code] if code >= 0 else None
