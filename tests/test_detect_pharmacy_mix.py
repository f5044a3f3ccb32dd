"""pharmacy_patient_mix: a prescription mill (one-off patients on chronic-strength opioids,
one to three prescribers from elsewhere, identical quantities, sudden onset) against its
peers and its own history; the legitimate look-alikes stay below medium."""

from __future__ import annotations

import datetime as dt
import random
import zlib

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from centinela.registry.models import Product
from tests.detect_factory import FENT_PATCH, MORPH_TAB, base_products, est, mv, prof
from tests.test_generate_scenarios import planted  # noqa: F401 - the generated year

START = dt.datetime(2025, 1, 6, 15)
END_DAY = 355  # the year's last fills (the run is judged as of the latest movement)
MORPH_IR = "MOR-10"  # morphine 10 mg immediate-release tablet (10 MME)
GRADED = ("medium", "high", "critical")


def _products(session):
    base_products(session)
    session.add(Product(product_code=MORPH_IR, name="Morfina 10 mg tableta", substance="morphine",
                        dosage_form="tablet", strength_mg_per_unit=10))
    session.flush()


def _at(d: float, hour: int = 0) -> dt.datetime:
    return START + dt.timedelta(days=d, hours=hour)


def _chronic(session, outlet, prescribers, n, tag, rng, ubigeo=None, start=0, end=END_DAY,
             new_per_month=0.0, mean_fills=6.0):
    """An ordinary chronic practice at ``outlet``: ``n`` patients on monthly patches or
    morphine 30 mg from the start, and ``new_per_month`` new ones a month, each refilled every
    28-31 days for a geometric number of fills (mean ``mean_fills``)."""
    starts = [start + rng.uniform(0, 30) for _ in range(n)]
    d = start
    while new_per_month and d < end:
        d += rng.expovariate(new_per_month / 30)
        starts.append(d)
    for i, d0 in enumerate(starts):
        fills = 1
        while rng.random() > 1 / mean_fills:
            fills += 1
        pid = f"DNI:{zlib.crc32(f'{tag}-{i}'.encode()) % 90_000_000 + 10_000_000}"
        presc = rng.choice(prescribers)
        product, qty = (FENT_PATCH, 10) if rng.random() < 0.6 else (MORPH_TAB, 60)
        d = d0
        for _ in range(fills):
            if d > end:
                break
            mv(session, "dispense", outlet, product, qty, _at(d, 2), patient_id=pid,
               prescriber_id=presc, days_supply=30, prescription_id=f"RX-{tag}-{i}-{d:.0f}",
               patient_ubigeo=ubigeo(rng) if callable(ubigeo) else ubigeo)
            d += rng.uniform(27, 31)


def _peers(session, rng, n=10, dept="15"):
    """Ten ordinary pharmacies: chronic patients of local physicians, a few one-off fills."""
    docs = [prof(session, f"CMP-L{dept}{j}", specialty="oncology", ubigeo=f"{dept}0101")
            for j in range(12)]
    for i in range(n):
        eid = est(session, f"F{dept}-{i}", "pharmacy", ubigeo=f"{dept}0101")
        _chronic(session, eid, docs, 12, eid, rng, ubigeo=f"{dept}0101", new_per_month=1.5)
    return docs


def _mill(session, rng, outlet="F-MILL", prescribers=("CMP-FAR1", "CMP-FAR2"), onset=240,
          per_day=1.0, product=FENT_PATCH, qty=10, ubigeo="130101", patients="DNI",
          qty_fn=None):
    """A pharmacy in La Libertad with an ordinary practice that from ``onset`` fills about
    ``per_day`` one-off prescriptions a day written by ``prescribers`` (Lima physicians)."""
    est(session, outlet, "pharmacy", ubigeo=ubigeo)
    local = [prof(session, f"CMP-{outlet}-LOC{j}", specialty="general_medicine",
                  ubigeo=ubigeo) for j in range(3)]
    _chronic(session, outlet, local, 10, outlet, rng, ubigeo=ubigeo, new_per_month=1.0)
    d, k = float(onset), 0
    while d < END_DAY:
        d += rng.expovariate(per_day)
        k += 1
        pid = (f"PSN:{outlet}-{k:05d}" if patients == "PSN"
               else f"DNI:{zlib.crc32(f'{outlet}-M{k}'.encode()) % 90_000_000 + 10_000_000}")
        q = qty_fn(rng) if qty_fn else qty
        mv(session, "dispense", outlet, product, q, _at(d, 8), patient_id=pid,
           prescriber_id=rng.choice(list(prescribers)), days_supply=30,
           prescription_id=f"RX-{outlet}-M{k}", patient_ubigeo=ubigeo)
    return k


