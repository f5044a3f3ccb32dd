"""Waste share, self-witnessed and unwitnessed waste, loss reports and repeated losses."""

from __future__ import annotations

import datetime as dt
import random

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from tests.detect_factory import FENT_AMP, base_products, days, est, mv

T0 = dt.datetime(2025, 2, 3, 15)


def _by_subject(session, detector):
    return {a.subject_id: a for a in session.query(Alert).filter_by(detector=detector)}


def _nurse(session, nid, given, n=50, birth_year=1970, witness=None, unwitnessed=0,
           self_witnessed=0, hospital="H1"):
    for j in range(n):
        at = days(T0, j * 3)
        mv(session, "administer", hospital, FENT_AMP, given, at, patient_id=f"PSN:{nid}{j}",
           professional_id=nid, patient_birth_year=birth_year)
        w = None if j < unwitnessed else (witness or "CEP-WIT")
        if unwitnessed <= j < unwitnessed + self_witnessed:
            w = nid
        mv(session, "waste", hospital, FENT_AMP, round(1 - given, 3), at, professional_id=nid,
           witness_id=w)


def test_waste_share_against_colleagues_and_pediatric_band(session):
    rng = random.Random(11)
    base_products(session)
    est(session, "H1", "hospital")
    for i in range(10):
        _nurse(session, f"CEP-A{i}", round(rng.uniform(0.55, 0.65), 2))
    for i in range(9):  # pediatric anaesthesia wastes most of each ampoule, legitimately
        _nurse(session, f"CEP-P{i}", round(rng.uniform(0.08, 0.14), 2), birth_year=2021)
    _nurse(session, "CEP-PEDX", 0.1, birth_year=2020)  # look-alike
    _nurse(session, "CEP-DIV", 0.2)  # adult patients, 80 % wasted
    session.commit()
    run_all(session)
    alerts = _by_subject(session, "waste_share")
    assert set(alerts) == {"CEP-DIV"}
    ev = alerts["CEP-DIV"].evidence
    assert abs(ev["observed"] - 0.8) < 1e-6 and ev["expected"] < 0.5
    assert ev["peers"] == 10 and ev["pediatric_band"] is False
    assert ev["percentile"] == 100.0 and ev["excess_units"] > 15


def test_waste_without_independent_witness_against_colleagues(session):
    base_products(session)
    est(session, "H1", "hospital")
    for i in range(8):
        _nurse(session, f"CEP-OK{i}", 0.6, n=30)
    _nurse(session, "CEP-SELF", 0.6, n=30, self_witnessed=12)
    _nurse(session, "CEP-UNW", 0.6, n=30, unwitnessed=10)
    _nurse(session, "CEP-ONCE", 0.6, n=30, unwitnessed=1)  # one clerical slip: not flagged
    _nurse(session, "CEP-SELF1", 0.6, n=30, self_witnessed=1)  # one self-signed waste: not flagged
    session.commit()
    run_all(session)
    unw = _by_subject(session, "waste_unwitnessed")
    assert set(unw) == {"CEP-UNW", "CEP-SELF"}
    assert unw["CEP-UNW"].evidence["observed"] == 10
    assert unw["CEP-SELF"].evidence["self_witnessed"] == 12
    assert all(a.evidence["p_value"] < 1e-3 for a in unw.values())
    assert session.query(Alert).count() == 2  # no per-occurrence alerts


def test_a_ward_habit_of_self_witnessing_is_not_a_finding(session):
    """Quirk: at some hospitals every nurse signs as her own witness (a workaround, not theft)."""
    base_products(session)
    est(session, "H1", "hospital")
    est(session, "H2", "hospital")
    for i in range(8):
        _nurse(session, f"CEP-OK{i}", 0.6, n=30)
    for i in range(6):  # the whole ward at H2 self-witnesses most waste
        _nurse(session, f"CEP-H2{i}", 0.6, n=30, self_witnessed=20 + i, hospital="H2")
    _nurse(session, "CEP-NIGHT", 0.6, n=30, unwitnessed=2)
    session.commit()
    run_all(session)
    assert _by_subject(session, "waste_unwitnessed") == {}


