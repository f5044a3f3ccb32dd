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
