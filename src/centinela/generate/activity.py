"""What happens on the ward and at the counter: anaesthesia and ICU cases with witnessed
residual waste, outpatient dispensing on special prescriptions, and the scenario happenings."""

from __future__ import annotations

import math
from bisect import bisect
from typing import TYPE_CHECKING, Any

from centinela.generate import catalog

if TYPE_CHECKING:
    from centinela.generate.patients import Course
    from centinela.generate.stock import Pair

P = catalog.BY_KEY
# Dose of one case in units (ampoules/vials) by product: values, cumulative weights.
DOSES = {
    "fen2": ((0.5, 1.0, 1.5, 2.0), (0.2, 0.6, 0.85, 1.0)),
    "fen10": ((0.4, 0.6, 1.0, 1.5, 2.0), (0.2, 0.45, 0.75, 0.9, 1.0)),
    "remi": ((0.5, 1.0, 2.0), (0.3, 0.85, 1.0)),
    "suf": ((0.2, 0.3, 0.5, 1.0), (0.3, 0.6, 0.9, 1.0)),
    "mora": ((0.2, 0.3, 0.5, 1.0), (0.3, 0.6, 0.9, 1.0)),
}
_YEARS = [str(1940 + i) for i in range(68)]
SERIALIZED = frozenset(p.key for p in catalog.PRODUCTS if p.serialized)


class _Quantities(dict):
    """Fraction of a unit -> its text (``0.5``, ``1``), formatted once."""

    def __missing__(self, x: float) -> str:
        v = self[x] = f"{round(x, 4):g}"
        return v


_fq = _Quantities().__getitem__


