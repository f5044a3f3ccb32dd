"""A prescription mill at a pharmacy, and the outlets whose patient mix looks like one.

Planted after every other scenario, from a random stream of its own (``plan(p, rng)``), and
written beside the simulation rather than through it (``side_rows``): their dispensations, and
the extra stock each outlet receives for them, are rows of their own (event ids ``MX-…``,
prescriptions ``RM-…``, lots ``…M###``), so the simulation's draws, ids and lots — and so every
other scenario of a seed, its truth rows included — are those of a world without them. The
extra stock comes down the outlet's own chain on the morning of each week's first fill (an
importer's ``import``, its ``transfer_out`` to the outlet's distributor, the distributor's
``transfer_in`` and ``transfer_out``, the outlet's ``receipt``), batched within one calendar
month, so every month-end count of the simulation still matches the books.

The mill follows the red flags of the DEA/PDMP literature, varied by the seed so that no
single shape is planted: 1-3 prescribers (most, not all, from another department), one or
two high-strength products (patches of 50-100 µg/h, morphine 30 mg, methadone) in a few
fixed quantities, 0.3-2 one-off patients a day from an onset until the end of the data (or
until it stops).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from centinela.generate import catalog
from centinela.generate.catalog import FastRandom
from centinela.generate.patients import mix, patient_document, quantity_for
from centinela.generate.scenarios import ONCOLOGY_INSTITUTE, Plan
from centinela.generate.sim import LOT_PREFIX


@dataclass(slots=True)
class Fill:
    """One dispensation written beside the simulation."""

    day: int
    sec: int
    outlet: int
    key: str
    qty: int
    prescriber: int
    patient: str
    sex: str
    birth_year: int
    ubigeo: str
    days_supply: int


def _fills(p: Plan) -> list[Fill]:
    return p.side


def _add(p: Plan, rng: FastRandom, day: int, outlet: int, key: str, qty: int, presc: int,
         patient: str, sex: str, by: int, ubigeo: str, ds: int) -> None:
    if 0 <= day < p.days and (p.world.start + dt.timedelta(days=day)).day == 1:
        day += 1  # never on the 1st: a month-end count stamped the next morning stays exact
    if 0 <= day < p.days:
        p.side.append(Fill(day, 9 * 3600 + rng.below(11 * 3600), outlet, key, qty, presc,
                           patient, sex, by, ubigeo, ds))


def _course(p: Plan, rng: FastRandom, day: int, outlet: int, key: str, qty: int, ds: int,
            fills: int, prescribers: list[int], ubigeo: str,
            plan: list[tuple[int, int]] | None = None) -> None:
    """A patient's fills every ``ds`` days (one to two days early), at ``outlet`` or as
    ``plan`` says (outlet, prescriber) fill by fill."""
    doc, sex, by = _doc(rng), "F" if rng.random() < 0.5 else "M", rng.randint(1940, 2000)
    d = day
    for j in range(fills):
        o, q = plan[j] if plan else (outlet, prescribers[rng.below(len(prescribers))])
        _add(p, rng, d, o, key, qty, q, doc, sex, by, ubigeo, ds)
        d += ds - rng.below(3)

_MILL_PRODUCTS = {"p50": (10, 15), "p75": (10,), "p100": (10, 15), "mort": (60, 90),
                  "meth": (60, 90, 120)}


def plan(p: Plan, rng: FastRandom) -> None:
    """Plant the prescription mill and its look-alikes with ``rng`` (never ``p.rng``)."""
    prescription_mill(p, rng)
    oncology_pharmacy(p, rng)
    discharge_pharmacy(p, rng)
    tourist_pharmacy(p, rng)


def _doc(rng: FastRandom) -> str:
    while True:
        doc = patient_document(rng)
        if not doc.startswith("PSN:"):
            return doc


def _retail(p: Plan, cond=lambda i: True) -> list[int]:  # noqa: ANN001
    """Authorized dispensing pharmacies and boticas not yet used, outside the department of
    the planted regional surge (its extra dispensations would blur that scenario)."""
    w = p.world
    surge = p.notes.get("surge_dept", "")
    return sorted(i for i in w.pharmacies if w.ests[i].authorized and w.ests[i].course_rate > 0
                  and i not in p.used_est and w.ests[i].dept != surge and cond(i))


def _pick(rng: FastRandom, pool: list[int]) -> int:
    return pool[rng.below(len(pool))]


def prescription_mill(p: Plan, rng: FastRandom) -> None:
    """A pharmacy that starts filling many high-strength opioid prescriptions for one-off
    patients, written by one to three prescribers who mostly work in another department."""
    w = p.world
    depts = sorted(d for d in w.dept_outlets if any(
        o in w.pharmacies for o in w.dept_outlets[d]) and d != p.notes.get("surge_dept"))
    pool = _retail(p, lambda i: len(w.ests[i].pharmacists) == 1) or _retail(p)
    if not pool or not depts:
        return
    outlet = _pick(rng, pool)
    p.used_est.add(outlet)
    e = w.ests[outlet]
    elsewhere = sorted(q for d, ids in w.dept_prescribers.items() if d != e.dept for q in ids
                       if q not in p.used_prof)
    local = sorted(q for q in w.dept_prescribers.get(e.dept, []) if q not in p.used_prof)
    n_presc = rng.randint(1, 3)
    presc: list[int] = []
    for _ in range(n_presc):
        src = elsewhere if (rng.random() < 0.8 or not local) and elsewhere else local
        src = [q for q in src if q not in presc] or src
        if not src:
            break
        presc.append(_pick(rng, src))
    if not presc:
        return
    p.used_prof.update(presc)
    keys = sorted(_MILL_PRODUCTS)
    mix = [keys[rng.below(len(keys))]]
    if rng.random() < 0.5:
        mix.append([k for k in keys if k != mix[0]][rng.below(len(keys) - 1)])
    # Each prescriber writes one quantity per product (identical prescriptions).
    sig = {(q, k): _MILL_PRODUCTS[k][rng.below(len(_MILL_PRODUCTS[k]))] for q in presc for k in mix}
    rate = round(math.exp(rng.uniform(math.log(0.2), math.log(1.5))), 2)  # patients a day
    d0 = rng.randint(min(60, p.days // 4), max(min(60, p.days // 4), p.days - 150))
    d1 = p.days - 1 if rng.random() < 0.7 else min(p.days - 1, d0 + rng.randint(100, 200))
    n = 0
    d = float(d0)
    while True:
        d += rng.expovariate(rate)
        if d > d1:
            break
        q = presc[rng.below(len(presc))]
        k = mix[rng.below(len(mix))]
        ubigeo = e.ubigeo if rng.random() < 0.7 else w.ests[_pick(rng, sorted(
            i for v in w.dept_outlets.values() for i in v))].ubigeo
        _add(p, rng, int(d), outlet, k, sig[(q, k)], q, _doc(rng),
             "F" if rng.random() < 0.45 else "M", rng.randint(1955, 2000), ubigeo, 30)
        n += 1
    names = [w.profs[q].id for q in presc]
    away = sum(w.profs[q].ubigeo[:2] != e.dept for q in presc)
    p.truth("prescription_mill", "planted", "establishment", e.id, d0, d1,
            ["pharmacy_patient_mix"],
            f"{e.kind} fills about {rate} one-off high-strength opioid prescriptions a day "
            f"({', '.join(mix)}; {n} patients, one fill each, fixed quantities) written by "
            f"{len(presc)} prescriber(s), {away} of them from another department",
            involved_professionals=names, magnitude=rate, patients=n)


def oncology_pharmacy(p: Plan, rng: FastRandom) -> None:
    """A pharmacy next to the cancer institute: its oncologists and palliative physicians
    write most of its prescriptions, for patients from many departments, who come back."""
    w = p.world
    onco = [h for h in w.hospitals if w.ests[h].name.upper() == ONCOLOGY_INSTITUTE.upper()]
    hosp = onco or sorted((h for h in w.hospitals if any(
        w.profs[q].specialty in ("oncology", "palliative_care") for q in w.ests[h].prescribers)),
        key=lambda h: (-w.ests[h].course_rate, h))[:1]
    if not hosp:
        return
    h = w.ests[hosp[0]]
    docs = [q for q in h.prescribers if w.profs[q].specialty in ("oncology", "palliative_care")]
    pool = _retail(p, lambda i: w.ests[i].dept == h.dept) or _retail(p)
    if not docs or not pool:
        return
    outlet = _pick(rng, pool)
    p.used_est.add(outlet)
    e = w.ests[outlet]
    towns = sorted(w.ests[i].ubigeo for v in w.dept_outlets.values() for i in v)
    rate = round(rng.uniform(0.15, 0.4), 2)
    n = 0
    d = -150.0  # the panel already in treatment on the first day (no ramp from zero)
    while True:
        d += rng.expovariate(rate)
        if d >= p.days - 1:
            break
        q = docs[rng.below(len(docs))]
        keys, cw = mix(w.profs[q].specialty)
        key = rng.pick_cw(keys, cw)
        ds = (14, 15, 28, 30)[rng.below(4)]
        fills = 1
        while rng.random() > 1 / 5.0:  # cancer pain courses: about five fills
            fills += 1
        _course(p, rng, int(d), outlet, key, quantity_for(key, ds, rng), ds, fills, [q],
                towns[rng.below(len(towns))])
        n += 1
    p.truth("oncology_pharmacy", "lookalike", "establishment", e.id, 0, p.days - 1,
            ["pharmacy_patient_mix"],
            f"{e.kind} by {h.name}: {len(docs)} oncologists / palliative physicians write "
            f"about {n} new courses a year for patients from every department, refilled as "
            "usual (few prescribers, patients from far away, but chronic repeat patients)")


def discharge_pharmacy(p: Plan, rng: FastRandom) -> None:
    """A pharmacy beside a hospital that opens a surgical wing: one-off patients every day,
    short supplies (3-7 days of extended-release morphine 30 mg), local surgeons."""
    w = p.world
    hosp = sorted(h for h in w.hospitals if w.ests[h].surgeons
                  and _retail(p, lambda i, d=w.ests[h].dept: w.ests[i].dept == d))
    if not hosp:
        return
    h = w.ests[_pick(rng, hosp)]
    outlet = _pick(rng, _retail(p, lambda i: w.ests[i].dept == h.dept))
    p.used_est.add(outlet)
    e = w.ests[outlet]
    d0 = rng.randint(min(30, p.days // 4), max(min(30, p.days // 4), p.days // 2))
    rate = round(rng.uniform(0.5, 1.5), 2)
    n = 0
    d = float(d0)
    while True:
        d += rng.expovariate(rate)
        if d >= p.days - 1:
            break
        q = h.surgeons[rng.below(len(h.surgeons))]
        days = (3, 5, 7)[rng.below(3)]
        _add(p, rng, int(d), outlet, "mort", 2 * days, q, _doc(rng),
             "F" if rng.random() < 0.5 else "M", rng.randint(1940, 2005), e.ubigeo, days)
        n += 1
    p.truth("discharge_pharmacy", "lookalike", "establishment", e.id, d0, p.days - 1,
            ["pharmacy_patient_mix"],
            f"{e.kind} beside {h.name}, whose new surgical wing discharges about {rate} patients "
            f"a day with 3-7 days of morphine ({n} one-off patients, {len(h.surgeons)} local "
            "surgeons): one-off patients, but short supplies from local prescribers")


def tourist_pharmacy(p: Plan, rng: FastRandom) -> None:
    """A pharmacy of a tourist town: chronic patients from Lima on holiday fill one month of
    their usual treatment there, from a local physician; they fill at home before and after."""
    w = p.world
    towns = sorted(d for d in w.dept_outlets if d != "15" and w.dept_prescribers.get(d)
                   and _retail(p, lambda i, d=d: w.ests[i].dept == d))
    home_pool = sorted(i for i in w.dept_outlets.get("15", []) if i not in p.used_est)
    home_docs = sorted(w.dept_prescribers.get("15", []))
    if not towns or not home_pool or not home_docs:
        return
    dept = "08" if "08" in towns else towns[rng.below(len(towns))]  # Cusco when it exists
    outlet = _pick(rng, _retail(p, lambda i: w.ests[i].dept == dept))
    p.used_est.add(outlet)
    e = w.ests[outlet]
    local = sorted(w.dept_prescribers[dept])
    season = (max(0, p.days // 2 - 45), min(p.days - 1, p.days // 2 + 45))
    n = rng.randint(40, 90)
    for _ in range(n):
        home = _pick(rng, home_pool)
        doc = _pick(rng, home_docs)
        # On treatment all year (the home fills exist anyway: no national bump), one month of
        # it filled on the trip.
        first = -rng.below(28)
        fills = p.days // 28 + 2
        trip = max(0, min(fills - 1, round((rng.randint(season[0], season[1]) - first) / 29)))
        key = ("p25", "p50", "mort")[rng.below(3)]
        plan = [(outlet, _pick(rng, local)) if j == trip else (home, doc) for j in range(fills)]
        _course(p, rng, first, home, key, 60 if key == "mort" else 10, 30, fills, [doc],
                w.ests[home].ubigeo, plan)
    p.truth("tourist_pharmacy", "lookalike", "establishment", e.id, season[0], season[1],
            ["pharmacy_patient_mix"],
            f"{e.kind} of a tourist town: {n} chronic patients from Lima fill one month of "
            "their year-round treatment there in the high season, prescribed by local physicians "
            "(patients from elsewhere, but with fills at home before and after)")


def side_rows(p: Plan) -> list[tuple]:
    """Return the movement rows of the fills planted here and of their extra stock, in time
    order (see the module's docstring)."""
    w = p.world
    fills = sorted(_fills(p), key=lambda f: (f.day, f.sec, f.outlet))
    if not fills:
        return []
    ids = [e.id for e in w.ests]
    pcode = {x.key: x.code for x in catalog.PRODUCTS}
    batches: dict[tuple[int, str, int], list[Fill]] = {}
    for f in fills:
        date = w.start + dt.timedelta(days=f.day)
        batches.setdefault((f.outlet, f.key, date.year * 100 + date.month
                            + (date.day - 1) // 7 * 10_000_000), []).append(f)
    out: list[tuple] = []
    seq = {"ev": 0, "rx": 0, "lot": 0}

    def stamp(day: int, sec: int) -> str:
        date = w.start + dt.timedelta(days=day)
        return f"{date.isoformat()}T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}-05:00"

    def staff(est: int) -> str:
        ph = w.ests[est].pharmacists
        return w.profs[ph[0]].id if ph else ""

    def row(day: int, sec: int, etype: str, est: int, key: str, qty: int, cp: str = "",
            lot: str = "", exp: str = "", rx: str = "", presc: str = "", pat: str = "",
            sex: str = "", by: str = "", pub: str = "", ds: str = "") -> None:
        seq["ev"] += 1
        out.append((day, sec, seq["ev"], (f"MX-{seq['ev']:09d}", etype, stamp(day, sec), ids[est],
                                          pcode[key], str(qty), cp, lot, exp, "", rx, presc,
                                          staff(est), pat, sex, by, pub, ds, "")))

    for (outlet, key, _), group in sorted(batches.items(), key=lambda kv: (kv[1][0].day, kv[0])):
        day = group[0].day
        units = sum(f.qty for f in group)
        dist = w.ests[outlet].supplier
        imp = w.ests[dist].supplier if dist >= 0 else -1
        seq["lot"] += 1
        date = w.start + dt.timedelta(days=day)
        months = catalog.BY_KEY[key].shelf_months
        y, m = divmod(date.month - 1 + months, 12)
        exp = (dt.date(date.year + y, m + 1, 1) - dt.timedelta(days=1)).isoformat()
        lot = f"{LOT_PREFIX[key]}{date:%y%m}M{seq['lot']:03d}"
        if dist >= 0 and imp >= 0:
            row(day, 5 * 3600, "import", imp, key, units, lot=lot, exp=exp)
            row(day, 5 * 3600 + 600, "transfer_out", imp, key, units, cp=ids[dist], lot=lot,
                exp=exp)
            row(day, 5 * 3600 + 1800, "transfer_in", dist, key, units, cp=ids[imp], lot=lot,
                exp=exp)
            row(day, 6 * 3600, "transfer_out", dist, key, units, cp=ids[outlet], lot=lot, exp=exp)
            row(day, 7 * 3600, "receipt", outlet, key, units, cp=ids[dist], lot=lot, exp=exp)
        for f in group:
            seq["rx"] += 1
            row(f.day, f.sec, "dispense", f.outlet, f.key, f.qty, lot=lot, exp=exp,
                rx=f"RM-{seq['rx']:08d}", presc=w.profs[f.prescriber].id, pat=f.patient,
                sex=f.sex, by=str(f.birth_year), pub=f.ubigeo, ds=str(f.days_supply))
    out.sort(key=lambda r: (r[0], r[1], r[2]))
    return [r[3] for r in out]
