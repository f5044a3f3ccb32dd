"""Planted behaviours along the supply chain and on the wards (and their look-alikes)."""

from __future__ import annotations

import datetime as dt

from centinela.generate import catalog
from centinela.generate.scenarios import Plan
from centinela.generate.seizures import seizure_row
from centinela.generate.sim import Sim
from centinela.generate.world import ONCOLOGY_INSTITUTE


def prepare(p: Plan) -> None:
    """Make sure an unauthorized botica exists before anyone picks outlets."""
    w = p.world
    unauth = [i for i in w.pharmacies if not w.ests[i].authorized]
    if unauth:
        return
    stores = [i for i in w.pharmacies if w.ests[i].kind == "drugstore"] or w.pharmacies
    i = p.rng.choice(sorted(stores))
    e = w.ests[i]
    e.authorized, e.expires, e.course_rate = False, None, 0.0
    outs = w.dept_outlets.get(e.dept, [])
    if i in outs:
        outs.remove(i)
    for q in e.pharmacists:
        w.profs[q].handler = False


def plant(p: Plan) -> None:
    """Plant every supply-side scenario and look-alike."""
    suspicious_orders(p)
    shrinkage_and_seizures(p)
    waste_diversion(p)
    self_witnessed(p)
    repeated_loss(p)
    serial_duplicate(p)
    shipment_not_received(p)
    unauthorized_receipt(p)
    expired_licence(p)
    oncology_institute(p)
    icu_expansion(p)
    icu_nurse_volume(p)
    breakage(p)
    licence_renewed(p)


def _pharmacies(p: Plan, min_rate: float = 0.0) -> list[int]:
    w = p.world
    return [i for i in w.pharmacies if w.ests[i].authorized and w.ests[i].course_rate > min_rate]


def _hospitals(p: Plan, min_nurses: int = 3) -> list[int]:
    w = p.world
    return [h for h in w.hospitals if len(w.ests[h].nurses) >= min_nurses]