def _far(session, ids, ubigeo="150101"):
    for pid in ids:
        prof(session, pid, specialty="general_medicine", ubigeo=ubigeo)


def _alerts(session):
    return {a.subject_id: a for a in session.query(Alert).filter_by(detector="pharmacy_patient_mix")}


def test_prescription_mill_is_flagged_with_its_prescribers_and_onset(session):
    rng = random.Random(3)
    _products(session)
    _peers(session, rng)
    _far(session, ["CMP-FAR1", "CMP-FAR2"])
    n = _mill(session, rng, onset=240)
    session.commit()
    run_all(session, only=["pharmacy_patient_mix"])
    alerts = _alerts(session)
    assert set(alerts) == {"F-MILL"}, {k: a.summary for k, a in alerts.items()}
    a = alerts["F-MILL"]
    ev = a.evidence
    assert a.subject_kind == "establishment" and a.severity in GRADED
    assert {"prescriber_concentration", "prescriber_elsewhere", "uniform_quantities",
            "sudden_onset"} <= set(ev["flags"])
    assert set(ev["prescriber_ids"][:2]) == {"CMP-FAR1", "CMP-FAR2"}
    assert ev["top_prescriber_share"] >= 0.9 and ev["prescriber_away_share"] >= 0.9
    assert ev["one_off_share"] >= 0.5 and ev["expected"] < 0.25
    assert ev["uniform_share"] >= 0.9 and ev["patient_away_share"] < 0.5
    # The window is the onset of the pattern (about day 240), not the start of the data.
    onset = dt.date.fromisoformat(ev["onset"])
    assert abs((onset - (START + dt.timedelta(days=240)).date()).days) <= 20
    assert a.window_start.date() == onset
    assert ev["patients"] >= 0.8 * n and ev["pattern_mme"] > 50_000
    assert "CMP-FAR1" in a.summary and "otro departamento" in a.summary


def test_severity_follows_the_magnitude_of_the_pattern(session):
    """A slower mill with one prescriber (morphine 30 mg) is graded lower than a busy one."""
    rng = random.Random(5)
    _products(session)
    _peers(session, rng)
    _far(session, ["CMP-FAR1", "CMP-FAR2", "CMP-FAR3", "CMP-SOLO"])
    _mill(session, rng, "F-BUSY", ("CMP-FAR1", "CMP-FAR2", "CMP-FAR3"), onset=200, per_day=2.0,
          product=FENT_PATCH, qty_fn=lambda r: r.choice((10, 15)))
    _mill(session, rng, "F-SLOW", ("CMP-SOLO",), onset=240, per_day=0.3, product=MORPH_TAB,
          qty=60, ubigeo="040101")
    session.commit()
    run_all(session, only=["pharmacy_patient_mix"])
    alerts = _alerts(session)
    assert {"F-BUSY", "F-SLOW"} <= set(alerts)
    busy, slow = alerts["F-BUSY"], alerts["F-SLOW"]
    assert busy.severity in ("high", "critical") and slow.severity in GRADED
    assert busy.score > slow.score
    # The busy mill's onset is so clear that its Poisson tail underflows: still sudden.
    assert "sudden_onset" in busy.evidence["flags"] and busy.evidence["onset_ratio"] > 10
    assert slow.evidence["prescriber_ids"][0] == "CMP-SOLO"
    assert set(alerts) == {"F-BUSY", "F-SLOW"}


