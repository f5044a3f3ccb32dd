"""Prescriber volume: peers of the same specialty, per-patient intensity, own-history change."""

from __future__ import annotations

import datetime as dt
import random

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from tests.detect_factory import FENT_AMP, FENT_PATCH, MORPH_TAB, base_products, days, est, mv, prof

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
    # Where it was handed out: all at F1, in the prescriber's own department.
    assert x["establishment_id"] == "F1" and x["top_establishment_share"] == 1.0
    assert x["outside_department"] is False


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
    assert "agrupada en la alerta del prescriptor" in mill[0].summary.lower()
    assert single["PSN:alone-1"].severity != "low"
    assert "grouped_under" not in single["PSN:alone-1"].evidence


def _alerts(session) -> dict:
    return {a.subject_id: a for a in session.query(Alert).filter_by(detector="prescriber_volume")}


def test_stable_high_dose_administration_is_low_at_most_escalation_is_graded(session):
    """Quirk: a cardiac anaesthesiologist gives ~10x the fentanyl per patient of general
    anaesthesia, every case, all year, inside one hospital (administer rows, residue wasted
    before a witness); the registry only says "anesthesiology". Stable in-hospital
    administration is a notice (low) at most; an anaesthesiologist whose dose per patient
    doubles and more halfway through is still graded."""
    rng = random.Random(3)
    base_products(session)
    est(session, "H1", kind="hospital")
    nurse = prof(session, "CEP-N1", role="nurse", est_id="H1")
    witness = prof(session, "CEP-N2", role="nurse", est_id="H1")

    def case(pid, day, k, opened, given):
        at = days(T0, day) + dt.timedelta(hours=k % 10)
        pat = f"PSN:{pid}-{day}-{k}"
        mv(session, "administer", "H1", FENT_AMP, given, at, patient_id=pat, prescriber_id=pid,
           professional_id=nurse)
        if opened > given:
            mv(session, "waste", "H1", FENT_AMP, round(opened - given, 2),
               at + dt.timedelta(minutes=30), professional_id=nurse, witness_id=witness)

    for i in range(10):
        pid = prof(session, f"CMP-AN{i:02d}", specialty="anesthesiology", est_id="H1")
        for day in range(0, 180, 2):
            for k in range(rng.randint(1, 2)):
                given = rng.choice([0.75, 1.0, 1.5, 2.0])
                case(pid, day, k, float(int(given + 0.99)), given)
    cardiac = prof(session, "CMP-CARD", specialty="anesthesiology", est_id="H1")
    escal = prof(session, "CMP-ESC", specialty="anesthesiology", est_id="H1")
    for day in range(0, 180, 2):
        for k in range(rng.randint(1, 2)):
            opened = rng.randint(12, 30)
            case(cardiac, day, k, opened, opened - rng.choice([0, 0.5]))
            given = rng.choice([1.0, 1.5]) * (8 if day >= 90 else 1)
            case(escal, day, k, float(int(given + 0.99)), given)
    session.commit()
    run_all(session)
    alerts = _alerts(session)
    assert alerts["CMP-CARD"].severity == "low"
    ev = alerts["CMP-CARD"].evidence
    assert ev["setting"] == "administer" and ev["capped_low"]
    assert ev["peer_group"].startswith("anesthesiology · administración hospitalaria")
    assert alerts["CMP-ESC"].severity in ("medium", "high", "critical")
    assert alerts["CMP-ESC"].evidence["own_intensity_ratio"] >= 2
    assert not alerts["CMP-ESC"].evidence["capped_low"]
    assert not {s for s in alerts if s.startswith("CMP-AN")}


