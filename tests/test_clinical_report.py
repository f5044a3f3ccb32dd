"""The clinical report behind the lookup: classes, MME, benzodiazepine overlap, risk factors."""

from __future__ import annotations

import datetime as dt

import pytest

from centinela.ledger.mme import unit_mme
from centinela.ledger.patients import clinical_report
from centinela.reference.substances import diazepam_mg, substance_class
from centinela.registry.models import Product
from tests.detect_factory import FENT_PATCH, MORPH_TAB, base_products, days, est, mv

NOW = dt.datetime(2025, 12, 31, 12)
CLONA = "CLO-2"


@pytest.mark.parametrize("name,klass", [
    ("fentanyl", "opioid"), ("tramadol", "opioid"), ("ocfentanil", "opioid"),
    ("clonazepam", "benzodiazepine"), ("zolpidem", "benzodiazepine"),
    ("etizolam", "benzodiazepine"), ("methylphenidate", "stimulant"),
    ("phenobarbital", "barbiturate"), ("ketamine", "anesthetic"), ("paracetamol", "other"),
])
def test_substance_classes(name, klass):
    assert substance_class(name) == klass


def test_diazepam_equivalents_and_no_mme_for_non_opioids():
    assert diazepam_mg("clonazepam", 2) == 40  # 0.5 mg clonazepam ≈ 10 mg diazepam
    assert diazepam_mg("alprazolam", 1) == 20 and diazepam_mg("morphine", 30) == 0
    assert unit_mme("clonazepam", "tablet", 2.0).mme_per_unit == 0
    assert unit_mme("methylphenidate", "tablet", 10.0).mme_per_unit == 0
    assert unit_mme("morphine", "tablet", 30.0).mme_per_unit == 30


def _world(session):
    base_products(session)
    session.add(Product(product_code=CLONA, name="Clonazepam 2 mg tableta",
                        substance="clonazepam", dosage_form="tablet", strength_mg_per_unit=2))
    for e in ("F1", "F2", "F3", "F4"):
        est(session, e)


def test_an_opioid_with_a_benzodiazepine_is_seen_and_prompts_naloxone(session):
    _world(session)
    start = NOW - dt.timedelta(days=40)
    # Morphine 30 mg × 60 tablets over 30 days = 60 MME/day, refilled once.
    for k in (0, 30):
        mv(session, "dispense", "F1", MORPH_TAB, 60, days(start, k), patient_id="PSN:p1",
           prescriber_id="CMP-1", prescription_id=f"R{k}", days_supply=30)
    # Clonazepam 2 mg × 30 over 30 days from another prescriber, 20 days ago.
    mv(session, "dispense", "F2", CLONA, 30, days(start, 20), patient_id="PSN:p1",
       prescriber_id="CMP-2", prescription_id="RB", days_supply=30)
    session.commit()
    r = clinical_report(session, "PSN:p1", NOW)
    assert r.current_mme == pytest.approx(60)
    assert r.current_diazepam == pytest.approx(40)  # 2 mg clonazepam a day = 40 mg diazepam
    assert r.overlap_days == 21  # day 20 to day 40 inclusive
    assert r.naloxone
    points = {f.key: f.points for f in r.factors}
    assert points["current_mme"] == 15 and points["benzodiazepine_overlap_days"] == 20
    assert r.risk_score == sum(points.values()) and r.risk_band == "moderate"
    assert (r.prescribers_90, r.pharmacies_90) == (2, 2)


def test_a_benzodiazepine_alone_or_a_low_dose_opioid_is_low_risk(session):
    _world(session)
    mv(session, "dispense", "F1", CLONA, 30, NOW - dt.timedelta(days=5), patient_id="PSN:b",
       prescriber_id="CMP-1", prescription_id="B1", days_supply=30)
    mv(session, "dispense", "F1", MORPH_TAB, 10, NOW - dt.timedelta(days=5), patient_id="PSN:o",
       prescriber_id="CMP-1", prescription_id="O1", days_supply=10)
    session.commit()
    b, o = clinical_report(session, "PSN:b", NOW), clinical_report(session, "PSN:o", NOW)
    assert b.current_mme == 0 and b.overlap_days == 0 and not b.naloxone
    assert o.current_mme == pytest.approx(30) and not o.naloxone
    assert b.risk_band == o.risk_band == "low"


def test_doctor_shopping_and_overlapping_opioids_score_high(session):
    _world(session)
    start = NOW - dt.timedelta(days=60)
    for k, (presc, pharm) in enumerate([("CMP-1", "F1"), ("CMP-2", "F2"), ("CMP-3", "F3"),
                                        ("CMP-4", "F4"), ("CMP-5", "F1")]):
        mv(session, "dispense", pharm, FENT_PATCH, 10, days(start, 10 * k + 3),
           patient_id="PSN:s", prescriber_id=presc, prescription_id=f"S{k}", days_supply=30)
    session.commit()
    r = clinical_report(session, "PSN:s", NOW)
    assert r.prescribers_90 == 5 and r.pharmacies_90 == 4
    assert r.opioid_overlap_days >= 7 and r.max_mme >= 90
    assert r.risk_band == "high"
    assert {f.key for f in r.factors if f.points} >= {"prescribers_90d", "pharmacies_90d",
                                                      "opioid_overlap_days"}