def test_every_loss_is_reported_and_repeated_losses_scaled_by_throughput(session):
    base_products(session)
    est(session, "SMALL")
    est(session, "BIG", "hospital")
    for j in range(10):
        mv(session, "dispense", "SMALL", FENT_AMP, 10, days(T0, 10 * j), patient_id=f"PSN:s{j}",
           prescriber_id="CMP-1", prescription_id=f"R{j}")
        mv(session, "administer", "BIG", FENT_AMP, 10000, days(T0, 10 * j), patient_id=f"PSN:b{j}")
    for j in range(3):
        mv(session, "loss", "SMALL", FENT_AMP, 5, days(T0, 20 * j + 1))
    for j in range(2):  # two breakages over 100 000 units: what a big hospital expects
        mv(session, "loss", "BIG", FENT_AMP, 1, days(T0, 30 * j + 2))
    session.commit()
    run_all(session)
    reports = session.query(Alert).filter_by(detector="loss_report").all()
    # One open alert per establishment; each loss is an occurrence with its own window.
    assert len(reports) == 2
    assert {a.subject_id: a.evidence["occurrence_count"] for a in reports} == {"SMALL": 3, "BIG": 2}
    # Five units of fentanyl reach the police; a one-ampoule breakage stays low and regional.
    assert all("PNP-DIRANDRO" in a.routed_to for a in reports if a.subject_id == "SMALL")
    assert all(a.severity == "low" and "PNP-DIRANDRO" not in a.routed_to
               for a in reports if a.subject_id == "BIG")
    repeated = _by_subject(session, "repeated_loss")
    assert set(repeated) == {"SMALL"}
    ev = repeated["SMALL"].evidence
    assert ev["observed"] == 3 and ev["expected"] < 0.1 and ev["units_lost"] == 15


def _shift_nurse(session, rng, nid, given, n, hospital, start=0, every=2, birth_year=1970):
    """A nurse with ``n`` shifts, one dose a shift drawn from ``given`` (lo, hi) ampoules."""
    for j in range(n):
        at = days(T0, start + j * every) + dt.timedelta(hours=rng.randint(0, 8))
        dose = round(rng.uniform(*given), 2)
        mv(session, "administer", hospital, FENT_AMP, dose, at, patient_id=f"PSN:{nid}{j}",
           professional_id=nid, patient_birth_year=birth_year)
        mv(session, "waste", hospital, FENT_AMP, round(1 - dose, 2), at + dt.timedelta(minutes=20),
           professional_id=nid, witness_id="CEP-WIT")


def test_waste_share_of_a_low_volume_nurse_against_her_own_ward(session):
    """Pattern: a nurse with few shifts wastes twice her ward's share for three months. Across
    the country she is unremarkable (other hospitals' wards waste more by habit, with bigger
    ampoules for small doses), so only her own colleagues, day by day, show it. Look-alikes: a
    colleague of that high-waste ward with as few shifts, a ward nurse with one dropped ampoule,
    and a nurse of the same ward caring for children."""
    rng = random.Random(5)
    base_products(session)
    # Wards waste 20 %, 30 %, 45 % and 60 % of each ampoule by habit (ampoule sizes, doses).
    for h, given in (("H1", (0.7, 0.9)), ("H2", (0.3, 0.5)), ("H3", (0.6, 0.8)), ("H4", (0.45, 0.65))):
        est(session, h, "hospital")
        for i in range(6):
            _shift_nurse(session, rng, f"CEP-{h}{i}", given, 120, h)
    _shift_nurse(session, rng, "CEP-DIV", (0.7, 0.9), 20, "H1", start=0, every=6)
    _shift_nurse(session, rng, "CEP-DIV", (0.4, 0.55), 16, "H1", start=150, every=6)
    _shift_nurse(session, rng, "CEP-BLOW", (0.3, 0.5), 20, "H2", every=14)  # look-alike
    _shift_nurse(session, rng, "CEP-DROP", (0.7, 0.9), 20, "H1", every=14)  # look-alike
    mv(session, "administer", "H1", FENT_AMP, 1, days(T0, 100), patient_id="PSN:DROP",
       professional_id="CEP-DROP")
    mv(session, "waste", "H1", FENT_AMP, 1, days(T0, 100), professional_id="CEP-DROP",
       witness_id="CEP-WIT")  # a dropped ampoule, replaced
    _shift_nurse(session, rng, "CEP-KIDS", (0.05, 0.2), 20, "H1", every=14, birth_year=2021)
    session.commit()
    run_all(session)
    alerts = _by_subject(session, "waste_share")
    assert set(alerts) == {"CEP-DIV"}
    ev = alerts["CEP-DIV"].evidence
    assert ev["metric"].startswith("daily waste share vs colleagues of the same establishment")
    assert ev["peers"] == 7 and ev["excess_units"] >= 3 and ev["p_value"] < 1e-4
    assert ev["expected"] < 0.3 < ev["observed"]


def test_exact_tail_of_a_sum_of_lumpy_days():
    """Quirk: waste is lumpy (mostly a small residue, now and then a whole ampoule), so the tail
    of a sum of days is taken exactly from the colleagues' days, not from a normal curve."""
    import numpy as np
    from scipy import stats

    from centinela.detect.detectors.waste import _sum_sf

    days_ = np.array([0.0] * 90 + [1.0] * 10)  # 1 day in 10 a whole ampoule is wasted
    assert abs(_sum_sf([(days_, 20)], 6) - stats.binom(20, 0.1).sf(5)) < 1e-9
    assert abs(_sum_sf([(days_, 12), (days_, 8)], 6) - stats.binom(20, 0.1).sf(5)) < 1e-9
    normal = stats.norm.sf((6 - 2) / np.sqrt(20 * 0.09))
    assert _sum_sf([(days_, 20)], 6) > normal  # the normal tail is too thin here