def test_discharge_prescriptions_are_not_judged_against_ward_administrations(session):
    """Quirk: surgeons who prescribe only inside their hospital appear on administer rows,
    ~1 ampoule per patient; community surgeons' discharge prescriptions (10 morphine 30 mg
    tablets for 5 days) are ~10x that per patient, and a community traumatologist also
    renews monthly patches for two chronic patients. Peers of the same setting (ward
    administration, acute or long-term dispensing) flag neither; a surgeon giving 4x the
    usual acute quantity of the same tablets is still flagged."""
    rng = random.Random(5)
    base_products(session)
    est(session, "H1", kind="hospital")
    est(session, "F1")
    nurse = prof(session, "CEP-N1", role="nurse", est_id="H1")
    for i in range(12):
        pid = prof(session, f"CMP-HS{i:02d}", specialty="surgery", est_id="H1")
        for j in range(40):
            mv(session, "administer", "H1", FENT_AMP, rng.choice([0.5, 1.0]), days(T0, 4 * j + i % 4),
               patient_id=f"PSN:{pid}-{j}", prescriber_id=pid, professional_id=nurse)

    def acute(pid, j, tablets):
        mv(session, "dispense", "F1", MORPH_TAB, tablets, days(T0, (7 * j) % 175),
           patient_id=f"PSN:{pid}-a{j}", prescriber_id=pid, prescription_id=f"RX-{pid}-{j}",
           days_supply=rng.choice([3, 5, 7]))

    for i in range(4):
        pid = prof(session, f"CMP-CS{i:02d}", specialty="surgery")
        for j in range(25):
            acute(pid, j, rng.choice([6, 10, 10, 14, 20]))
    for i in range(8):
        pid = prof(session, f"CMP-TR{i:02d}", specialty="traumatology")
        for j in range(25):
            acute(pid, j, rng.choice([6, 10, 10, 14, 20]))
    for j in range(12):  # two chronic patients on patches, renewed monthly
        mv(session, "dispense", "F1", FENT_PATCH, 15, days(T0, 30 * (j // 2) + j % 2),
           patient_id=f"PSN:TR00-chronic-{j % 2}", prescriber_id="CMP-TR00",
           prescription_id=f"RX-TR00-c{j}", days_supply=30)
    over = prof(session, "CMP-OVER", specialty="surgery")
    for j in range(25):
        acute(over, j, rng.choice([30, 40, 40, 60]))
    session.commit()
    run_all(session)
    alerts = _alerts(session)
    assert set(alerts) == {"CMP-OVER"}
    ev = alerts["CMP-OVER"].evidence
    assert ev["criterion"] == "acute_quantity" and ev["setting"] == "dispense_short"
    assert ev["observed"] >= 3 and alerts["CMP-OVER"].severity in ("medium", "high", "critical")


def test_escalating_outpatient_prescriber_among_uneven_practices_is_flagged(session):
    """An escalating general practitioner (new chronic patients every month, 3x the usual
    quantities) among peers whose practice sizes differ tenfold, so that no total stands out:
    heavy per patient and suddenly bigger is still flagged; a big steady practice is not."""
    rng = random.Random(11)
    base_products(session)
    est(session, "F1")

    def renew(pid, month, j, tablets):
        mv(session, "dispense", "F1", MORPH_TAB, tablets, days(T0, 30 * month + j % 25),
           patient_id=f"PSN:{pid}-{j}", prescriber_id=pid, prescription_id=f"RX-{pid}-{month}-{j}",
           days_supply=30)

    for i in range(12):
        pid = prof(session, f"CMP-GP{i:02d}", specialty="general_medicine")
        size = [3, 6, 12, 25, 40, 60][i % 6]  # steady panels, renewed monthly
        for month in range(6):
            for j in range(size):
                renew(pid, month, j, rng.choice([20, 30, 30, 40]))
    prof(session, "CMP-ESC", specialty="general_medicine")
    for month in range(6):
        for j in range(2 + 6 * month):  # patients accumulate, each renewed monthly
            renew("CMP-ESC", month, j, 90)
    session.commit()
    run_all(session)
    alerts = _alerts(session)
    assert set(alerts) == {"CMP-ESC"}
    ev = alerts["CMP-ESC"].evidence
    assert ev["criterion"] in ("escalation", "volume_change", "intensity")
    assert alerts["CMP-ESC"].severity in ("medium", "high", "critical")


def test_a_practice_grown_tenfold_among_uneven_peers_is_flagged_on_its_growth(session):
    """A general practitioner whose chronic patients grow from 2 to 150 a month, at the
    usual quantities, among 60 peers whose panel sizes differ a hundredfold (log-normal): his
    size is about 4 robust z above them, which alone would not survive the run's multiple
    testing, but the growth against his own past is overwhelming; the p of the finding is the
    product of the two tails. The largest steady practice is not flagged."""
    import math

    rng = random.Random(5)
    base_products(session)
    est(session, "F1")

    def renew(pid, month, j):
        mv(session, "dispense", "F1", MORPH_TAB, rng.choice([30, 60, 60, 90]),
           days(T0, 30 * month + j % 25), patient_id=f"PSN:{pid}-{j}", prescriber_id=pid,
           prescription_id=f"RX-{pid}-{month}-{j}", days_supply=30)

    sizes = sorted(max(1, round(math.exp(rng.gauss(1.0, 1.0)))) for _ in range(60))
    for i, size in enumerate(sizes):
        pid = prof(session, f"CMP-GP{i:02d}", specialty="general_medicine")
        for month in range(8):
            for j in range(size):
                renew(pid, month, j)
    prof(session, "CMP-GROW", specialty="general_medicine")
    for month in range(8):
        for j in range([2, 2, 3, 3, 20, 50, 100, 150][month]):
            renew("CMP-GROW", month, j)
    session.commit()
    run_all(session, only=["prescriber_volume"])
    alerts = _alerts(session)
    assert "CMP-GROW" in alerts and f"CMP-GP{len(sizes) - 1:02d}" not in alerts
    ev = alerts["CMP-GROW"].evidence
    assert ev["criterion"] in ("volume_change", "escalation")
    assert alerts["CMP-GROW"].severity in ("medium", "high", "critical")


def test_unspecialized_prescribers_are_compared_with_those_using_the_same_presentation(session):
    """Quirk: the registry leaves intensivists without a specialty. Their patients get 10 mL
    infusion ampoules (0.5 mg) for days, a GP's get one 2 mL ampoule: compared with every
    unspecialized prescriber, a whole ICU team whose census grows reads as escalation. Compared
    with the unspecialized prescribers who mostly use the same presentation, it does not; a GP
    whose dose per patient jumps eightfold is still graded."""
    from centinela.registry.models import Product

    rng = random.Random(11)
    base_products(session)
    session.add(Product(product_code="FEN-ICU", name="Fentanilo 0.5 mg/10 mL",
                        substance="fentanyl", dosage_form="ampoule", strength_mg_per_unit=0.5))
    est(session, "H1", kind="hospital")

    def give(pid, product, day, k, amps):
        mv(session, "administer", "H1", product, amps, days(T0, day) + dt.timedelta(hours=k),
           patient_id=f"PSN:{pid}-{day}-{k}", prescriber_id=pid)

    for i in range(12):
        pid = prof(session, f"CMP-GP{i:02d}", est_id="H1")
        for day in range(0, 180, 3):
            give(pid, FENT_AMP, day, 0, rng.choice([0.5, 1.0]) * (8 if i == 0 and day >= 90 else 1))
    for i in range(10):
        pid = prof(session, f"CMP-ICU{i:02d}", est_id="H1")
        size = 1 + i % 4  # units of very different sizes
        for day in range(0, 180, 6):
            # ICU00's census grows two-and-a-half-fold in the last quarter (a second unit).
            for k in range(size * (1 if i or day < 100 else 3) if i else (2 if day < 100 else 5)):
                give(pid, "FEN-ICU", day, k, float(rng.randint(8, 14)))
    session.commit()
    run_all(session)
    alerts = _alerts(session)
    assert alerts["CMP-GP00"].severity in ("medium", "high", "critical")
    icu = {k: a for k, a in alerts.items() if k.startswith("CMP-ICU")}
    assert all(a.severity == "low" for a in icu.values()), {
        k: (a.severity, a.evidence.get("peer_group")) for k, a in icu.items()}
    for a in icu.values():
        assert "usa sobre todo FEN-ICU" in a.evidence["peer_group"]