def suspicious_orders(p: Plan) -> None:
    """A pharmacy's fentanyl orders jump to several times normal; the surplus disappears."""
    w, rng = p.world, p.rng
    pool = _pharmacies(p)
    rates = sorted(w.ests[i].course_rate for i in pool)
    est = p.pick_est(pool, lambda i: w.ests[i].course_rate >= rates[len(rates) // 2])
    d0, d1 = p.window(45, 120, earliest=100)
    mult = round(rng.uniform(2.5, 8.0), 1)
    p.mods.order_mult[est] = (d0, d1, mult)
    p.mods.falsify_counts.add(est)
    p.truth("suspicious_orders", "planted", "establishment", w.ests[est].id, d0, d1,
            ["suspicious_order", "inventory_reconciliation"],
            f"{w.ests[est].kind} orders about {mult}x its usual fentanyl quantities while its "
            "dispensing stays flat; the surplus leaves unrecorded and counts are falsified to "
            "match the books", magnitude=mult)


def shrinkage_and_seizures(p: Plan) -> None:
    """Ampoules vanish from a hospital's shelf; some are later seized on the street."""
    w, rng = p.world, p.rng
    h = p.pick_est(_hospitals(p), lambda i: w.ests[i].beds >= 40)
    d0, d1 = p.window(60, 150)
    prob, units = round(rng.uniform(0.3, 0.6), 2), rng.randint(1, 3)
    p.mods.shrink[h] = (d0, d1, "fen2", prob, units)
    p.truth("inventory_shrinkage", "planted", "establishment", w.ests[h].id, d0, d1,
            ["inventory_reconciliation"],
            f"about {units} fentanyl ampoule(s) leave the shelf unrecorded on {int(prob * 100)}% "
            "of days; monthly counts come out below the books", magnitude=round(prob * units, 2))
    code = catalog.BY_KEY["fen2"].code
    seizure_rng = catalog.FastRandom(rng.getrandbits(32))

    def seizures(sim: Sim, seized: list[tuple]) -> list[dict]:
        taken = [r for r in p.mods.record.get("diverted", ()) if r[0] == h]
        if not taken:
            return []
        out = []
        dept_codes = sorted(c for c in _district_codes() if c[:2] == w.ests[h].dept) or \
            [w.ests[h].ubigeo]
        for n, (_est, _key, lot, s0, k, day) in enumerate(
                (taken[len(taken) // 3], taken[(2 * len(taken)) // 3])):
            seen = min(p.days - 1, day + seizure_rng.randint(4, 30))
            when = f"{p.date(seen)}T{seizure_rng.randint(0, 23):02d}:{seizure_rng.randint(0, 59):02d}:00-05:00"
            sid = f"INC-{p.date(seen)[:4]}-9{len(seized) + 1:04d}"
            place = seizure_rng.choice(dept_codes)
            if n == 0:
                seized.append(seizure_row(sid, when, place, "PNP-DIRANDRO", "street", "fentanyl",
                                          form="ampoule", units=str(k), product=code, lot=lot))
                out.append(p.row("seized_lot_trace", "lot", lot, day, seen,
                                 f"{k} ampoule(s) of lot {lot} seized on the street (seizure "
                                 f"{sid}); last custodian {w.ests[h].id}", seizure_id=sid))
            else:
                serial = catalog.gs1_serial(lot, s0)
                seized.append(seizure_row(sid, when, place, "PNP-DIRANDRO", "street", "fentanyl",
                                          form="ampoule", units="1", product=code, lot=lot,
                                          serial=serial))
                out.append(p.row("seized_serial_trace", "serial", serial, day, seen,
                                 f"ampoule serial {serial} seized (seizure {sid}); it was last "
                                 f"received by {w.ests[h].id} and never used there",
                                 seizure_id=sid))
        return out

    p.later.append(seizures)


def _district_codes() -> list[str]:
    from centinela.reference import ubigeo

    return [c for c, d in ubigeo.districts().items() if d.population > 30_000]


def waste_diversion(p: Plan) -> None:
    """A nurse who records small doses and 'wastes' the rest, sometimes a whole ampoule."""
    w = p.world
    h = p.pick_est(_hospitals(p, 5))
    nurse = p.pick_prof(w.ests[h].nurses)
    d0, d1 = p.window(60, 180)
    p.mods.waste_divert[nurse] = (d0, d1)
    p.truth("waste_diversion", "planted", "professional", w.profs[nurse].id, d0, d1,
            ["waste_share"],
            "nurse documents smaller fentanyl doses and wastes the remainder (and now and then "
            "a full ampoule), so her waste share is far above colleagues on the same product")


def self_witnessed(p: Plan) -> None:
    """A nurse who signs as the witness of her own waste."""
    w = p.world
    # A ward busy enough that "most of her waste" is several events, not one.
    h = p.pick_est(_hospitals(p, 3), lambda i: w.ests[i].beds >= 40)
    nurse = p.pick_prof(w.ests[h].nurses)
    d0, d1 = p.window(60, 150)
    p.mods.self_witness[nurse] = (d0, d1)
    p.truth("self_witnessed_waste", "planted", "professional", w.profs[nurse].id, d0, d1,
            ["self_witnessed_waste"],
            "nurse records herself as the witness of most of her fentanyl waste")


def repeated_loss(p: Plan) -> None:
    """An establishment reporting loss or theft again and again."""
    w, rng = p.world, p.rng
    est = p.pick_est(w.clinics + _pharmacies(p, 0.03))
    key = "fen2" if w.ests[est].kind == "clinic" else "p25"
    d0, d1 = p.window(60, 120)
    n = rng.randint(4, 8)
    days = sorted(rng.sample(range(d0, d1 + 1), min(n, d1 - d0 + 1)))
    for d in days:
        p.mods.losses.append((d, est, key, rng.randint(1, 4)))

    def done(sim: Sim, seized: list[tuple]) -> list[dict]:
        got = [r for r in p.mods.record.get("loss", ()) if r[1] == est]
        return [p.row("repeated_loss", "establishment", w.ests[est].id, d0, d1,
                      f"{len(got)} loss/theft reports of {catalog.BY_KEY[key].name} in "
                      f"{d1 - d0 + 1} days", reports=len(got))] if len(got) >= 3 else []

    p.later.append(done)


def serial_duplicate(p: Plan) -> None:
    """An ampoule serial used at one hospital turns up again at another (relabelled unit)."""
    w, rng = p.world, p.rng
    a = p.pick_est(_hospitals(p))
    b = p.pick_est(_hospitals(p))
    d0 = p.day(30, 60)
    p.mods.capture_serial[a] = d0
    reuse = d0 + rng.randint(7, 40)
    p.mods.events.setdefault(reuse, []).append((10 * 3600 + rng.randrange(8 * 3600),
                                                "ev_serial_reuse", (b,)))

    def done(sim: Sim, seized: list[tuple]) -> list[dict]:
        src = p.mods.record.get("serial_source")
        again = p.mods.record.get("serial_reuse")
        if not src or not again:
            return []
        serial = src[0][0]
        return [p.row("serial_duplicate", "serial", serial, src[0][2], again[0][2],
                      f"ampoule serial {serial} administered at {w.ests[a].id} and again at "
                      f"{w.ests[b].id}")]

    p.later.append(done)


def shipment_not_received(p: Plan) -> None:
    """A distributor ships to a pharmacy and the goods never arrive."""
    w = p.world
    est = p.pick_est(_pharmacies(p, 0.03))
    p.mods.lose_shipment[est] = p.day(30, 45)

    def done(sim: Sim, seized: list[tuple]) -> list[dict]:
        rec = [r for r in p.mods.record.get("lost_shipment", ()) if r[1] == est]
        if not rec:
            return []
        eid, _, key, qty, day = rec[0]
        sup = w.ests[w.ests[est].supplier].id
        return [p.row("shipment_not_received", "shipment", eid, day, p.days - 1,
                      f"{sup} ships {qty} x {catalog.BY_KEY[key].name} to {w.ests[est].id} "
                      "(transfer_out); no receipt is ever reported")]

    p.later.append(done)


def unauthorized_receipt(p: Plan) -> None:
    """A botica without a controlled-medicines licence receives fentanyl."""
    w, rng = p.world, p.rng
    est = p.pick_est([i for i in w.pharmacies if not w.ests[i].authorized])
    d0, d1 = p.window(40, 120)
    n = rng.randint(2, 4)
    for d in sorted(rng.sample(range(d0, d1 + 1), min(n, d1 - d0 + 1))):
        key = rng.choice(("p50", "fen2", "p25"))
        p.mods.events.setdefault(d, []).append(
            (9 * 3600 + rng.randrange(6 * 3600), "ev_ship", (est, key, 5 * rng.randint(2, 10))))
    p.truth("unauthorized_receipt", "planted", "establishment", w.ests[est].id, d0, d1,
            ["unauthorized_holder"],
            f"botica not authorized for controlled medicines receives {n} fentanyl shipments "
            "from its distributor")


def expired_licence(p: Plan) -> None:
    """A pharmacy keeps receiving fentanyl after its licence ran out."""
    w = p.world
    est = p.pick_est(_pharmacies(p, 0.03))
    d = p.day(60, 100)
    w.ests[est].expires = w.start + dt.timedelta(days=d)
    p.truth("expired_licence_receipt", "planted", "establishment", w.ests[est].id, d + 1,
            p.days - 1, ["unauthorized_holder"],
            f"pharmacy licence expired on {p.date(d)} and was not renewed; monthly fentanyl "
            "receipts continue")


# ---- look-alikes -----------------------------------------------------------------------
def oncology_institute(p: Plan) -> None:
    """The regional cancer institute: big orders, all matched by dispensing."""
    w = p.world
    ids = [h for h in w.hospitals if w.ests[h].name == ONCOLOGY_INSTITUTE.title()]
    if not ids:
        return
    p.used_est.add(ids[0])
    p.truth("oncology_institute_orders", "lookalike", "establishment", w.ests[ids[0]].id, 0,
            p.days - 1, ["suspicious_order", "inventory_reconciliation"],
            "regional cancer institute orders far more patches than hospitals of its size, "
            "all of it dispensed to its patients")


def icu_expansion(p: Plan) -> None:
    """A hospital opens new ICU beds: administrations and orders grow together."""
    w, rng = p.world, p.rng
    h = p.pick_est(_hospitals(p), lambda i: bool(w.ests[i].intens))
    d0 = p.day(90, 120)
    mult = round(rng.uniform(1.6, 2.2), 2)
    p.mods.case_mult.setdefault(h, []).append((d0, p.days - 1, mult))
    p.truth("icu_expansion", "lookalike", "establishment", w.ests[h].id, d0, p.days - 1,
            ["suspicious_order", "inventory_reconciliation"],
            f"new ICU and theatre capacity: administrations grow {mult}x from {p.date(d0)} and "
            "orders grow with them", magnitude=mult)


def icu_nurse_volume(p: Plan) -> None:
    """An ICU nurse who handles three times the ampoules of colleagues, normal waste share."""
    w = p.world
    h = p.pick_est(_hospitals(p, 6))
    e = w.ests[h]
    nurse = p.pick_prof(e.nurses)
    e.nurse_w[e.nurses.index(nurse)] *= 3.0
    p.truth("icu_nurse_high_volume", "lookalike", "professional", w.profs[nurse].id, 0,
            p.days - 1, ["waste_share", "self_witnessed_waste"],
            "nurse on the busiest shifts handles about 3x the ampoules of colleagues, so more "
            "waste in absolute terms at the same waste share")


def breakage(p: Plan) -> None:
    """One ampoule breaks: a single, legitimate loss report."""
    w, rng = p.world, p.rng
    h = p.pick_est(_hospitals(p))
    d = p.day(20, 20)
    p.mods.losses.append((d, h, "fen2", rng.randint(1, 2)))
    p.notes["no_background_loss"] = p.notes.get("no_background_loss", "") + f",{h}"

    def done(sim: Sim, seized: list[tuple]) -> list[dict]:
        if not [r for r in p.mods.record.get("loss", ()) if r[1] == h]:
            return []
        return [p.row("breakage_loss", "establishment", w.ests[h].id, d, d,
                      "one ampoule broken during preparation, reported once as a loss",
                      kind="lookalike", detectors=["repeated_loss"])]

    p.later.append(done)


def licence_renewed(p: Plan) -> None:
    """A pharmacy whose licence was renewed ahead of expiry and now runs past the data."""
    w, rng = p.world, p.rng
    est = p.pick_est(_pharmacies(p, 0.03))
    w.ests[est].expires = w.end + dt.timedelta(days=rng.randint(5, 45))
    p.truth("licence_renewed", "lookalike", "establishment", w.ests[est].id, 0, p.days - 1,
            ["unauthorized_holder"],
            f"licence renewed before it lapsed; now valid until {w.ests[est].expires.isoformat()}"
            ", just after the data ends, and every receipt falls inside it")