def test_messy_mill_input_is_still_read(session):
    """Prescribers with no workplace or district in the registry (or not registered at all),
    PSN patients and odd quantities (10.0, 9.5, 12): the mill is still found, and the
    prescriber distance is judged only on what is known."""
    from centinela.registry.models import Professional

    rng = random.Random(8)
    _products(session)
    _peers(session, rng)
    session.add(Professional(professional_id="CMP-NOWHERE", role="prescriber",
                             full_name="Sin datos"))
    _far(session, ["CMP-FAR1"])
    _mill(session, rng, "F-MESSY", ("CMP-NOWHERE", "CMP-FAR1", "CMP-GHOST"), patients="PSN",
          qty_fn=lambda r: r.choice((10.0, 9.5, 12)))
    # A few rows without a prescriber, one without a patient: tolerated, not counted.
    for j in range(5):
        mv(session, "dispense", "F-MESSY", FENT_PATCH, 10, _at(200 + j, 9),
           patient_id=f"PSN:F-MESSY-X{j}", days_supply=30)
    mv(session, "dispense", "F-MESSY", FENT_PATCH, 10, _at(210, 9), prescriber_id="CMP-FAR1")
    # Fills with no days supply and no patient district: a patch is chronic-strength anyway.
    for j in range(10):
        mv(session, "dispense", "F-MESSY", FENT_PATCH, 10, _at(220 + 3 * j, 10),
           patient_id=f"PSN:F-MESSY-NODS{j}", prescriber_id="CMP-FAR1")
    session.commit()
    run_all(session, only=["pharmacy_patient_mix"])
    alerts = _alerts(session)
    assert set(alerts) == {"F-MESSY"}
    ev = alerts["F-MESSY"].evidence
    assert ev["one_off_share"] >= 0.5 and alerts["F-MESSY"].severity in GRADED
    assert set(ev["prescriber_ids"]) == {"CMP-NOWHERE", "CMP-FAR1", "CMP-GHOST"}
    by_id = {p["id"]: p for p in ev["top_prescribers"]}
    assert by_id["CMP-NOWHERE"]["department"] is None and by_id["CMP-NOWHERE"]["out_of_area"] is None
    assert by_id["CMP-FAR1"]["out_of_area"] is True
    # Only one of the three has a known department: its share is what distance is judged on.
    assert ev["prescriber_away_share"] >= 0.9


# ---- look-alikes ------------------------------------------------------------------------

def test_pharmacy_by_a_cancer_institute_is_not_a_mill(session):
    """Few oncologists write nearly everything, patients come from every department, many
    new patients a month: but they come back every month (chronic treatment)."""
    rng = random.Random(11)
    _products(session)
    _peers(session, rng)
    est(session, "INEN", "hospital", ubigeo="150115")
    onc = [prof(session, f"CMP-ONC{j}", specialty="oncology", est_id="INEN", ubigeo="150115")
           for j in range(3)]
    est(session, "F-ONCO", "pharmacy", ubigeo="150115")
    depts = ["04", "08", "12", "13", "20", "21", "15"]
    _chronic(session, "F-ONCO", onc, 40, "ONCO", rng, new_per_month=12, mean_fills=5,
             ubigeo=lambda r: r.choice(depts) + "0101")
    session.commit()
    run_all(session, only=["pharmacy_patient_mix"])
    a = _alerts(session).get("F-ONCO")
    assert a is None or a.severity == "low", a and a.summary


def test_pharmacy_beside_a_hospital_filling_post_operative_discharges(session):
    """One-off patients by the hundred, from two local surgeons, but short supplies (≤ 7 days,
    some of them extended-release morphine 30 mg) and local: not chronic-strength fills."""
    rng = random.Random(13)
    _products(session)
    docs = _peers(session, rng)
    est(session, "HOSP", "hospital", ubigeo="150101")
    surg = [prof(session, f"CMP-SUR{j}", specialty="surgery", est_id="HOSP", ubigeo="150101")
            for j in range(2)]
    est(session, "F-POSTOP", "pharmacy", ubigeo="150101")
    _chronic(session, "F-POSTOP", docs, 8, "POSTOP", rng, ubigeo="150101")
    d, k = 150.0, 0
    while d < END_DAY:  # a new surgical wing opens in June: discharges every day
        d += rng.expovariate(2.0)
        k += 1
        product, qty, ds = ((MORPH_IR, rng.choice((10, 15, 20)), 5) if rng.random() < 0.7
                            else (MORPH_TAB, 10, 5))
        mv(session, "dispense", "F-POSTOP", product, qty, _at(d, 7), patient_id=f"DNI:5{k:07d}",
           prescriber_id=rng.choice(surg), days_supply=ds, patient_ubigeo="150101")
    session.commit()
    run_all(session, only=["pharmacy_patient_mix"])
    assert "F-POSTOP" not in _alerts(session)


