"""Patient PDMP indicators: multiple providers, overlapping prescriptions, high daily MME."""

from __future__ import annotations

import datetime as dt

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from centinela.ledger.mme import daily_mme, unit_mme
from centinela.registry.models import Product
from tests.detect_factory import FENT_PATCH, MORPH_TAB, base_products, days, est, mv, prof

T = dt.datetime(2025, 3, 3, 15)


def _subjects(session, detector):
    return {a.subject_id: a for a in session.query(Alert).filter_by(detector=detector)}


def _dispense(session, pharmacy, prescriber, patient, at, qty=30, product=MORPH_TAB, days_supply=30):
    mv(session, "dispense", pharmacy, product, qty, at, patient_id=patient,
       prescriber_id=prescriber, prescription_id=f"RX-{pharmacy}-{at:%j}", days_supply=days_supply)


def test_mme_factors_follow_the_cdc():
    patch = unit_mme("fentanyl", "patch", 4.2, 25)
    assert daily_mme(patch, 10, 30) == 2.4 * 25  # 10 patches of 72 h cover 30 days
    tab = unit_mme("morphine", "tablet", 30)
    assert daily_mme(tab, 120, 30) == 120.0
    assert unit_mme("oxycodone", "tablet", 10).mme_per_unit == 15.0
    assert unit_mme("methadone", "tablet", 10).mme_per_unit == 47.0


def test_multiple_provider_episode_vs_many_doctors_at_one_hospital(session):
    base_products(session)
    for i in range(6):
        est(session, f"F{i}")
        prof(session, f"CMP-{i}", specialty="general_medicine")
    est(session, "HOSP", "hospital")
    for i in range(5):  # shopper: 5 prescribers, 5 pharmacies, 60 days
        _dispense(session, f"F{i}", f"CMP-{i}", "PSN:shopper01", days(T, 12 * i), qty=10, days_supply=5)
    for i in range(6):  # look-alike: cancer patient seen by 6 doctors, one hospital pharmacy
        _dispense(session, "HOSP", f"CMP-{i}", "PSN:cancer01", days(T, 10 * i), qty=10, days_supply=5)
    session.commit()
    run_all(session)
    alerts = _subjects(session, "multiple_providers")
    assert set(alerts) == {"PSN:shopper01"}
    ev = alerts["PSN:shopper01"].evidence
    assert ev["observed"] == {"prescribers": 5, "pharmacies": 5}
    assert ev["event_count"] == 5 and ev["window_days"] == 90


def test_overlapping_prescriptions_vs_palliative_team_at_one_pharmacy(session):
    base_products(session)
    for i in range(3):
        est(session, f"F{i}")
        prof(session, f"CMP-{i}", specialty="general_medicine")
    prof(session, "CMP-ONC", specialty="oncology")
    prof(session, "CMP-PAL", specialty="palliative_care")
    for i in range(3):  # 30-day supplies starting 10 days apart, other doctor, other pharmacy
        _dispense(session, f"F{i}", f"CMP-{i}", "PSN:overlap01", days(T, 10 * i), qty=30)
    for k in range(4):  # look-alike: patch + rescue morphine, two doctors, same pharmacy
        _dispense(session, "F0", "CMP-ONC", "PSN:palli01", days(T, 30 * k), qty=10,
                  product=FENT_PATCH)
        _dispense(session, "F0", "CMP-PAL", "PSN:palli01", days(T, 30 * k + 2), qty=30)
    session.commit()
    run_all(session)
    alerts = _subjects(session, "overlapping_prescriptions")
    assert set(alerts) == {"PSN:overlap01"}
    a = alerts["PSN:overlap01"]
    assert a.evidence["overlap_events"] == 2 and a.evidence["observed"] >= 30



def test_overlap_between_two_prescribers_is_a_low_notice_three_are_graded(session):
    """Shared care (a specialist and a family doctor, two pharmacies) overlapping for months is
    listed as a low PDMP notice; the same overlap spread over three prescribers is ranked."""
    base_products(session)
    for i in range(3):
        est(session, f"F{i}")
        prof(session, f"CMP-{i}", specialty="general_medicine")
    for k in range(6):  # two prescribers alternating, 30-day supplies every 15 days
        _dispense(session, f"F{k % 2}", f"CMP-{k % 2}", "PSN:shared01", days(T, 15 * k), qty=30)
        _dispense(session, f"F{k % 3}", f"CMP-{k % 3}", "PSN:three01", days(T, 15 * k), qty=30)
    session.commit()
    run_all(session)
    alerts = _subjects(session, "overlapping_prescriptions")
    assert set(alerts) == {"PSN:shared01", "PSN:three01"}
    shared, three = alerts["PSN:shared01"], alerts["PSN:three01"]
    assert shared.evidence["prescribers"] == 2 and shared.severity == "low"
    assert shared.evidence["observed"] >= 30 and "dos prescriptores" in shared.summary
    assert three.evidence["prescribers"] == 3 and three.severity != "low"

