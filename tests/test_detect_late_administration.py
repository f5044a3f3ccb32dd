"""late_administration: a nurse recording doses for patients whose course, by every other
record, ended days before — beside an honest ward: late procedures now and then, one nurse
giving a patient's last days of doses without a pause, readmissions."""

from __future__ import annotations

import datetime as dt

import numpy as np

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from tests.detect_factory import FENT_AMP, base_products, est, mv, prof

T0 = dt.datetime(2025, 2, 3, 6, 0)  # UTC: 01:00 in Lima


def _alerts(session):
    return {a.subject_id: a for a in session.query(Alert).filter_by(detector="late_administration")}


def _ward(session, plant: bool, rng_seed: int = 7) -> None:
    rng = np.random.default_rng(rng_seed)
    base_products(session)
    est(session, "HOSP-1", kind="hospital")
    nurses = [prof(session, f"CEP-{i:02d}", role="nurse") for i in range(15)]
    prof(session, "CEP-X", role="nurse")
    prof(session, "CEP-L", role="nurse")
    staff = nurses + ["CEP-X"]
    for c in range(160):
        start = T0 + dt.timedelta(hours=int(rng.integers(0, 24 * 150)))
        n_doses = int(rng.integers(8, 20))  # every 6 h for 2–5 days
        last = start
        given_by = []
        for d in range(n_doses):
            at = start + dt.timedelta(hours=6 * d)
            shift = staff[int(rng.integers(len(staff)))]
            mv(session, "administer", "HOSP-1", FENT_AMP, 0.5, at, patient_id=f"PSN:{c:04d}",
               professional_id=shift)
            mv(session, "waste", "HOSP-1", FENT_AMP, 0.5, at + dt.timedelta(minutes=8),
               professional_id=shift, witness_id=staff[(staff.index(shift) + 1) % len(staff)])
            last, given_by = at, [*given_by, shift]
        if rng.random() < 0.05:  # an honest late procedure, by whoever is on shift
            mv(session, "administer", "HOSP-1", FENT_AMP, 1, last + dt.timedelta(days=3),
               patient_id=f"PSN:{c:04d}", professional_id=staff[int(rng.integers(len(staff)))])
        elif plant and "CEP-X" in given_by and rng.random() < 0.35:
            # The plant: one to three whole ampoules "given" 2–6 days after the course, at night.
            for j in range(int(rng.integers(1, 4))):
                night = (last + dt.timedelta(days=int(rng.integers(2, 7)))).replace(hour=7) \
                    + dt.timedelta(hours=j)  # 02:00–04:00 in Lima
                mv(session, "administer", "HOSP-1", FENT_AMP, 1, night,
                   patient_id=f"PSN:{c:04d}", professional_id="CEP-X")
    # Look-alike: a long-stay patient whose last three days are all one nurse's, without a pause.
    for d in range(24):
        who = "CEP-L" if d >= 12 else staff[d % len(staff)]
        mv(session, "administer", "HOSP-1", FENT_AMP, 0.5, T0 + dt.timedelta(days=40, hours=6 * d),
           patient_id="PSN:LONG", professional_id=who)
    session.flush()


def test_a_nurse_charging_doses_after_the_course_is_flagged(session):
    _ward(session, plant=True)
    run_all(session, only=["late_administration"], now=T0 + dt.timedelta(days=170))
    found = _alerts(session)
    assert set(found) == {"CEP-X"}
    ev = found["CEP-X"].evidence
    assert ev["late_courses"] >= 4 and ev["observed"] > 3 * ev["expected"]
    assert ev["night_doses"] == ev["late_doses"] and ev["without_residue"] == ev["late_doses"]
    assert found["CEP-X"].severity in ("medium", "high", "critical")


def test_an_honest_ward_with_late_procedures_and_one_nurse_tails_is_quiet(session):
    _ward(session, plant=False)
    run_all(session, only=["late_administration"], now=T0 + dt.timedelta(days=170))
    assert _alerts(session) == {}
