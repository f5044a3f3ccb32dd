"""prescriber_scope: opioids dispensed on the prescription of someone whose profession does not
prescribe them (a dentist's fentanyl patches, a nurse's number on a prescription), beside the
look-alikes: a dentist's three days of tramadol after an extraction, a physician of any
specialty, and a single slip."""

from __future__ import annotations

import datetime as dt

from centinela.alerts.models import Alert
from centinela.detect.detectors.scope import scope_of
from centinela.detect.engine import run_all
from centinela.registry.models import Product
from tests.detect_factory import FENT_PATCH, MORPH_TAB, base_products, days, est, mv, prof

T0 = dt.datetime(2025, 3, 3, 16, 0)
TRAMADOL = "TRA-50"


def _alerts(session):
    return {a.subject_id: a for a in session.query(Alert).filter_by(detector="prescriber_scope")}


def _world(session) -> None:
    base_products(session)
    session.add(Product(product_code=TRAMADOL, name="Tramadol 50 mg", substance="tramadol",
                        dosage_form="tablet", strength_mg_per_unit=50))
    for e in range(3):
        est(session, f"PH-{e}")
    # Physicians of every kind prescribing patches and morphine: never judged here.
    for d, spec in enumerate(["general_medicine", "dermatology", "oncology", None]):
        pid = prof(session, f"CMP-{d:03d}", specialty=spec)
        for k in range(6):
            mv(session, "dispense", f"PH-{k % 3}", FENT_PATCH, 10, days(T0, 5 * k + d),
               prescriber_id=pid, patient_id=f"PSN:C{d}{k}", days_supply=30)
    # A dentist after extractions: tramadol for three days, many patients (look-alike).
    prof(session, "COP-00100", specialty="dentistry")
    for k in range(25):
        mv(session, "dispense", f"PH-{k % 3}", TRAMADOL, 9, days(T0, 2 * k),
           prescriber_id="COP-00100", patient_id=f"PSN:T{k:02d}", days_supply=3)
    session.flush()


def test_a_dentist_prescribing_fentanyl_patches_is_flagged_and_the_look_alikes_are_not(session):
    _world(session)
    # The plant: a dentist whose prescriptions buy 75-mcg/h-class patch supplies every week.
    prof(session, "COP-00777", specialty=None)
    for k in range(12):
        mv(session, "dispense", f"PH-{k % 3}", FENT_PATCH, 10, days(T0, 7 * k),
           prescriber_id="COP-00777", patient_id=f"PSN:D{k % 4}", days_supply=30)
    session.flush()
    run_all(session, only=["prescriber_scope"])
    found = _alerts(session)
    assert set(found) == {"COP-00777"}
    a = found["COP-00777"]
    assert a.severity in ("medium", "high", "critical")
    ev = a.evidence
    assert ev["scope"] == "dental" and ev["dispenses"] == 12 and ev["patients"] == 4
    assert ev["reasons"]["patch"] == 12 and ev["max_patch_mcg_h"] == 25
    assert "odontólogo" in a.summary and "parches transdérmicos de hasta 25 mcg/h" in a.summary


def test_a_nurses_number_on_prescriptions_is_flagged_and_one_slip_is_a_low_notice(session):
    _world(session)
    prof(session, "CEP-55555", role="nurse")
    prof(session, "CQFP-0042", role="pharmacist")
    for k in range(5):
        mv(session, "dispense", "PH-1", MORPH_TAB, 20, days(T0, 3 * k),
           prescriber_id="CEP-55555", patient_id=f"PSN:N{k}", days_supply=5)
    mv(session, "dispense", "PH-2", MORPH_TAB, 10, days(T0, 4), prescriber_id="CQFP-0042",
       patient_id="PSN:Q1", days_supply=3)
    session.flush()
    run_all(session, only=["prescriber_scope"])
    found = _alerts(session)
    assert set(found) == {"CEP-55555", "CQFP-0042"}
    nurse, slip = found["CEP-55555"], found["CQFP-0042"]
    assert nurse.evidence["scope"] == "not_a_prescriber" and nurse.evidence["role"] == "nurse"
    assert nurse.severity != "low" and nurse.evidence["dispenses"] == 5
    assert slip.severity == "low" and slip.evidence["notice"] is True


def test_a_dentists_long_morphine_courses_are_weaker_than_patches(session):
    _world(session)
    prof(session, "COP-00888", specialty="odontologia")
    prof(session, "COP-00999")
    for k in range(6):
        mv(session, "dispense", "PH-0", MORPH_TAB, 60, days(T0, 10 * k),
           prescriber_id="COP-00888", patient_id=f"PSN:L{k}", days_supply=20)
        mv(session, "dispense", "PH-0", FENT_PATCH, 5, days(T0, 10 * k + 1),
           prescriber_id="COP-00999", patient_id=f"PSN:P{k}", days_supply=15)
    session.flush()
    run_all(session, only=["prescriber_scope"])
    found = _alerts(session)
    assert set(found) == {"COP-00888", "COP-00999"}
    assert found["COP-00888"].evidence["reasons"] == {
        "patch": 0, "restricted_opioid": 0, "long_course": 6}
    assert found["COP-00888"].score < found["COP-00999"].score


def test_scope_comes_from_the_registry_before_the_prefix():
    assert scope_of("prescriber", "CMP-1", "dentistry") == "dental"  # a registry specialty
    assert scope_of("prescriber", "CMP-1", "anesthesiology") is None
    assert scope_of("nurse", "CMP-1", None) == "not_a_prescriber"
    assert scope_of(None, "CEP-1", None) == "not_a_prescriber"
    assert scope_of("prescriber", "CEP-1", None) is None  # the registry says prescriber
    assert scope_of(None, "COB-7", None) == "midwifery"
    assert scope_of(None, "X-7", None) is None