def test_high_daily_mme_needs_a_risk_multiplier_and_exempts_cancer_care(session):
    base_products(session)
    session.add(Product(product_code="MET-10", name="Metadona 10 mg", substance="methadone",
                        dosage_form="tablet", strength_mg_per_unit=10))
    est(session, "F1")
    est(session, "F2")
    prof(session, "CMP-GP", specialty="general_medicine")
    prof(session, "CMP-GP2", specialty="general_medicine")
    prof(session, "CMP-ONC", specialty="oncology")
    # 120 MME/day of morphine plus 47 MME/day of methadone from a second doctor, for 60 days.
    for k in range(2):
        _dispense(session, "F1", "CMP-GP", "PSN:high01", days(T, 30 * k), qty=120)
        _dispense(session, "F2", "CMP-GP2", "PSN:high01", days(T, 30 * k + 3), qty=30,
                  product="MET-10")
    # Look-alike: a stable 120 MME/day from one doctor (left to the clinician's PDMP review).
    _dispense(session, "F1", "CMP-GP", "PSN:stable01", T, qty=120)
    _dispense(session, "F1", "CMP-GP", "PSN:stable01", days(T, 30), qty=120)
    # Look-alike: 240 MME/day plus methadone for cancer pain from an oncologist (CDC exempts it).
    for k in range(2):
        _dispense(session, "F1", "CMP-ONC", "PSN:onco01", days(T, 30 * k), qty=240)
        _dispense(session, "F1", "CMP-ONC", "PSN:onco01", days(T, 30 * k), qty=30, product="MET-10")
    session.commit()
    run_all(session)
    sustained = _subjects(session, "high_mme")
    assert set(sustained) == {"PSN:high01"}
    ev = sustained["PSN:high01"].evidence
    assert abs(ev["observed"] - 167.0) < 0.01 and ev["days_above"] >= 55
    assert ev["risk_factors"] == ["two_opioids", "two_prescribers"]


def test_high_mme_acute_episode_is_a_notice_and_chronic_use_is_graded(session):
    """Quirk: a post-operative patient bridged by a second doctor's morphine on top of methadone
    reaches about 167 MME/day for 20 days (acute use, under 2x the threshold): a low notice for
    the clinicians, not an alert for the authorities. The same regimen for three months, or
    an acute episode at 2x the threshold or more, is graded medium or above."""
    base_products(session)
    session.add(Product(product_code="MET-10", name="Metadona 10 mg", substance="methadone",
                        dosage_form="tablet", strength_mg_per_unit=10))
    est(session, "F1")
    est(session, "F2")
    prof(session, "CMP-GP", specialty="general_medicine")
    prof(session, "CMP-GP2", specialty="general_medicine")
    # Morphine 30 mg, 4 a day (120 MME/day), and methadone 10 mg, 1 a day (47 MME/day) from a
    # second doctor, for 20 days: ≈ 167 MME/day.
    _dispense(session, "F1", "CMP-GP", "PSN:acute01", T, qty=80, days_supply=20)
    _dispense(session, "F2", "CMP-GP2", "PSN:acute01", T, qty=20, product="MET-10",
              days_supply=20)
    # The same daily regimen for 90 days.
    for k in range(3):
        _dispense(session, "F1", "CMP-GP", "PSN:chronic01", days(T, 30 * k), qty=120)
        _dispense(session, "F2", "CMP-GP2", "PSN:chronic01", days(T, 30 * k), qty=30,
                  product="MET-10")
    # Acute but at about 4x the threshold (≈ 380 MME/day).
    _dispense(session, "F1", "CMP-GP", "PSN:acutehigh01", T, qty=160, days_supply=20)
    _dispense(session, "F2", "CMP-GP2", "PSN:acutehigh01", T, qty=60, product="MET-10",
              days_supply=20)
    session.commit()
    run_all(session)
    found = _subjects(session, "high_mme")
    assert set(found) == {"PSN:acute01", "PSN:chronic01", "PSN:acutehigh01"}
    acute = found["PSN:acute01"]
    assert acute.evidence["days_above"] < 30 and acute.evidence["observed"] < 180
    assert acute.severity == "low" and "episodio agudo" in acute.summary.lower()
    assert found["PSN:chronic01"].evidence["days_above"] >= 60
    assert found["PSN:chronic01"].severity in ("medium", "high", "critical")
    assert found["PSN:acutehigh01"].evidence["observed"] >= 180
    assert found["PSN:acutehigh01"].severity in ("medium", "high", "critical")