def test_new_pharmacy_opening(session):
    """A pharmacy that opens in September: its patients move from the pharmacy that closed
    next door (history there) and a few new ones: no history of its own, not a mill."""
    rng = random.Random(17)
    _products(session)
    docs = _peers(session, rng)
    est(session, "F-OLD", "pharmacy", ubigeo="150101")
    est(session, "F-NEW", "pharmacy", ubigeo="150101")
    for i in range(30):
        pid = f"DNI:3{i:07d}"
        presc = rng.choice(docs)
        for m in range(11):
            outlet = "F-OLD" if m < 8 else "F-NEW"
            mv(session, "dispense", outlet, FENT_PATCH, 10, _at(10 + 30 * m + i % 7, 3),
               patient_id=pid, prescriber_id=presc, days_supply=30)
    _chronic(session, "F-NEW", docs, 0, "NEW", rng, start=245, new_per_month=3)
    session.commit()
    run_all(session, only=["pharmacy_patient_mix"])
    a = _alerts(session).get("F-NEW")
    assert a is None or a.severity == "low"


def test_rural_botica_with_one_doctor(session):
    """One local physician writes every prescription of a small botica (repeat patients), and
    he sends a couple of new patients a month who do not always come back."""
    rng = random.Random(19)
    _products(session)
    _peers(session, rng)
    for i in range(9):  # boticas elsewhere
        est(session, f"B-{i}", "drugstore", ubigeo="210101")
    doc = prof(session, "CMP-RURAL", specialty="general_medicine", ubigeo="210801")
    est(session, "B-RURAL", "drugstore", ubigeo="210801")
    _chronic(session, "B-RURAL", [doc], 10, "RURAL", rng, ubigeo="210801", new_per_month=2,
             mean_fills=3)
    session.commit()
    run_all(session, only=["pharmacy_patient_mix"])
    a = _alerts(session).get("B-RURAL")
    assert a is None or a.severity == "low", a and a.summary


def test_tourist_town_pharmacy(session):
    """Cusco in the high season: visitors from Lima fill a month of their usual treatment once
    (their home pharmacy fills before and after), from local physicians."""
    rng = random.Random(23)
    _products(session)
    _peers(session, rng)
    local = [prof(session, f"CMP-CUS{j}", specialty="general_medicine", ubigeo="080101")
             for j in range(2)]
    est(session, "F-HOME", "pharmacy", ubigeo="150101")
    est(session, "F-CUSCO", "pharmacy", ubigeo="080101")
    _chronic(session, "F-CUSCO", local, 6, "CUSCO", rng, ubigeo="080101")
    for i in range(120):  # June to August
        pid = f"DNI:4{i:07d}"
        trip = rng.uniform(150, 240)
        d = trip - 30 * rng.randint(2, 4)
        while d < END_DAY:
            here = abs(d - trip) < 15
            mv(session, "dispense", "F-CUSCO" if here else "F-HOME", FENT_PATCH, 10, _at(d, 4),
               patient_id=pid, prescriber_id=rng.choice(local) if here else "CMP-HOMEDOC",
               days_supply=30, patient_ubigeo="150101")
            d += 30
    session.commit()
    run_all(session, only=["pharmacy_patient_mix"])
    a = _alerts(session).get("F-CUSCO")
    assert a is None or a.severity == "low", a and a.summary


# ---- the generator's planted scenario -----------------------------------------------------

