"""Planted behaviours of prescribers, patients, regions and certificates (and look-alikes)."""

from __future__ import annotations

import datetime as dt

from centinela.generate.patients import Course, new_course, patient_document
from centinela.generate.scenarios import Plan


def _doc(p: Plan) -> str:
    while True:
        doc = patient_document(p.rng)
        if doc.startswith("DNI:"):
            return doc


def _patient(p: Plan, outlet: int, prescribers: list[int], key: str, qty: int, days: int,
             fills: int, interval: int = 0) -> Course:
    rng = p.rng
    return Course(_doc(p), rng.choice("FM"), rng.randint(1950, 1995),
                  p.world.ests[outlet].ubigeo, outlet, prescribers, key, qty, days, fills,
                  interval=interval)


def plant(p: Plan) -> None:
    """Plant every people-side scenario and look-alike."""
    prescriber_outlier(p)
    doctor_shopping(p)
    high_mme(p)
    regional_surge(p)
    uncertified(p)
    palliative_volume(p)
    care_team(p)
    seasonal_spike(p)
    certified_before_deadline(p)


def prescriber_outlier(p: Plan) -> None:
    """A general practitioner who writes for far more patients, at higher doses, than peers."""
    w, rng = p.world, p.rng
    dept = p.busiest_dept(3, 3)
    cands = [q for q in w.dept_prescribers.get(dept, [])
             if w.profs[q].specialty == "general_medicine"]
    presc = p.pick_prof(cands or w.dept_prescribers[dept])
    d0, d1 = p.window(60, 150)
    mult = round(rng.uniform(2.5, 8.0), 1)
    fills = mult * p.baseline_fills_per_prescriber() * (d1 - d0 + 1)
    outlets = p.outlets(dept)
    n = max(6, round(fills / 3))
    for _ in range(n):
        key = rng.choice(("p50", "p75", "p100", "p100"))
        start = rng.randint(d0, max(d0, d1 - 30))
        c = _patient(p, rng.choice(outlets), [presc], key, rng.choice((10, 15)), 30,
                     rng.randint(2, 4), interval=rng.randint(16, 22))
        p.course(start, c)
    p.truth("prescriber_volume_outlier", "planted", "professional", w.profs[presc].id, d0, d1,
            ["prescriber_volume"],
            f"{w.profs[presc].specialty} prescriber writes fentanyl patch prescriptions for "
            f"{n} extra patients (about {mult}x a peer's volume) at high strengths, refilled "
            f"every 16-22 days", magnitude=mult)


def doctor_shopping(p: Plan) -> None:
    """A patient who collects patches from five or more prescribers and pharmacies."""
    w, rng = p.world, p.rng
    dept = p.busiest_dept(6, 6)
    outlets = sorted(p.outlets(dept))
    prescribers = sorted(w.dept_prescribers.get(dept, []))
    if len(outlets) < 5 or len(prescribers) < 5:
        outlets = sorted(i for v in w.dept_outlets.values() for i in v)
        prescribers = sorted(q for v in w.dept_prescribers.values() for q in v)
    n_fills = rng.randint(6, 9)
    k_out = min(len(outlets), rng.randint(5, 7))
    k_pre = min(len(prescribers), rng.randint(5, 7))
    outs = rng.sample(outlets, k_out)
    pres = rng.sample(prescribers, k_pre)
    plan = [(outs[i % k_out], pres[i % k_pre]) for i in range(n_fills)]
    interval = rng.randint(7, 11)
    d0 = p.day(30, 100)
    c = _patient(p, outs[0], pres, rng.choice(("p50", "p75")), 10, 30, n_fills, interval)
    c.plan = plan
    p.course(d0, c)
    d1 = min(p.days - 1, d0 + (n_fills - 1) * (interval + 2) + 6)
    p.truth("doctor_shopping", "planted", "patient", p.psn(c.patient_id), d0, d1,
            ["multiple_provider"],
            f"patient fills {n_fills} overlapping 30-day patch prescriptions every ~{interval} "
            f"days from {k_pre} prescribers at {k_out} pharmacies", patient_ref=c.patient_id,
            prescribers=k_pre, pharmacies=k_out)