def test_single_dispense_above_the_extreme_level(session):
    base_products(session)
    est(session, "F1")
    prof(session, "CMP-GP", specialty="general_medicine")
    prof(session, "CMP-ONC", specialty="oncology")
    _dispense(session, "F1", "CMP-GP", "PSN:early01", days(T, -90), qty=30)  # data reach back
    _dispense(session, "F1", "CMP-GP", "PSN:start01", T, qty=120)  # 120 MME/day: PDMP review only
    _dispense(session, "F1", "CMP-GP", "PSN:huge01", T, qty=400, days_supply=30)  # 400 MME/day
    _dispense(session, "F1", "CMP-ONC", "PSN:onco01", T, qty=400, days_supply=30)  # exempt
    session.commit()
    run_all(session)
    single = _subjects(session, "dispense_high_mme")
    assert set(single) == {"PSN:huge01"}
    ev = single["PSN:huge01"].evidence
    assert abs(ev["observed"] - 400.0) < 1e-6 and ev["expected"] == 90.0
    assert ev["opioid_naive"] is True


def test_cancer_patient_co_managed_by_a_family_doctor_or_palliative_team(session):
    """Quirk: a cancer patient whose family doctor adds morphine tablets beside the oncologist's
    methadone (two opioids, two prescribers, two pharmacies, ≥ 90 MME/day for months), and one
    whose oncology team (two oncologists) and a palliative-care unit each supply patches at
    their own pharmacy. CDC's scope is the patient: neither is sustained unsupervised high
    dosing (high_mme) and their overlaps are low coordination notices; the same regimen
    without any oncology or palliative prescriber is ranked."""
    base_products(session)
    session.add(Product(product_code="MET-10", name="Metadona 10 mg", substance="methadone",
                        dosage_form="tablet", strength_mg_per_unit=10))
    for e in ("F1", "F2", "F3"):
        est(session, e)
    prof(session, "CMP-GP", specialty="general_medicine")
    prof(session, "CMP-GP2", specialty="general_medicine")
    prof(session, "CMP-GP3", specialty="general_medicine")
    prof(session, "CMP-ONC", specialty="oncology")
    prof(session, "CMP-ONC2", specialty="oncology")
    prof(session, "CMP-PAL", specialty="palliative_care")
    for k in range(5):
        _dispense(session, "F1", "CMP-ONC", "PSN:onco02", days(T, 30 * k), qty=60,
                  product="MET-10")
        _dispense(session, "F2", "CMP-GP", "PSN:onco02", days(T, 30 * k + 10), qty=30,
                  days_supply=10)
        _dispense(session, "F2", "CMP-GP", "PSN:onco02", days(T, 30 * k + 20), qty=30,
                  days_supply=10)
        # The same regimen from three general practitioners: ranked.
        _dispense(session, "F1", f"CMP-GP{2 + k % 2}", "PSN:gp02", days(T, 30 * k), qty=60,
                  product="MET-10")
        _dispense(session, "F2", "CMP-GP", "PSN:gp02", days(T, 30 * k + 10), qty=30,
                  days_supply=10)
        _dispense(session, "F2", "CMP-GP", "PSN:gp02", days(T, 30 * k + 20), qty=30,
                  days_supply=10)
        # Oncology team and palliative unit, patches every 30 days, 15 days apart.
        _dispense(session, "F1", ("CMP-ONC", "CMP-ONC2")[k % 2], "PSN:pal02", days(T, 30 * k),
                  qty=10, product=FENT_PATCH)
        _dispense(session, "F3", "CMP-PAL", "PSN:pal02", days(T, 30 * k + 15), qty=10,
                  product=FENT_PATCH)
    session.commit()
    run_all(session)
    assert set(_subjects(session, "high_mme")) == {"PSN:gp02"}
    overlaps = _subjects(session, "overlapping_prescriptions")
    assert {"PSN:onco02", "PSN:pal02"} <= set(overlaps)
    assert overlaps["PSN:onco02"].severity == "low" and overlaps["PSN:pal02"].severity == "low"
    assert "oncológico" in overlaps["PSN:pal02"].summary
    assert overlaps["PSN:gp02"].severity != "low"