def _alerts(session, detector):
    from sqlalchemy import select

    from centinela.alerts.models import Alert

    return {a.subject_id: a for a in session.scalars(select(Alert).where(
        Alert.detector == detector))}


def test_patients_with_overlapping_opioid_and_benzodiazepine_from_several_prescribers(session):
    from centinela.detect.engine import run_all

    _world(session)
    start = NOW - dt.timedelta(days=100)
    for k in range(3):  # opioid from CMP-1, benzodiazepine from CMP-2, overlapping for months
        mv(session, "dispense", "F1", MORPH_TAB, 60, days(start, 30 * k), patient_id="PSN:x",
           prescriber_id="CMP-1", prescription_id=f"X{k}", days_supply=30)
        mv(session, "dispense", "F2", CLONA, 30, days(start, 30 * k + 5), patient_id="PSN:x",
           prescriber_id="CMP-2", prescription_id=f"XB{k}", days_supply=30)
    # Look-alikes: one prescriber's moderate-dose combination; a short overlap of one week.
    for k in range(3):
        mv(session, "dispense", "F1", MORPH_TAB, 30, days(start, 30 * k), patient_id="PSN:y",
           prescriber_id="CMP-3", prescription_id=f"Y{k}", days_supply=30)
        mv(session, "dispense", "F1", CLONA, 15, days(start, 30 * k), patient_id="PSN:y",
           prescriber_id="CMP-3", prescription_id=f"YB{k}", days_supply=30)
    mv(session, "dispense", "F1", MORPH_TAB, 60, days(start, 0), patient_id="PSN:z",
       prescriber_id="CMP-4", prescription_id="Z1", days_supply=30)
    mv(session, "dispense", "F3", CLONA, 7, days(start, 23), patient_id="PSN:z",
       prescriber_id="CMP-5", prescription_id="ZB", days_supply=7)
    session.commit()
    run_all(session, now=NOW, only=["opioid_benzodiazepine_overlap"])
    alerts = _alerts(session, "opioid_benzodiazepine_overlap")
    assert set(alerts) == {"PSN:x"}
    ev = alerts["PSN:x"].evidence
    assert ev["overlap_days"] >= 80 and ev["prescribers"] == ["CMP-1", "CMP-2"]


def test_a_prescriber_who_coprescribes_far_more_than_specialty_peers(session):
    from centinela.detect.engine import run_all
    from tests.detect_factory import prof

    _world(session)
    start = NOW - dt.timedelta(days=120)

    def practice(pid, specialty, n_patients, n_both):
        prof(session, pid, specialty=specialty)
        for j in range(n_patients):
            psn = f"PSN:{pid}-{j}"
            mv(session, "dispense", "F1", MORPH_TAB, 30, days(start, j), patient_id=psn,
               prescriber_id=pid, prescription_id=f"{pid}-{j}", days_supply=30)
            if j < n_both:
                mv(session, "dispense", "F1", CLONA, 15, days(start, j + 2), patient_id=psn,
                   prescriber_id=pid, prescription_id=f"{pid}-{j}B", days_supply=15)

    for i in range(8):
        practice(f"CMP-G{i}", "general_medicine", 15, 1)
    practice("CMP-OUT", "general_medicine", 15, 9)
    # Look-alike: palliative care co-prescribes a lot, and so do all of its peers.
    for i in range(6):
        practice(f"CMP-P{i}", "palliative_care", 15, 6 + i % 2)
    session.commit()
    run_all(session, now=NOW, only=["coprescribing_prescriber"])
    alerts = _alerts(session, "coprescribing_prescriber")
    assert set(alerts) == {"CMP-OUT"}
    ev = alerts["CMP-OUT"].evidence
    assert ev["coprescribed_patients"] == 9 and ev["opioid_patients"] == 15
    assert ev["peer_rate"] < 0.1


def test_no_benzodiazepines_in_the_data_means_no_alert(session):
    from centinela.detect.engine import run_all

    base_products(session)
    est(session, "F1")
    mv(session, "dispense", "F1", MORPH_TAB, 60, NOW - dt.timedelta(days=5), patient_id="PSN:q",
       prescriber_id="CMP-1", prescription_id="Q1", days_supply=30)
    session.commit()
    report = run_all(session, now=NOW, only=["opioid_benzodiazepine_overlap",
                                             "coprescribing_prescriber"])
    assert not _alerts(session, "opioid_benzodiazepine_overlap")
    assert not _alerts(session, "coprescribing_prescriber")
    assert report is not None