def test_generated_prescription_mill_is_found_and_its_look_alikes_are_not(engine, session,
                                                                          planted):  # noqa: F811
    """The generator's planted mill (seed 7, scale 0.05: the scenario tests' year)."""
    from centinela.ingest.service import import_directory

    generated, _, ctx = planted
    truth = ctx["truth"]
    import_directory(engine, generated, channel="cli", realtime=False)
    run_all(engine, only=["pharmacy_patient_mix"])
    alerts = _alerts(session)
    mill = next(t for t in truth if t["scenario"] == "prescription_mill")
    a = alerts[mill["subject_id"]]
    assert a.severity in GRADED
    assert str(a.window_start.date()) <= mill["window_end"]
    assert str(a.window_end.date()) >= mill["window_start"]
    assert set(a.evidence["prescriber_ids"]) & set(mill["involved_professionals"])
    looks = {t["subject_id"] for t in truth if t["kind"] == "lookalike"
             and t["expected_detectors"] == ["pharmacy_patient_mix"]}
    assert len(looks) == 3
    assert all(alerts[s].severity == "low" for s in looks if s in alerts)
    assert [s for s, x in alerts.items() if x.severity in GRADED] == [mill["subject_id"]]


def test_one_local_doctor_and_identical_quantities_alone_are_a_low_notice(session):
    """A botica whose one local physician's patients often fill once (identical monthly
    prescriptions, all year, no change): one-off fills and concentration, but no distance and
    no onset — a notice to look at, not a graded finding."""
    rng = random.Random(29)
    _products(session)
    _peers(session, rng)
    prof(session, "CMP-NEXTDOOR", specialty="general_medicine", ubigeo="150101")
    _mill(session, rng, "F-LOCAL", ("CMP-NEXTDOOR",), onset=0, per_day=0.4, ubigeo="150101")
    session.commit()
    run_all(session, only=["pharmacy_patient_mix"])
    a = _alerts(session)["F-LOCAL"]
    assert a.severity == "low" and a.evidence["graded"] is False
    assert "prescriber_concentration" in a.evidence["flags"]
    assert not {"prescriber_elsewhere", "patients_elsewhere", "sudden_onset"} & set(a.evidence["flags"])
    assert "baja prioridad" in a.summary


def test_a_mill_hidden_in_a_busy_honest_pharmacy_is_found_by_its_prescriber(session):
    """Quirk (foreign world 49): two prescribers from elsewhere fill one-off patch scripts at a
    busy pharmacy whose 150 chronic patients keep its one-off share ordinary. Their fills there
    are one-off nearly all, so the pair is tested apart. Look-alike: an oncologist whose new
    patients, many dying after a first fill, come to another busy pharmacy (cancer care is left
    out of the pair test)."""
    rng = random.Random(11)
    _products(session)
    _peers(session, rng)
    _far(session, ["CMP-FAR1", "CMP-FAR2"])
    local = [prof(session, f"CMP-BUSY-LOC{j}", specialty="general_medicine", ubigeo="130101")
             for j in range(4)]
    onc = prof(session, "CMP-ONC-BUSY", specialty="oncology", ubigeo="130101")
    for outlet in ("F-BUSY", "F-ONC"):
        est(session, outlet, "pharmacy", ubigeo="130101")
        _chronic(session, outlet, local, 150, outlet, rng, ubigeo="130101", mean_fills=10.0)
    d, k = 240.0, 0
    while d < END_DAY:
        d += rng.expovariate(0.35)
        k += 1
        for outlet, presc in (("F-BUSY", rng.choice(["CMP-FAR1", "CMP-FAR2"])), ("F-ONC", onc)):
            pid = f"DNI:{zlib.crc32(f'{outlet}-P{k}'.encode()) % 90_000_000 + 10_000_000}"
            mv(session, "dispense", outlet, FENT_PATCH, 10, _at(d, 8), patient_id=pid,
               prescriber_id=presc, days_supply=30, prescription_id=f"RX-{outlet}-P{k}",
               patient_ubigeo="130101")
    session.commit()
    run_all(session, only=["pharmacy_patient_mix"])
    alerts = _alerts(session)
    assert set(alerts) == {"F-BUSY"}, {k: a.summary for k, a in alerts.items()}
    ev = alerts["F-BUSY"].evidence
    assert ev["prescriber_pair"]["id"] in ("CMP-FAR1", "CMP-FAR2")
    assert ev["prescriber_pair"]["one_off_fills"] >= 8
    assert ev["one_off_share"] < 0.25  # the outlet alone would not stand out