def high_mme(p: Plan) -> None:
    """A patient on two 100 µg/h patches at once plus methadone: several hundred MME a day."""
    w, rng = p.world, p.rng
    dept = p.busiest_dept(2, 2)
    outlet = p.pick_est(p.outlets(dept))
    presc = p.pick_prof(w.dept_prescribers.get(dept) or [q for v in w.dept_prescribers.values()
                                                           for q in v])
    fills = rng.randint(4, 7)
    c = _patient(p, outlet, [presc], "p100", 20, 30, fills, interval=28)
    meth = rng.choice((90, 120))
    c.extra = [("meth", meth)]
    d0 = p.day(20, fills * 30 + 5)
    p.course(d0, c)
    mme = round(2 * 100 * 2.4 + meth / 30 * 10 * 4.7)
    p.truth("high_mme", "planted", "patient", p.psn(c.patient_id), d0,
            min(p.days - 1, d0 + fills * 30), ["high_mme"],
            f"patient receives 20 x 100 mcg/h patches (two worn at once) and {meth} methadone "
            f"10 mg tablets per 30 days, about {mme} MME/day", patient_ref=c.patient_id,
            mme_per_day=mme)


def _dept_fill_rate(p: Plan, dept: str) -> float:
    return sum(p.world.ests[i].course_rate for i in p.outlets(dept)) * 5.5


def regional_surge(p: Plan) -> None:
    """Dispensing in one department jumps to several times its level for some weeks."""
    w, rng = p.world, p.rng
    depts = [d for d in sorted(w.dept_outlets) if d != "15" and len(w.dept_outlets[d]) >= 3
             and len(w.dept_prescribers.get(d, [])) >= 4]
    if not depts:  # small worlds: the non-capital department with the most prescribers
        depts = sorted((d for d in w.dept_outlets if d != "15" and w.dept_prescribers.get(d)),
                       key=lambda d: (-len(w.dept_prescribers[d]), d))[:1] or ["15"]
    dept = rng.choice(depts)
    p.notes["surge_dept"] = dept
    d0, d1 = p.window(28, 70, earliest=90)
    mult = round(rng.uniform(2.0, 4.0), 1)
    extra = (mult - 1) * _dept_fill_rate(p, dept) * (d1 - d0 + 1)
    outlets = p.outlets(dept)
    prescribers = w.dept_prescribers[dept]
    n = max(8, round(extra / 2))
    for _ in range(n):
        presc = rng.choice(prescribers)
        sp = w.profs[presc].specialty
        c = new_course(rng, rng.choice(outlets), w.ests[outlets[0]].ubigeo, presc, sp, [], -1)
        c.ubigeo = w.ests[c.outlet].ubigeo
        c.fills_left, c.interval = 2, rng.randint(14, 20)
        p.course(rng.randint(d0, max(d0, d1 - 20)), c)
    p.truth("regional_surge", "planted", "region", dept, d0, d1, ["regional_surge"],
            f"fentanyl dispensing in department {dept} rises about {mult}x for "
            f"{d1 - d0 + 1} days: {n} extra patients across {len(outlets)} outlets and "
            f"{len(prescribers)} prescribers", magnitude=mult,
            involved_establishments=[w.ests[o].id for o in outlets])


def uncertified(p: Plan) -> None:
    """A pharmacist never certified and a prescriber whose certificate lapsed, both handling
    fentanyl after the certification deadline."""
    w, rng = p.world, p.rng
    deadline = w.deadline
    if deadline > w.end:
        return  # nothing after the deadline in this data: the scenario cannot exist
    d0 = max(0, (deadline - w.start).days)
    pharm = [i for i in w.pharmacies if w.ests[i].authorized and w.ests[i].course_rate > 0.04
             and len(w.ests[i].pharmacists) == 1]
    if pharm:
        est = p.pick_est(pharm)
        ph = w.ests[est].pharmacists[0]
        p.used_prof.add(ph)
        w.profs[ph].certified_on, w.profs[ph].certificate_id = None, ""
        p.truth("uncertified_handler", "planted", "professional", w.profs[ph].id, d0,
                p.days - 1, ["certification"],
                "pharmacist with no opioid-handling certificate dispenses fentanyl after the "
                f"certification deadline {deadline.isoformat()}")
    hosp = [h for h in w.hospitals if w.ests[h].course_rate > 0 and any(
        w.profs[q].specialty in ("oncology", "palliative_care") for q in w.ests[h].prescribers)]
    if hosp:
        h = max(hosp, key=lambda i: (w.ests[i].course_rate, i))
        pool = [q for q in w.ests[h].prescribers
                if w.profs[q].specialty in ("oncology", "palliative_care")]
        q = p.pick_prof(pool)
        lapsed = deadline - dt.timedelta(days=w.valid_days + rng.randint(20, 200))
        w.profs[q].certified_on = lapsed
        w.profs[q].certificate_id = f"CERT-{lapsed.year}-9{q:05d}"
        p.truth("uncertified_handler", "planted", "professional", w.profs[q].id, d0,
                p.days - 1, ["certification"],
                f"{w.profs[q].specialty} prescriber whose certificate of {lapsed.isoformat()} "
                f"expired keeps prescribing fentanyl patches after {deadline.isoformat()}")


