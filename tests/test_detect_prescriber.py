"""Prescriber volume: peers of the same specialty, per-patient intensity, own-history change."""

from __future__ import annotations

import datetime as dt
import random

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from tests.detect_factory import MORPH_TAB, base_products, days, est, mv, prof

T0 = dt.datetime(2024, 12, 2, 15)


def _practice(session, pid, specialty, patients_by_month, tablets):
    prof(session, pid, specialty=specialty)
    for month, n in enumerate(patients_by_month):
        for j in range(n):
            mv(session, "dispense", "F1", MORPH_TAB, tablets, days(T0, 30 * month + j % 20),
               patient_id=f"PSN:{pid}-{month if n > 12 else 0}-{j}", prescriber_id=pid,
               prescription_id=f"RX-{pid}-{month}-{j}", days_supply=30)


def test_like_with_like_flags_intensity_and_sudden_volume_not_big_palliative(session):
    rng = random.Random(7)
    base_products(session)
    est(session, "F1")
    for i in range(12):
        _practice(session, f"CMP-GP{i:02d}", "general_medicine",
                  [rng.randint(8, 12) for _ in range(6)], 30)
    _practice(session, "CMP-GPX", "general_medicine", [10] * 6, 150)  # 5× dose per patient
    _practice(session, "CMP-GPY", "general_medicine", [10, 10, 10, 30, 30, 30], 30)  # sudden 3×
    for i in range(10):
        _practice(session, f"CMP-PAL{i:02d}", "palliative_care",
                  [rng.randint(8, 12) for _ in range(6)], 60)
    _practice(session, "CMP-PALBIG", "palliative_care", [50] * 6, 60)  # big, stable, normal dose
    session.commit()
    run_all(session)
    alerts = {a.subject_id: a for a in session.query(Alert).filter_by(detector="prescriber_volume")}
    assert set(alerts) == {"CMP-GPX", "CMP-GPY"}
    x, y = alerts["CMP-GPX"].evidence, alerts["CMP-GPY"].evidence
    assert x["criterion"] == "intensity" and x["metric"] == "MME per patient"
    assert x["observed"] > 4 * x["expected"]
    assert x["peer_group"].startswith("general_medicine") and x["peers"] >= 8
    assert x["percentile"] > 90 and x["z"] >= 3.5
    assert y["criterion"] == "volume_change" and y["history_ratio"] >= 2
    assert alerts["CMP-GPX"].subject_kind == "professional"
    assert alerts["CMP-GPX"].department == "15"


def test_intensity_of_a_small_panel_must_not_be_one_patient(session):
    """Quirk: a family doctor with four regular patients, one of them a cancer patient on a
    high dose: MME per patient is 6x the peers', but only because of that one patient (left
    out, the others are ordinary). A doctor giving every patient 5x is still flagged."""
    rng = random.Random(7)
    base_products(session)
    est(session, "F1")
    for i in range(12):
        _practice(session, f"CMP-GP{i:02d}", "general_medicine",
                  [rng.randint(8, 12) for _ in range(6)], 30)
    _practice(session, "CMP-GPX", "general_medicine", [10] * 6, 150)  # 5x dose per patient
    prof(session, "CMP-SMALL", specialty="general_medicine")
    for month in range(6):
        for j in range(4):
            mv(session, "dispense", "F1", MORPH_TAB, 600 if j == 0 else 30,
               days(T0, 30 * month + j), patient_id=f"PSN:small-{j}", prescriber_id="CMP-SMALL",
               prescription_id=f"RX-small-{month}-{j}", days_supply=30)
    session.commit()
    run_all(session)
    alerts = {a.subject_id for a in session.query(Alert).filter_by(detector="prescriber_volume")}
    assert alerts == {"CMP-GPX"}


def test_patients_of_a_flagged_prescriber_are_grouped_under_its_alert(session):
    """One root cause, one alert: a family doctor gives every patient about 400 MME/day. Each
    dispense is above the extreme level (dispense_high_mme), but the authorities act on the
    doctor's prescriber_volume alert: the patients' alerts stay listed, at low, naming it. A
    patient of an ordinary doctor given the same extreme dose keeps its own grade."""
    rng = random.Random(7)
    base_products(session)
    est(session, "F1")
    for i in range(12):
        _practice(session, f"CMP-GP{i:02d}", "general_medicine",
                  [rng.randint(8, 12) for _ in range(6)], 30)
    _practice(session, "CMP-MILL", "general_medicine", [10] * 6, 400)
    _practice(session, "CMP-GPZ", "general_medicine", [10] * 6, 30)
    mv(session, "dispense", "F1", MORPH_TAB, 400, days(T0, 100), patient_id="PSN:alone-1",
       prescriber_id="CMP-GPZ", prescription_id="RX-alone-1", days_supply=30)
    session.commit()
    run_all(session)
    volume = {a.subject_id: a for a in session.query(Alert).filter_by(detector="prescriber_volume")}
    assert "CMP-MILL" in volume and volume["CMP-MILL"].severity != "low"
    assert "CMP-GPZ" not in volume
    single = {a.subject_id: a for a in session.query(Alert).filter_by(detector="dispense_high_mme")}
    mill = [a for pid, a in single.items() if pid.startswith("PSN:CMP-MILL")]
    assert len(mill) >= 10
    assert all(a.severity == "low" for a in mill)
    assert all(a.evidence["grouped_under"] == [volume["CMP-MILL"].alert_id] for a in mill)
    assert all(a.evidence["severity_before_grouping"] != "low" for a in mill)
    assert "Agrupada en la alerta del prescriptor" in mill[0].summary
    assert single["PSN:alone-1"].severity != "low"
    assert "grouped_under" not in single["PSN:alone-1"].evidence
