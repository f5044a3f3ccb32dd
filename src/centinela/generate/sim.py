"""Day-by-day simulation of the supply chain; rows leave in time order, one day at a time.

Each day, every planned happening (a receipt, an anaesthesia case, a refill, an order, a count)
is put on a heap by time of day and executed in that order against the stock, so a unit is never
used before it arrives and legitimate stock never goes negative.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from centinela.generate import catalog
from centinela.generate.activity import DOSES, Activity
from centinela.generate.patients import Course, daily_units, mean_fills, new_course
from centinela.generate.stock import Pair
from centinela.generate.world import World

P = catalog.BY_KEY
LOT_PREFIX = {"fen2": "FA2", "fen10": "FA10", "p12": "TD12", "p25": "TD25", "p50": "TD50",
              "p75": "TD75", "p100": "TDX", "remi": "RM", "suf": "SF", "mora": "MA",
              "mort": "MT", "meth": "MD"}
WEEKDAY_CASES = (1.1, 1.1, 1.1, 1.05, 1.0, 0.7, 0.5)
WEEKDAY_FILLS = (1.15, 1.1, 1.1, 1.1, 1.1, 0.9, 0.4)
MONTH_FACTOR = (0.92, 0.93, 1.0, 1.0, 1.02, 1.0, 1.03, 1.0, 1.0, 1.02, 1.0, 1.05)


@dataclass
class Mods:
    """What the planted scenarios change in the simulation (empty: an honest year)."""

    case_mult: dict[int, list[tuple[int, int, float]]] = field(default_factory=dict)
    order_mult: dict[int, tuple[int, int, float]] = field(default_factory=dict)
    falsify_counts: set[int] = field(default_factory=set)
    shrink: dict[int, tuple[int, int, str, float, int]] = field(default_factory=dict)
    waste_divert: dict[int, tuple[int, int]] = field(default_factory=dict)
    self_witness: dict[int, tuple[int, int]] = field(default_factory=dict)
    lose_shipment: dict[int, int] = field(default_factory=dict)
    capture_serial: dict[int, int] = field(default_factory=dict)
    events: dict[int, list[tuple[int, str, tuple]]] = field(default_factory=dict)
    courses: list[tuple[int, Course]] = field(default_factory=list)
    losses: list[tuple[int, int, str, int]] = field(default_factory=list)
    record: dict[str, list] = field(default_factory=dict)

    def note(self, key: str, value: object) -> None:
        self.record.setdefault(key, []).append(value)


class Sim(Activity):
    """Run a world for its days and hand each day's rows, in time order, to ``sink``."""

    def __init__(self, world: World, rng: random.Random, nprng: np.random.Generator,
                 mods: Mods, sink: Callable[[list[tuple]], None]) -> None:
        self.w, self.rng, self.np, self.mods, self.sink = world, rng, nprng, mods, sink
        self.on_day: Callable[[int, int], None] | None = None  # progress: (days done, days)
        self.ests, self.profs = world.ests, world.profs
        self.days = (world.end - world.start).days + 1
        dates = [world.start + dt.timedelta(days=d) for d in range(self.days)]
        self.dates = dates
        self.iso = [d.isoformat() for d in dates]
        self.tod = _TimeOfDay()
        self.pairs: dict[tuple[int, str], Pair] = {}
        self.est_id = [e.id for e in self.ests]
        self.pcode = {p.key: p.code for p in catalog.PRODUCTS}
        self.today = self.iso[0]
        self.by_est: dict[int, list[Pair]] = {}
        self.arrivals: dict[int, list[tuple]] = {}
        self.buf: list[tuple] = []
        self.heap: list[tuple] = []
        self.planned: list[tuple] = []
        self.seq = self.eid = self.rx = self.lots = 0
        self.counts: dict[str, int] = defaultdict(int)
        self.courses: list[tuple[int, int, Course]] = []
        self.d = 0
        self._setup()

    # ---- setup -------------------------------------------------------------------------
    def _setup(self) -> None:
        w, rng = self.w, self.rng
        self.surg: dict[int, tuple] = {}
        self.icu: dict[int, tuple] = {}
        self.nurse_cw: dict[int, list[float]] = {}
        for h in w.hospitals + w.clinics:
            e = self.ests[h]
            keys, wts = ["fen2", "mora"], [0.82, 0.07]
            if e.level in ("II-2", "III-1", "III-E", "II-E"):
                keys.append("suf")
                wts.append(0.06)
            if e.level in ("III-1", "III-E") or e.beds >= 150:
                keys.append("remi")
                wts.append(0.05)
            self.surg[h] = (keys, _cum(wts))
            self.icu[h] = (("fen10", "fen2", "mora"), _cum([0.6, 0.2, 0.2]))
            icu_share = 0.25 if e.intens else 0.0
            per_case: Counter[str] = Counter()
            for k, share in zip(keys, _norm(wts), strict=True):
                per_case[k] += (1 - icu_share) * share * _mean_open(k)
            for k, share in zip(("fen10", "fen2", "mora"), (0.6, 0.2, 0.2), strict=True):
                per_case[k] += icu_share * share * _mean_open(k)
            for k, v in per_case.items():
                self._pair(h, k).ema = v * e.case_rate
            self.nurse_cw[h] = _cum(e.nurse_w)
        self.outlets = [i for i in w.hospitals + w.clinics + w.pharmacies
                        if self.ests[i].course_rate > 0 and self.ests[i].authorized]
        self._pools()
        for j in self.outlets:
            e = self.ests[j]
            active = e.course_rate * 5.5 * 24.0
            for k, share in (("p25", 0.3), ("p50", 0.22), ("mort", 0.18), ("p12", 0.1)):
                self._pair(j, k).ema = active * share * daily_units(k)
            for _ in range(_poisson(rng, active)):
                c = self._course(j)
                c.fills_left = max(1, int(c.fills_left * rng.random()) + 1)
                self._push_course(rng.randint(1, c.days_supply), c)
        for d0, c in self.mods.courses:
            self._push_course(d0, c)
        # Upstream tiers start with what their clients will draw.
        for (i, k), p in list(self.pairs.items()):
            sup = self.ests[i].supplier
            self._pair(sup, k).ema += p.ema
        for d in self.w.distributors:
            for k in catalog.BY_KEY:
                p = self._pair(d, k)
                self._pair(self.ests[d].supplier, k).ema += p.ema
        self._plan_counts()
        # Each establishment counts its stock at one moment of the last day of the month.
        self.count_t = {i: 21 * 3600 + 2 * rng.below(3500) for i in range(len(self.ests))}
        self.order_days: dict[int, list[int]] = {}
        for i in self.w.ordering:
            self.order_days.setdefault(self.ests[i].order_day, []).append(i)

    def _pools(self) -> None:
        self.pool: dict[str, tuple[list[int], list[float]]] = {}
        spec_w = {"palliative_care": 3.0, "oncology": 2.0, "general_medicine": 1.0}
        national: list[int] = []
        for dept, ids in self.w.dept_prescribers.items():
            ws = [spec_w.get(self.profs[p].specialty, 1.0) * self.profs[p].course_w for p in ids]
            self.pool[dept] = (ids, _cum(ws))
            national += ids
        lima = self.pool.get("15") or (national, _cum([1.0] * len(national)))
        self.national = lima
        self.team: dict[int, list[int]] = {}
        for h in self.w.hospitals + self.w.clinics:
            e = self.ests[h]
            for p in e.prescribers:
                self.team[p] = [q for q in e.prescribers
                                if self.profs[q].specialty == self.profs[p].specialty]

    def _plan_counts(self) -> None:
        nd, w = self.days, self.w
        dayf = np.array([WEEKDAY_CASES[d.weekday()] * MONTH_FACTOR[d.month - 1]
                         for d in self.dates])
        hs = w.hospitals + w.clinics
        lam = np.outer(dayf, [self.ests[h].case_rate for h in hs])
        for col, h in enumerate(hs):
            for d0, d1, m in self.mods.case_mult.get(h, ()):
                lam[d0:d1 + 1, col] *= m
        self.case_n = self.np.poisson(lam).tolist()
        self.case_h = hs
        fillf = np.array([WEEKDAY_FILLS[d.weekday()] for d in self.dates])
        lam2 = np.outer(fillf, [self.ests[j].course_rate for j in self.outlets])
        self.new_n = self.np.poisson(lam2).tolist()
        self.month_end = {d for d in range(nd)
                          if d == nd - 1 or self.dates[d].month != self.dates[d + 1].month}

    # ---- helpers -----------------------------------------------------------------------
    def _pair(self, est: int, key: str) -> Pair:
        p = self.pairs.get((est, key))
        if p is None:
            p = self.pairs[(est, key)] = Pair(est, key)
            self.by_est.setdefault(est, []).append(p)
        return p

    def push(self, t: int, fn: Callable, *args: object) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, fn, args))

    def emit(self, t: int, etype: str, est: int, key: str, qty: str, cp: str = "",
             lot: str = "", exp: str = "", serial: str = "", rx: str = "", presc: str = "",
             prof: str = "", pat: str = "", sex: str = "", by: str = "", pub: str = "",
             ds: str = "", wit: str = "") -> str:
        """Append one movement row to today's buffer and return its event_id."""
        if t < 0:
            t = 0
        elif t > 86399:
            t = 86399
        self.eid += 1
        self.seq += 1
        eid = f"MV-{self.eid:09d}"
        self.buf.append((t, self.seq, (eid, etype, self.today + self.tod[t], self.est_id[est],
                                       self.pcode[key], qty, cp, lot, exp, serial, rx, presc,
                                       prof, pat, sex, by, pub, ds, wit)))
        return eid

    def _staff(self, est: int) -> str:
        ph = self.ests[est].pharmacists
        return self.profs[self.rng.pick(ph)].id if ph else ""

    def _course(self, j: int) -> Course:
        rng, e = self.rng, self.ests[j]
        if e.prescribers and rng.random() < 0.7:
            presc = rng.pick(e.prescribers)
        else:
            ids, cw = self.pool.get(e.dept, self.national)
            presc = rng.pick_cw(ids, cw)
        outlets = self.w.dept_outlets.get(e.dept, [j])
        alt = rng.pick(outlets)
        sp = self.profs[presc].specialty
        return new_course(rng, j, e.ubigeo, presc, sp, self.team.get(presc, []),
                          alt if alt != j else -1)

    def _push_course(self, day: int, c: Course) -> None:
        self.seq += 1
        heapq.heappush(self.courses, (day, self.seq, c))

    # ---- the day loop ------------------------------------------------------------------
    def run(self) -> None:
        """Simulate every day and hand its rows to the sink."""
        for d in range(self.days):
            self.d = d
            self.today = self.iso[d]
            self._schedule(d)
            # The day's planned happenings are sorted once; whatever they set off the same day
            # (an arrival, an emergency order) goes on a small heap merged in time order.
            planned = self.planned
            planned.sort()
            heap = self.heap
            pop = heapq.heappop
            for ev in planned:
                while heap and heap[0] < ev:
                    t, _, fn, args = pop(heap)
                    fn(t, *args)
                ev[2](ev[0], *ev[3])
            while heap:
                t, _, fn, args = pop(heap)
                fn(t, *args)
            self.planned = []
            buf = self.buf
            buf.sort()  # (time, seq) are unique: rows themselves are never compared
            counts = self.counts
            for r in buf:
                counts[r[2][1]] += 1
            self.sink([r[2] for r in buf])
            self.buf = []
            if self.on_day is not None:
                self.on_day(d + 1, self.days)

    def plan(self, t: int, fn: Callable, *args: object) -> None:
        self.seq += 1
        self.planned.append((t, self.seq, fn, args))

    def _schedule(self, d: int) -> None:
        rng, push, date = self.rng, self.plan, self.dates[d]
        for rec in self.arrivals.pop(d, ()):
            push(rec[0], self._arrive, rec)
        opening = d == 0
        for i in self.w.importers:
            if opening or date.day == 3:
                for k in P:
                    push(6 * 3600 + rng.below(1800), self._import, self._pair(i, k))
        for i in self.w.distributors:
            if opening or date.weekday() == self.ests[i].order_day % 5:
                for k in P:
                    push(6 * 3600 + 2400 + rng.below(1800), self._order,
                         self._pair(i, k), False)
        for i in self.w.ordering if opening else self.order_days.get(date.day, ()):
            for p in self.by_est.get(i, ()):
                if p.stocked:
                    push(8 * 3600 + rng.below(7 * 3600), self._order, p, False)
        lo = 11 * 3600 if opening else 0
        rnd, planned, case = rng.random, self.planned, self._case
        seq = self.seq
        for col, n in enumerate(self.case_n[d]):
            if n:
                h = self.case_h[col]
                icu_share = 0.25 if self.ests[h].intens else 0.0
                for _ in range(n):
                    seq += 1
                    if rnd() < icu_share:
                        t = int(rnd() * 86400)
                        planned.append((t if t > lo else lo, seq, case, (h, True)))
                    else:
                        t = 25200 + int(rnd() * 43200)
                        planned.append((t if t > lo else lo, seq, case, (h, False)))
        self.seq = seq
        courses = self.courses
        while courses and courses[0][0] <= d:
            _, _, c = heapq.heappop(courses)
            push(9 * 3600 + rng.below(11 * 3600), self._fill, c)
        for col, n in enumerate(self.new_n[d]):
            for _ in range(n):
                push(9 * 3600 + rng.below(11 * 3600), self._fill, self._course(self.outlets[col]))
        for t, name, args in self.mods.events.get(d, ()):
            push(t, getattr(self, name), *args)
        for day, est, key, qty in self.mods.losses:
            if day == d:
                push(10 * 3600 + rng.below(8 * 3600), self.ev_loss, est, key, qty)
        for est, (d0, d1, key, prob, units) in self.mods.shrink.items():
            if d0 <= d <= d1 and rng.random() < prob:
                push(rng.below(86400), self._divert, est, key, units)
        if d in self.month_end:
            for est, pairs in self.by_est.items():
                ct = self.count_t[est]
                for p in pairs:
                    push(20 * 3600 + rng.below(3600), self._expire, p)
                    push(ct, self._count, p)

    # ---- supply ------------------------------------------------------------------------
    def _new_lot(self, key: str) -> tuple[str, str]:
        self.lots += 1
        date = self.dates[self.d]
        months = self.rng.randint(7, 12) if self.rng.random() < 0.08 else P[key].shelf_months
        months += self.rng.randint(-4, 6)
        y, m = divmod(date.month - 1 + months, 12)
        exp = dt.date(date.year + y, m + 1, 1) - dt.timedelta(days=1)
        return f"{LOT_PREFIX[key]}{date:%y%m}{self.lots:04d}", exp.isoformat()

    def _import(self, t: int, p: Pair, need: int = 0) -> None:
        qty = max(math.ceil(p.ema * 75) - p.physical, need)
        if not need and qty < p.ema * 20 and p.physical > 0:
            return
        qty = max(500, math.ceil(qty / 500) * 500)
        lot, exp = self._new_lot(p.key)
        p.add(lot, exp, qty, 1)
        self.emit(t, "import", p.est, p.key, str(qty), lot=lot, exp=exp, prof=self._staff(p.est))

    def _ensure(self, t: int, sp: Pair, qty: int) -> None:
        """Make sure a supplier holds ``qty``: same-day restock from upstream if it doesn't."""
        if sp.physical >= qty:
            return
        e = self.ests[sp.est]
        if e.kind == "importer":
            self._import(t - 1800, sp, qty - sp.physical)
            return
        up = self._pair(e.supplier, sp.key)
        need = max(qty - sp.physical, math.ceil(sp.ema * 21))
        self._ensure(t - 1200, up, need)
        self._ship(t - 1100, up, sp, need, 0, "transfer_in", 0, immediate=True)

    def _order(self, t: int, p: Pair, emergency: bool, need: int = 0) -> None:
        e = self.ests[p.est]
        kind = e.kind
        cover = 21 if kind == "distributor" else (40 if kind in ("hospital", "clinic") else 35)
        pack = P[p.key].units_per_pack
        target = math.ceil(p.ema * cover) + (pack if kind != "distributor" else 0)
        qty = max(need, target - p.physical - p.transit)
        if qty <= 0 or (not emergency and qty < pack // 2 and p.physical > 0):
            return
        qty = math.ceil(qty / pack) * pack
        extra = 0
        om = self.mods.order_mult.get(p.est)
        if om and om[0] <= self.d <= om[1] and not emergency and p.key in catalog.FENTANYL_KEYS:
            extra = math.ceil(qty * (om[2] - 1) / pack) * pack
            qty += extra
        if kind == "distributor":
            delay, etype = (0 if self.rng.random() < 0.6 else 1), "transfer_in"
        else:
            delay = 0 if emergency or self.d == 0 else self.rng.pick_cw(
                (0, 1, 2, 3), (15, 60, 90, 100))
            etype = "receipt"
        sp = self._pair(e.supplier, p.key)
        self._ensure(t, sp, qty)
        lost = self.mods.lose_shipment.get(p.est)
        if lost is not None and self.d >= lost and not emergency and etype == "receipt":
            del self.mods.lose_shipment[p.est]
            self._ship(t, sp, p, qty, delay, etype, extra, lost=True)
            return
        self._ship(t, sp, p, qty, delay, etype, extra, emergency=emergency)

    def _ship(self, t: int, sp: Pair, p: Pair, qty: int, delay: int, etype: str, extra: int,
              emergency: bool = False, lost: bool = False, immediate: bool = False) -> None:
        pieces = sp.take(qty)
        sp.used += qty
        sid, did = self.ests[sp.est].id, self.ests[p.est].id
        staff = self._staff(sp.est)
        outs = [self.emit(t, "transfer_out", sp.est, p.key, str(k), cp=did, lot=lot, exp=exp,
                          prof=staff) for lot, exp, k, _s0 in pieces]
        if lost:
            self.mods.note("lost_shipment", (outs[0], p.est, p.key, qty, self.d))
            return
        p.transit += qty
        if immediate:
            self._arrive(t + 300, (t + 300, etype, p, sid, pieces, emergency, extra))
            return
        t_in = t + 3600 + self.rng.below(3 * 3600)
        if delay == 0 and t_in < 86400:
            self.push(t_in, self._arrive, (t_in, etype, p, sid, pieces, emergency, extra))
            return
        t_in = 7 * 3600 + self.rng.below(3 * 3600)
        self.arrivals.setdefault(self.d + max(1, delay), []).append(
            (t_in, etype, p, sid, pieces, emergency, extra))

    def _arrive(self, t: int, rec: tuple) -> None:
        _, etype, p, sid, pieces, emergency, extra = rec
        staff = self._staff(p.est)
        for lot, exp, k, s0 in pieces:
            p.add(lot, exp, k, s0)
            self.emit(t, etype, p.est, p.key, str(k), cp=sid, lot=lot, exp=exp, prof=staff)
            p.transit -= k
        if emergency:
            p.pending = False
        if extra:
            # The surplus of an inflated order leaves by the back door, never recorded.
            extra = min(extra, p.physical)
            p.take(extra)
            p.gap += extra

    def _stockout(self, t: int, p: Pair, need: int) -> None:
        if not p.pending:
            p.pending = True
            self.push(t + 1800, self._order, p, True, need)

    def _expire(self, t: int, p: Pair) -> None:
        nxt = self.dates[self.d] + dt.timedelta(days=1)
        for lot, exp, k, _s0 in p.expired(nxt.isoformat()):
            e = self.ests[p.est]
            staff = e.pharmacists
            prof = self.profs[staff[0]].id if staff else ""
            wit = self.profs[staff[1]].id if len(staff) > 1 else ""
            self.emit(t, "waste", p.est, p.key, str(k), lot=lot, exp=exp, prof=prof, wit=wit)

    def _count(self, t: int, p: Pair) -> None:
        qty = p.book if p.est in self.mods.falsify_counts else p.physical
        self.emit(t, "count", p.est, p.key, str(qty), prof=self._staff(p.est))
        dim = self.dates[self.d].day
        p.ema = 0.6 * p.ema + 0.4 * (p.used / dim) if p.used or p.ema else 0.0
        p.used = 0.0


class _TimeOfDay(dict):
    """Second of the day -> ``THH:MM:SS-05:00``, built on first use."""

    def __missing__(self, s: int) -> str:
        v = self[s] = f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}-05:00"
        return v


def _cum(ws: list[float]) -> list[float]:
    out, acc = [], 0.0
    for x in ws:
        acc += x
        out.append(acc)
    return out


def _norm(ws: list[float]) -> list[float]:
    s = sum(ws)
    return [x / s for x in ws]


def _mean_open(key: str) -> float:
    vals, cw = DOSES[key]
    prev, m = 0.0, 0.0
    for v, c in zip(vals, cw, strict=True):
        m += (c - prev) * math.ceil(v)
        prev = c
    return m


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


__all__ = ["Mods", "Sim", "mean_fills"]