# ---- look-alikes -----------------------------------------------------------------------
def palliative_volume(p: Plan) -> None:
    """A palliative-care physician with a very large but ordinary practice."""
    w, rng = p.world, p.rng
    cands = [q for v in w.dept_prescribers.values() for q in v
             if w.profs[q].specialty == "palliative_care" and q not in p.used_prof]
    if not cands:
        return
    presc = p.pick_prof(cands)
    est = w.ests[w.profs[presc].est]
    outlets = p.outlets(est.dept) or [est.idx]
    mult = round(rng.uniform(3.0, 5.0), 1)
    n = max(10, round(mult * p.baseline_fills_per_prescriber() * p.days / 4.5))
    for _ in range(n):
        c = new_course(rng, rng.choice(outlets), est.ubigeo, presc, "palliative_care", [], -1)
        c.ubigeo = w.ests[c.outlet].ubigeo
        p.course(p.day(0, 20), c)
    p.truth("palliative_high_volume", "lookalike", "professional", w.profs[presc].id, 0,
            p.days - 1, ["prescriber_volume"],
            f"palliative-care physician with about {mult}x the patients of a peer, each on "
            "ordinary doses and refill intervals", magnitude=mult)


def care_team(p: Plan) -> None:
    """A patient treated by two physicians of one care team, filling at one pharmacy."""
    w, rng = p.world, p.rng
    teams = [h for h in w.hospitals + w.clinics if w.ests[h].course_rate > 0
             and sum(w.profs[q].specialty == "oncology" for q in w.ests[h].prescribers) >= 2]
    if not teams:
        return
    h = rng.choice(sorted(teams))
    pair = [q for q in w.ests[h].prescribers if w.profs[q].specialty == "oncology"][:2]
    fills = rng.randint(6, 10)
    c = _patient(p, h, pair, rng.choice(("p25", "p50")), 10, 30, fills)
    d0 = p.day(0, fills * 30)
    p.course(d0, c)
    p.truth("care_team_patient", "lookalike", "patient", p.psn(c.patient_id), d0,
            min(p.days - 1, d0 + fills * 30), ["multiple_provider"],
            "patient alternates between two oncologists of the same hospital team and fills "
            "every prescription at that hospital's pharmacy", patient_ref=c.patient_id)


def seasonal_spike(p: Plan) -> None:
    """A regional festival: every hospital of a department operates more for ten days."""
    w, rng = p.world, p.rng
    surge = p.notes.get("surge_dept", "")
    depts = sorted({w.ests[h].dept for h in w.hospitals} - {surge, "15"})
    if not depts:
        return
    dept = rng.choice(depts)
    d0, d1 = p.window(7, 12)
    mult = round(rng.uniform(1.3, 1.6), 2)
    for h in w.hospitals + w.clinics:
        if w.ests[h].dept == dept:
            p.mods.case_mult.setdefault(h, []).append((d0, d1, mult))
    p.truth("seasonal_spike", "lookalike", "region", dept, d0, d1,
            ["regional_surge", "suspicious_order"],
            f"festival period: surgeries and ICU admissions rise {mult}x in every hospital of "
            f"department {dept} for {d1 - d0 + 1} days, stock and orders follow", magnitude=mult)


def certified_before_deadline(p: Plan) -> None:
    """A prescriber who certifies a few days before the deadline and handles fentanyl after."""
    w, rng = p.world, p.rng
    if w.deadline > w.end or w.deadline <= w.start:
        return
    pool = [q for h in w.hospitals for q in w.ests[h].anesth if q not in p.used_prof]
    if not pool:
        return
    q = p.pick_prof(pool)
    day = w.deadline - dt.timedelta(days=rng.randint(1, 10))
    w.profs[q].certified_on = day
    w.profs[q].certificate_id = f"CERT-{day.year}-8{q:05d}"
    p.truth("certified_before_deadline", "lookalike", "professional", w.profs[q].id,
            (w.deadline - w.start).days, p.days - 1, ["certification"],
            f"anesthesiologist certified on {day.isoformat()}, days before the deadline, "
            "administers fentanyl afterwards with a valid certificate")