def test_one_palliative_prescription_does_not_cover_a_doctor_shopper(session):
    """Quirk (foreign world): doctor shoppers who also saw one palliative-care physician. The
    cancer-care notice holds only when that care explains the overlaps (at most one other
    prescriber, or most of the MME from oncology / palliative care); a patient overlapping
    three or more other prescribers, or through three or more pharmacies, is graded as usual."""
    base_products(session)
    for i in range(5):
        est(session, f"F{i}")
        prof(session, f"CMP-{i}", specialty="general_medicine")
    prof(session, "CMP-PAL", specialty="palliative_care")
    prof(session, "CMP-ONC", specialty="oncology")
    for k in range(8):  # shopper: four GPs at four pharmacies every 9 days, one palliative visit
        _dispense(session, f"F{k % 4}", f"CMP-{k % 4}", "PSN:shop01", days(T, 9 * k), qty=30)
    _dispense(session, "F4", "CMP-PAL", "PSN:shop01", days(T, 20), qty=10, product=FENT_PATCH)
    for k in range(6):  # subtle shopper: two GPs at three pharmacies, one palliative visit
        _dispense(session, f"F{k % 3}", f"CMP-{k % 2}", "PSN:shop02", days(T, 18 * k), qty=30)
    _dispense(session, "F4", "CMP-PAL", "PSN:shop02", days(T, 40), qty=10, product=FENT_PATCH)
    for k in range(5):  # look-alike: palliative patches carry the dose, two GPs add rescue doses
        _dispense(session, "F4", "CMP-PAL", "PSN:pal03", days(T, 30 * k), qty=15,
                  product=FENT_PATCH)
        _dispense(session, f"F{k % 2}", f"CMP-{k % 2}", "PSN:pal03", days(T, 30 * k + 10),
                  qty=20, days_supply=20)
    session.commit()
    run_all(session, only=["overlapping_prescriptions"])
    alerts = _subjects(session, "overlapping_prescriptions")
    assert {"PSN:shop01", "PSN:shop02", "PSN:pal03"} <= set(alerts)
    assert alerts["PSN:shop01"].severity != "low" and alerts["PSN:shop02"].severity != "low"
    assert "oncológico" not in alerts["PSN:shop01"].summary
    assert alerts["PSN:pal03"].severity == "low" and "oncológico" in alerts["PSN:pal03"].summary


def test_a_palliative_patients_patch_with_rescue_morphine_is_a_notice_for_the_clinicians(session):
    """High doses with breakthrough medication, all from the palliative unit (a patch and
    morphine tablets, 480+ MME/day): the clinicians' matter, a low notice. The same regimen
    with the morphine from a family doctor stays graded."""
    base_products(session)
    from centinela.registry.models import Product

    session.add(Product(product_code="FEN-P100", name="Fentanilo parche 100 mcg/h",
                        substance="fentanyl", dosage_form="patch", strength_mg_per_unit=16.8,
                        patch_mcg_per_hour=100))
    for e in ("F1", "F2"):
        est(session, e)
    prof(session, "CMP-PAL", specialty="palliative_care")
    prof(session, "CMP-GP", specialty="general_medicine")
    for k in range(6):
        for pat, rescue_by in (("PSN:pal", "CMP-PAL"), ("PSN:mix", "CMP-GP")):
            _dispense(session, "F1", "CMP-PAL", pat, days(T, 30 * k), qty=20, product="FEN-P100")
            _dispense(session, "F2", rescue_by, pat, days(T, 30 * k + 1), qty=240,
                      days_supply=30)
    session.commit()
    run_all(session, only=["high_mme"])
    found = _subjects(session, "high_mme")
    assert found["PSN:pal"].severity == "low" and "cuidados paliativos" in found["PSN:pal"].summary
    assert found["PSN:mix"].severity != "low"


def test_one_prescribers_basal_and_rescue_opioids_below_twice_the_threshold_are_a_notice(session):
    """An internist's patch with morphine tablets for breakthrough pain (≈ 150 MME/day): a
    planned regimen, a low notice; the same doses from two prescribers stay graded."""
    base_products(session)
    for e in ("F1", "F2"):
        est(session, e)
    prof(session, "CMP-INT", specialty="internal_medicine")
    prof(session, "CMP-GP", specialty="general_medicine")
    for k in range(6):
        for pat, rescue_by in (("PSN:one", "CMP-INT"), ("PSN:two", "CMP-GP")):
            _dispense(session, "F1", "CMP-INT", pat, days(T, 30 * k), qty=10, product=FENT_PATCH)
            _dispense(session, "F2", rescue_by, pat, days(T, 30 * k + 1), qty=90,
                      days_supply=30)
    session.commit()
    run_all(session, only=["high_mme"])
    found = _subjects(session, "high_mme")
    assert found["PSN:one"].severity == "low" and "régimen de base" in found["PSN:one"].summary
    assert found["PSN:two"].severity != "low"