class Activity:
    """Mixin of :class:`~centinela.generate.sim.Sim`: the movements of use."""

    # Provided by Sim.
    rng: Any
    ests: list
    profs: list
    mods: Any
    d: int
    rx: int
    surg: dict
    icu: dict
    nurse_cw: dict
    pairs: dict
    month_end: set
    count_t: dict

    # ---- hospital cases ----------------------------------------------------------------
    def _case(self, t: int, h: int, icu: bool) -> None:
        rng, e = self.rng, self.ests[h]
        rnd = rng.random
        keys, cw = self.icu[h] if icu else self.surg[h]
        key = keys[bisect(cw, rnd() * cw[-1])]
        vals, dcw = DOSES[key]
        dose = vals[bisect(dcw, rnd() * dcw[-1])]
        ncw = self.nurse_cw[h]
        nurse = e.nurses[bisect(ncw, rnd() * ncw[-1])]
        n_open = math.ceil(dose)
        dv = self.mods.waste_divert.get(nurse)
        if dv and dv[0] <= self.d <= dv[1] and key in catalog.FENTANYL_KEYS:
            # Records a smaller dose and "wastes" the rest, sometimes a whole extra ampoule.
            dose = max(0.25, dose - rng.pick((0.25, 0.5, 0.5, 0.75)))
            if rng.random() < 0.35:
                n_open += 1
        p = self.pairs[(h, key)]
        if p.physical < n_open:
            self._stockout(t, p, n_open)
            return
        p.used += n_open
        if icu and e.intens:
            presc = rng.pick(e.intens)
        elif key == "mora" and e.surgeons and rng.random() < 0.6:
            presc = rng.pick(e.surgeons)
        else:
            presc = rng.pick(e.anesth)
        nid, pid = self.profs[nurse].id, self.profs[presc].id
        sw = self.mods.self_witness.get(nurse)
        if sw and sw[0] <= self.d <= sw[1] and rng.random() < 0.85:
            wit = nid
        elif rng.random() < 0.55 and len(e.nurses) > 1:
            other = rng.pick(e.nurses)
            wit = self.profs[other].id if other != nurse else pid
        else:
            wit = pid
        pat = f"DNI:{10_000_000 + int(rnd() * 69_999_999)}"
        sex = "F" if rnd() < 0.55 else "M"
        by = _YEARS[int(rnd() * 68)]
        pieces = p.take(n_open)
        tw = t + 300 + int(rnd() * 2400)
        if self.d in self.month_end:
            # The residual is documented before the month-end count, as counts must match books.
            ct = self.count_t[h]
            if t <= ct < tw:
                t = min(t, ct - 2)
                tw = max(t + 1, ct - 1 - rng.below(240))
        if key in SERIALIZED:
            left = dose
            for lot, exp, k, s0 in pieces:
                for i in range(k):
                    serial = catalog.gs1_serial(lot, s0 + i)
                    frac = 1.0 if left >= 1 else max(0.0, left)
                    left -= frac
                    if frac > 0:
                        self.emit(t, "administer", h, key, _fq(frac), lot=lot, exp=exp,
                                  serial=serial, presc=pid, prof=nid, pat=pat, sex=sex, by=by,
                                  pub=e.ubigeo)
                    if frac < 1:
                        self.emit(tw, "waste", h, key, _fq(1 - frac), lot=lot, exp=exp,
                                  serial=serial, prof=nid, wit=wit)
            cap = self.mods.capture_serial.get(h)
            if cap is not None and self.d >= cap:
                del self.mods.capture_serial[h]
                self.mods.note("serial_source", (serial, h, self.d))
            return
        lot, exp = pieces[0][0], pieces[0][1]
        self.emit(t, "administer", h, key, _fq(dose), lot=lot, exp=exp, presc=pid, prof=nid,
                  pat=pat, sex=sex, by=by, pub=e.ubigeo)
        if n_open - dose > 1e-9:
            self.emit(tw, "waste", h, key, _fq(n_open - dose), lot=lot, exp=exp, prof=nid, wit=wit)

    # ---- outpatient dispensing ---------------------------------------------------------
    def _fill(self, t: int, c: Course) -> None:
        rng = self.rng
        if c.plan:
            outlet, presc = c.plan[c.fill_no]
        else:
            outlet = c.alt_outlet if c.alt_outlet >= 0 and rng.random() < 0.3 else c.outlet
            presc = c.prescribers[0] if len(c.prescribers) == 1 else rng.pick(c.prescribers)
        items = [(c.key, c.qty), *c.extra]
        pairs = [self._pair(outlet, k) for k, _ in items]
        short = [(p, q) for p, (_, q) in zip(pairs, items, strict=True) if p.physical < q]
        if short:
            for p, q in short:
                self._stockout(t, p, q)
            if c.retries < 4:
                c.retries += 1
                self._push_course(self.d + 1, c)
            return
        c.retries = 0
        e = self.ests[outlet]
        ph = e.pharmacists
        staff = self.profs[ph[0] if len(ph) == 1 else rng.pick(ph)].id if ph else ""
        pid = self.profs[presc].id
        for p, (k, q) in zip(pairs, items, strict=True):
            self.rx += 1
            pieces = p.take(q)
            p.used += q
            self.emit(t, "dispense", outlet, k, str(q), lot=pieces[0][0], exp=pieces[0][1],
                      rx=f"RE-{self.rx:08d}", presc=pid, prof=staff, pat=c.patient_id,
                      sex=c.sex, by=str(c.birth_year), pub=c.ubigeo, ds=str(c.days_supply))
        c.fill_no += 1
        c.fills_left -= 1
        if c.fills_left > 0:
            if c.interval:
                gap = c.interval + rng.below(3)
            else:
                gap = c.days_supply - rng.below(c.early + 1)
            self._push_course(self.d + max(1, gap), c)

    # ---- scenario happenings -----------------------------------------------------------
    def _divert(self, t: int, est: int, key: str, units: int) -> None:
        """Take units off the shelf without any record (shrinkage)."""
        p = self.pairs.get((est, key))
        if p is None or p.physical <= units:
            return
        for lot, _exp, k, s0 in p.take(units):
            self.mods.note("diverted", (est, key, lot, s0, k, self.d))
        p.gap += units

    def ev_loss(self, t: int, est: int, key: str, qty: int) -> None:
        """Report a loss or theft of ``qty`` units."""
        p = self.pairs.get((est, key))
        if p is None or p.physical < qty:
            return
        pieces = p.take(qty)
        e = self.ests[est]
        staff = self.profs[e.pharmacists[0]].id if e.pharmacists else ""
        eid = self.emit(t, "loss", est, key, str(qty), lot=pieces[0][0], exp=pieces[0][1],
                        prof=staff)
        self.mods.note("loss", (eid, est, key, qty, self.d))

    def ev_serial_reuse(self, t: int, est: int) -> None:
        """Administer one of ``est``'s ampoules under a serial already used elsewhere."""
        src = self.mods.record.get("serial_source")
        p = self.pairs.get((est, "fen2"))
        if not src or p is None or p.physical < 1:
            self.mods.events.setdefault(self.d + 1, []).append((t, "ev_serial_reuse", (est,)))
            return
        serial = src[0][0]
        lot = serial[:-6]
        e = self.ests[est]
        pieces = p.take(1)
        p.used += 1
        nurse = self.profs[self.rng.pick(e.nurses)].id
        presc = self.profs[self.rng.pick(e.anesth)].id
        self.emit(t, "administer", est, "fen2", "1", lot=lot, exp=pieces[0][1], serial=serial,
                  presc=presc, prof=nurse, pat=f"DNI:{10_000_000 + self.rng.below(69_999_999)}",
                  sex="M", by=str(self.rng.randint(1950, 2000)), pub=e.ubigeo)
        self.mods.note("serial_reuse", (serial, est, self.d))

    def ev_ship(self, t: int, est: int, key: str, qty: int) -> None:
        """Ship ``qty`` units to ``est`` from its distributor whatever its licence says."""
        p = self._pair(est, key)
        p.stocked = False  # these establishments never place regular orders
        sp = self._pair(self.ests[est].supplier, key)
        self._ensure(t, sp, qty)
        self._ship(t, sp, p, qty, self.rng.randint(0, 2), "receipt", 0)
        self.mods.note("irregular_receipt", (est, key, qty, self.d))

    # Provided by Sim (declared for type checkers).
    def emit(self, *a: Any, **k: Any) -> str: ...  # pragma: no cover
    def _pair(self, est: int, key: str) -> Pair: ...  # pragma: no cover
    def _stockout(self, t: int, p: Pair, need: int) -> None: ...  # pragma: no cover
    def _push_course(self, day: int, c: Course) -> None: ...  # pragma: no cover
    def _ensure(self, t: int, sp: Pair, qty: int) -> None: ...  # pragma: no cover
    def _ship(self, *a: Any, **k: Any) -> None: ...  # pragma: no cover
